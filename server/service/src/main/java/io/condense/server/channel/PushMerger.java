package io.condense.server.channel;

import static java.util.Objects.requireNonNull;

import io.condense.proto.v1.ChannelPolicy;
import io.condense.proto.v1.events.BusEvent;
import io.condense.proto.v1.events.CancelRequested;
import io.condense.proto.v1.events.ChannelPush;
import io.condense.proto.v1.events.ChannelState;
import io.condense.proto.v1.events.ChannelVersionRef;
import io.condense.proto.v1.events.JobCancelled;
import io.condense.proto.v1.events.JobFailed;
import io.condense.proto.v1.events.JobSpec;
import io.condense.proto.v1.events.JobSubmitted;
import io.condense.proto.v1.events.StepRequested;
import io.condense.sdk.error.CondenseException;
import io.condense.sdk.error.ErrorCode;
import io.condense.sdk.model.OnnxModel;
import io.condense.sdk.tensor.Tensor;
import io.condense.sdk.weights.WeightsFile;
import io.condense.sdk.weights.WeightsMerge;
import io.condense.server.blob.BlobId;
import io.condense.server.blob.BlobStore;
import io.condense.server.bus.Events;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Turns an acknowledged push into its version: merges the stored update into the channel's newest weights, stores the
 * result and decides the version's records ({@link SequencedVersion}). With latest-wins, a version whose channel already
 * has a newer push acknowledged is merged (later deltas build on it) but not compressed: it is SUPERSEDED at once, and a
 * version that is compressed cancels the versions still queued. A merge that fails for good makes the version FAILED with
 * the reason; a retriable failure (the blob store away) is thrown, so the push is merged again later.
 */
final class PushMerger {
    private static final Logger log = LoggerFactory.getLogger(PushMerger.class);
    /** The technique named in the error of a version whose update could not be merged. */
    static final String MERGE = "merge";
    /** Models up to this size stay parsed between pushes. */
    private static final long CACHED_MODEL_BYTES = 64L << 20;

    private final BlobStore blobs;
    private final ChannelView channels;
    /** Per channel id, its newest weights as a parsed model (by blob id), so the next merge does not parse them again. */
    private final ConcurrentMap<String, Map.Entry<String, OnnxModel>> latestModels = new ConcurrentHashMap<>();

    PushMerger(BlobStore blobs, ChannelView channels) {
        this.blobs = requireNonNull(blobs, "blobs is null");
        this.channels = requireNonNull(channels, "channels is null");
    }

