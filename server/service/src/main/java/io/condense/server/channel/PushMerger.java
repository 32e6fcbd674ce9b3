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
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Turns a batch of acknowledged pushes, in the order of the pushes topic, into their versions: merges each stored update
 * into its channel's newest weights, stores the result and decides the versions' records ({@link SequencedVersion}).
 * With latest-wins, a version whose channel already has a newer push acknowledged is not compressed: it is SUPERSEDED at
 * once, and its update is kept in memory and merged with the next (so a batch of pushes to one channel costs one merge,
 * one serialisation and one blob write, for its last version); a version that is compressed cancels the versions still
 * queued. With {@code --policy every} each version's weights are stored and compressed. An update that cannot be read back
 * makes its version FAILED with the reason; a retriable failure (the blob store away) is thrown, so the batch is merged
 * again later.
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

    /** One channel's part of a batch: its state as the batch leaves it, and updates of superseded versions not merged yet. */
    private static final class ChannelBatch {
        private ChannelState state;
        private final Map<String, Tensor> unmerged = new LinkedHashMap<>();
        private int remaining;

        ChannelBatch(ChannelState state) {
            this.state = state;
        }
    }

    /** The versions of a batch of acknowledged pushes, in order; pushes to channels deleted since have none. */
    List<SequencedVersion> sequence(List<ChannelPush> pushes) {
        latestModels.keySet().removeIf(channelId -> !channels.hasChannel(channelId));
        Map<String, ChannelBatch> batches = new HashMap<>();
        for (ChannelPush push : pushes) {
            ChannelState state = channels.anyState(push.getChannel()).orElse(null);
            if (state != null && state.getChannelId().equals(push.getChannelId())) {
                batches.computeIfAbsent(push.getChannelId(), id -> new ChannelBatch(state)).remaining++;
            }
        }
        List<SequencedVersion> versions = new ArrayList<>();
        for (ChannelPush push : pushes) {
            ChannelBatch batch = batches.get(push.getChannelId());
            if (batch == null) {
                log.info("Push of version {} to channel {} dropped: the channel was deleted", push.getVersion(), push.getChannel());
                continue;
            }
            batch.remaining--;
            versions.add(version(batch, push));
        }
        return versions;
    }

    private SequencedVersion version(ChannelBatch batch, ChannelPush push) {
        long version = push.getVersion();
        if (version <= batch.state.getLatestVersion()) {
            // two API instances numbered pushes of this channel at the same moment: nothing acknowledged is lost, the later one moves up
            log.warn("Channel {}: version {} was given twice; the second push becomes version {}", push.getChannel(), version,
                    batch.state.getLatestVersion() + 1);
            version = batch.state.getLatestVersion() + 1;
        }
        batch.state = batch.state.toBuilder().setLatestVersion(version).build();
        boolean last = batch.remaining == 0;
        boolean latestWins = batch.state.getPolicy() != ChannelPolicy.CHANNEL_POLICY_EVERY;
        boolean supersededAtOnce = latestWins && (!last || channels.newestVersion(batch.state) > version);
        String jobId = jobId(batch.state.getChannelId(), version);
        String weightsId = batch.state.getLatestWeightsModelId();
        CondenseException refused = attempt(() -> batch.unmerged.putAll(readUpdate(push)));
        if ((last || !supersededAtOnce) && !batch.unmerged.isEmpty()) {
            CondenseException mergeRefused = attempt(() -> merge(batch));
            if (mergeRefused != null) {
                batch.unmerged.clear(); // they would fail every later merge of the channel
                refused = refused == null ? mergeRefused : refused;
            } else {
                weightsId = batch.state.getLatestWeightsModelId();
            }
        } else if (refused == null && supersededAtOnce) {
            weightsId = ""; // not stored: merged with the next version
        }
        JobSpec spec = spec(batch.state, push, version, weightsId);
        BusEvent submitted = Events.event(jobId).setJobSubmitted(JobSubmitted.newBuilder().setSpec(spec)).build();
        Optional<ChannelState> state = last ? Optional.of(batch.state) : Optional.empty();
        List<BusEvent> after = new ArrayList<>();
        if (refused != null) {
            log.warn("Channel {} version {} failed: its update could not be merged: {}", push.getChannel(), version, refused.getMessage());
            after.add(Events.event(jobId).setJobFailed(JobFailed.newBuilder().setError(Events.error(0, MERGE, refused))).build());
            return new SequencedVersion(push.getChannel(), version, state, submitted, Optional.empty(), after);
        }
        if (supersededAtOnce) {
            String reason = ChannelView.SUPERSEDED_BY + Math.max(channels.newestVersion(batch.state), version + batch.remaining);
            after.add(Events.event(jobId).setCancelRequested(CancelRequested.newBuilder().setReason(reason)).build());
            after.add(Events.event(jobId).setJobCancelled(JobCancelled.newBuilder().setReason(reason)).build());
            return new SequencedVersion(push.getChannel(), version, state, submitted, Optional.empty(), after);
        }
        if (latestWins) {
            for (String waitingJob : channels.queuedJobs(batch.state.getChannelId())) {
                after.add(Events.event(waitingJob).setCancelRequested(CancelRequested.newBuilder().setReason(ChannelView.SUPERSEDED_BY + version)).build());
            }
        }
        StepRequested firstStep = StepRequested.newBuilder().setJobId(jobId).setSpec(spec).setStepIndex(0).setInputModelId(weightsId).build();
        return new SequencedVersion(push.getChannel(), version, state, submitted, Optional.of(firstStep), after);
    }

    /** A version's job: the channel's pipeline, data and gate on its merged weights (none for a version superseded before it was merged). */
    private static JobSpec spec(ChannelState state, ChannelPush push, long version, String weightsId) {
        return JobSpec.newBuilder()
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
    }

    /** A version's job id: derived from channel id and version, so a version is never queued as two jobs. */
    static String jobId(String channelId, long version) {
        return UUID.nameUUIDFromBytes(("condense-channel:" + channelId + ":" + version).getBytes(StandardCharsets.UTF_8)).toString();
    }

    /** Runs a part of the merge: null when it worked, the reason when it failed for good; a retriable failure is thrown (the batch is tried again). */
    private static CondenseException attempt(Runnable part) {
        try {
            part.run();
            return null;
        } catch (CondenseException e) {
            if (e.retriable()) {
                throw e;
            }
            return e;
        } catch (RuntimeException e) {
            // a fault of this code must not stop the channel's sequencing: the version fails with it
            return new CondenseException(ErrorCode.INTERNAL_ERROR, "merging the update failed: " + e, e);
        }
    }

    private Map<String, Tensor> readUpdate(ChannelPush push) {
        return WeightsFile.read(blobs.read(BlobId.of(push.getUpdateId())), ChannelWriter.format(push.getFormat()),
                "the update pushed to channel '" + push.getChannel() + "' as version " + push.getVersion());
    }

    /** The updates not merged yet merged into the channel's newest weights, stored and granted to the channel's tenant; the batch's state names them. */
    private void merge(ChannelBatch batch) {
        ChannelState state = batch.state;
        OnnxModel merged = WeightsMerge.merge(latestModel(state), batch.unmerged);
        BlobId id = blobs.put(merged::writeTo);
        blobs.grant(state.getTenant(), id);
        if (merged.serializedSize() <= CACHED_MODEL_BYTES) {
            latestModels.put(state.getChannelId(), Map.entry(id.hex(), merged));
        }
        batch.unmerged.clear();
        batch.state = state.toBuilder().setLatestWeightsModelId(id.hex()).build();
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
