package io.condense.server.channel;

import io.condense.proto.v1.ChannelVersion;
import io.condense.proto.v1.JobError;
import io.condense.proto.v1.VersionState;
import io.condense.proto.v1.events.ChannelPush;
import io.condense.proto.v1.events.ChannelVersionRef;
import io.condense.proto.v1.events.JobCompleted;

/**
 * One version of a channel as the view knows it: acknowledged (from its push, QUEUED without a job until the channel's
 * sequencer has merged it), then built from its job's events. Guarded by the channel's {@link ChannelVersions}.
 */
final class VersionEntry {
    private final ChannelVersion.Builder version;
    private String supersededBy;

    VersionEntry(ChannelVersionRef ref, String jobId, String weightsModelId) {
        this.version = ChannelVersion.newBuilder()
                .setChannel(ref.getChannel())
                .setVersion(ref.getVersion())
                .setState(VersionState.VERSION_STATE_QUEUED)
                .setStep(ref.getStep())
                .setJobId(jobId)
                .setWeightsModelId(weightsModelId)
                .setPushedAtMs(ref.getPushedAtMs())
                .addAllTensors(ref.getTensorsList());
    }

    /** A version acknowledged and not merged yet: queued, without a job. */
    static VersionEntry pushed(ChannelPush push) {
        return new VersionEntry(ChannelVersionRef.newBuilder().setChannelId(push.getChannelId()).setChannel(push.getChannel())
                .setVersion(push.getVersion()).setStep(push.getStep()).addAllTensors(push.getTensorsList())
                .setPushedAtMs(push.getPushedAtMs()).build(), "", "");
    }

    boolean hasJob() {
        return !version.getJobId().isEmpty();
    }

    /** The version's job, once its push was merged. */
    void attach(String jobId, String weightsModelId) {
        version.setJobId(jobId).setWeightsModelId(weightsModelId);
    }

    long number() {
        return version.getVersion();
    }

    VersionState state() {
        return version.getState();
    }

    boolean isFinal() {
        return isFinal(version.getState());
    }

    static boolean isFinal(VersionState state) {
        return state == VersionState.VERSION_STATE_COMPRESSED || state == VersionState.VERSION_STATE_REJECTED
                || state == VersionState.VERSION_STATE_SUPERSEDED || state == VersionState.VERSION_STATE_FAILED;
    }

    long pushedAtMs() {
        return version.getPushedAtMs();
    }

    long finishedAtMs() {
        return version.getFinishedAtMs();
    }

    void running() {
        if (version.getState() == VersionState.VERSION_STATE_QUEUED) {
            version.setState(VersionState.VERSION_STATE_RUNNING);
        }
    }

    /** A newer version asked this one to stop while it waited; its cancellation then means SUPERSEDED. */
    void supersede(String reason) {
        supersededBy = reason;
    }

    void completed(JobCompleted completed, Gate.Verdict verdict, long timeMs) {
        version.setResultModelId(completed.getResultModelId()).setReportId(completed.getReportId()).setReport(completed.getReport())
                .putAllFigures(verdict.figures()).setFinishedAtMs(timeMs)
                .setState(verdict.passed() ? VersionState.VERSION_STATE_COMPRESSED : VersionState.VERSION_STATE_REJECTED)
                .setReason(verdict.reason());
    }

    void failed(JobError error, long timeMs) {
        version.setState(VersionState.VERSION_STATE_FAILED).setError(error).setFinishedAtMs(timeMs)
                .setReason("step " + error.getStep() + " (" + error.getTechnique() + ") failed: " + error.getCode() + ": " + error.getMessage());
    }

    void cancelled(String reason, long timeMs) {
        version.setFinishedAtMs(timeMs);
        if (supersededBy != null) {
            version.setState(VersionState.VERSION_STATE_SUPERSEDED).setReason(supersededBy);
        } else {
            version.setState(VersionState.VERSION_STATE_FAILED).setReason("the version's job was cancelled: " + reason);
        }
    }

    ChannelVersion snapshot() {
        return version.build();
    }
}