    /** The version of an acknowledged push; empty when its channel was deleted since (nothing to write). */
    Optional<SequencedVersion> sequence(ChannelPush push) {
        latestModels.keySet().removeIf(channelId -> !channels.hasChannel(channelId));
        ChannelState state = channels.anyState(push.getChannel()).orElse(null);
        if (state == null || !state.getChannelId().equals(push.getChannelId())) {
            log.info("Push of version {} to channel {} dropped: the channel was deleted", push.getVersion(), push.getChannel());
            return Optional.empty();
        }
        long version = push.getVersion();
        if (version <= state.getLatestVersion()) {
            // two API instances numbered pushes of this channel at the same moment: nothing acknowledged is lost, the later one moves up
            log.warn("Channel {}: version {} was given twice; the second push becomes version {}", push.getChannel(), version, state.getLatestVersion() + 1);
            version = state.getLatestVersion() + 1;
        }
        String jobId = jobId(state.getChannelId(), version);
        String weightsId = state.getLatestWeightsModelId();
        CondenseException refused = null;
        try {
            weightsId = merge(state, push).hex();
        } catch (CondenseException e) {
            if (e.retriable()) {
                throw e;
            }
            refused = e;
        } catch (RuntimeException e) {
            // a fault of this code must not stop the channel's sequencing: the version fails with it
            refused = new CondenseException(ErrorCode.INTERNAL_ERROR, "merging the update failed: " + e, e);
        }
        JobSpec spec = JobSpec.newBuilder()
                .setModelId(weightsId)
                .addAllSteps(state.getStepsList())
                .setEvaluationDataId(state.getEvaluationDataId())
                .setEvaluationLabelsId(state.getEvaluationLabelsId())
                .setCalibrationDataId(state.getCalibrationDataId())
                .setSubmittedAtMs(System.currentTimeMillis())
                .setTenant(state.getTenant())
                .setChannelVersion(ChannelVersionRef.newBuilder()
                        .setChannelId(state.getChannelId())
                        .setChannel(push.getChannel())
                        .setVersion(version)
                        .setStep(push.getStep())
                        .addAllTensors(push.getTensorsList())
                        .setPushedAtMs(push.getPushedAtMs())
                        .setGate(state.getGate()))
                .build();
        ChannelState next = state.toBuilder().setLatestVersion(version).setLatestWeightsModelId(weightsId).build();
        BusEvent submitted = Events.event(jobId).setJobSubmitted(JobSubmitted.newBuilder().setSpec(spec)).build();
        boolean latestWins = state.getPolicy() != ChannelPolicy.CHANNEL_POLICY_EVERY;
        long newest = channels.newestVersion(state);
        List<BusEvent> after = new ArrayList<>();
        if (refused != null) {
            log.warn("Channel {} version {} failed: its update could not be merged: {}", push.getChannel(), version, refused.getMessage());
            after.add(Events.event(jobId).setJobFailed(JobFailed.newBuilder().setError(Events.error(0, MERGE, refused))).build());
            return Optional.of(new SequencedVersion(push.getChannel(), next, submitted, Optional.empty(), after));
        }
        if (latestWins && newest > version) {
            String reason = ChannelView.SUPERSEDED_BY + newest;
            after.add(Events.event(jobId).setCancelRequested(CancelRequested.newBuilder().setReason(reason)).build());
            after.add(Events.event(jobId).setJobCancelled(JobCancelled.newBuilder().setReason(reason)).build());
            return Optional.of(new SequencedVersion(push.getChannel(), next, submitted, Optional.empty(), after));
        }
        if (latestWins) {
            for (String waitingJob : channels.queuedJobs(state.getChannelId())) {
                after.add(Events.event(waitingJob).setCancelRequested(CancelRequested.newBuilder().setReason(ChannelView.SUPERSEDED_BY + version)).build());
            }
        }
        StepRequested firstStep = StepRequested.newBuilder().setJobId(jobId).setSpec(spec).setStepIndex(0).setInputModelId(weightsId).build();
        return Optional.of(new SequencedVersion(push.getChannel(), next, submitted, Optional.of(firstStep), after));
    }

    /** A version's job id: derived from channel id and version, so a version is never queued as two jobs. */
    static String jobId(String channelId, long version) {
        return UUID.nameUUIDFromBytes(("condense-channel:" + channelId + ":" + version).getBytes(StandardCharsets.UTF_8)).toString();
    }

    /** The update merged into the channel's newest weights, stored and granted to the channel's tenant. */
    private BlobId merge(ChannelState state, ChannelPush push) {
        Map<String, Tensor> update = WeightsFile.read(blobs.read(BlobId.of(push.getUpdateId())), ChannelWriter.format(push.getFormat()),
                "the update pushed to channel '" + push.getChannel() + "' as version " + push.getVersion());
        OnnxModel merged = WeightsMerge.merge(latestModel(state), update);
        byte[] bytes = merged.toBytes();
        BlobId id = blobs.put(bytes);
        blobs.grant(state.getTenant(), id);
        if (bytes.length <= CACHED_MODEL_BYTES) {
            latestModels.put(state.getChannelId(), Map.entry(id.hex(), merged));
        }
        return id;
    }

    /** The channel's newest weights: parsed by the merge before when it was this instance's, else read from their blob. */
    private OnnxModel latestModel(ChannelState state) {
        Map.Entry<String, OnnxModel> cached = latestModels.get(state.getChannelId());
        if (cached != null && cached.getKey().equals(state.getLatestWeightsModelId())) {
            return cached.getValue();
        }
        return OnnxModel.fromBytes(blobs.read(BlobId.of(state.getLatestWeightsModelId())));
    }
}
