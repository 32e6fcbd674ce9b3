package io.condense.server.channel;

import static java.util.Objects.requireNonNull;

import io.condense.proto.v1.ChannelPolicy;
import io.condense.proto.v1.CreateChannelRequest;
import io.condense.proto.v1.PushHeader;
import io.condense.proto.v1.PushResult;
import io.condense.proto.v1.WeightsFormat;
import io.condense.proto.v1.events.BusEvent;
import io.condense.proto.v1.events.CancelRequested;
import io.condense.proto.v1.events.ChannelState;
import io.condense.proto.v1.events.ChannelVersionRef;
import io.condense.proto.v1.events.JobSpec;
import io.condense.proto.v1.events.JobSubmitted;
import io.condense.proto.v1.events.StepRequested;
import io.condense.sdk.error.CondenseException;
import io.condense.sdk.error.ErrorCode;
import io.condense.sdk.model.OnnxModel;
import io.condense.sdk.tensor.Tensor;
import io.condense.sdk.weights.WeightsFile;
import io.condense.sdk.weights.WeightsMerge;
import io.condense.server.api.PipelineValidator;
import io.condense.server.blob.BlobId;
import io.condense.server.blob.BlobStore;
import io.condense.server.bus.Events;
import io.condense.server.bus.EventsSync;
import io.condense.server.bus.Topics;
import io.condense.server.job.JobView;
import io.condense.server.security.Tenants;
import io.grpc.Status;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentMap;
import java.util.regex.Pattern;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Decides and writes what changes a channel: its creation, a push (the merged weights stored as a model blob, the next
 * version number, the version's job and its first step, and the cancellation of the versions it supersedes, all in one
 * Kafka transaction with the channel's new state), its deletion. Pushes to one channel are serialised on this instance
 * and read the topics to their end first, so version numbers follow each other and the versions a push supersedes are
 * those still waiting.
 *
 * <p>A push's fixed cost is kept low (issue 13): the update is read before the channel's lock, and while the topics are
 * read to their end the update is merged into the newest weights this instance knows and stored; that merge is kept when
 * the channels topic confirms those weights are still the newest (else it is made again on the newest).
 */
public final class ChannelWriter {
    private static final Logger log = LoggerFactory.getLogger(ChannelWriter.class);
    private static final Pattern NAME = Pattern.compile("[A-Za-z0-9._-]{1,100}");
    private static final Duration SYNC_TIMEOUT = Duration.ofSeconds(10);

    /** Writes records in one transaction ({@code SubmitPublisher#publishAll}). */
    @FunctionalInterface
    public interface RecordPublisher {
        void publish(List<ProducerRecord<String, byte[]>> records);
    }

    private final BlobStore blobs;
    private final PipelineValidator validator;
    private final ChannelView channels;
    private final JobView jobs;
    private final EventsSync eventsSync;
    private final RecordPublisher publisher;
    private final ConcurrentMap<String, Object> locks = new ConcurrentHashMap<>();
    /** Per channel id, its newest weights as a parsed model (by blob id), so a push does not parse them again; small models only. */
    private final ConcurrentMap<String, Map.Entry<String, OnnxModel>> latestModels = new ConcurrentHashMap<>();
    /** Models up to this size stay parsed between pushes. */
    private static final long CACHED_MODEL_BYTES = 64L << 20;

    public ChannelWriter(BlobStore blobs, PipelineValidator validator, ChannelView channels, JobView jobs, EventsSync eventsSync,
            RecordPublisher publisher) {
        this.blobs = requireNonNull(blobs, "blobs is null");
        this.validator = requireNonNull(validator, "validator is null");
        this.channels = requireNonNull(channels, "channels is null");
        this.jobs = requireNonNull(jobs, "jobs is null");
        this.eventsSync = requireNonNull(eventsSync, "eventsSync is null");
        this.publisher = requireNonNull(publisher, "publisher is null");
    }

    /** The update merged into a version's weights and stored. */
    private record Merged(String baseWeightsId, OnnxModel model, byte[] bytes, BlobId id) {
    }

    public ChannelState create(CreateChannelRequest request) {
        String name = request.getName();
        if (!NAME.matcher(name).matches()) {
            throw new CondenseException(ErrorCode.INVALID_PARAMETER, "channel name '" + name
                    + "' is not 1 to 100 letters, digits, '.', '_' or '-'");
        }
        BlobId model = requireBlob(request.getModelId(), "model_id");
        OnnxModel base = OnnxModel.fromBytes(blobs.read(model));
        if (base.initializers().isEmpty()) {
            throw new CondenseException(ErrorCode.INVALID_MODEL, "the base model has no initializers: there are no weights to push into it");
        }
        validator.resolve(request.getStepsList());
        if (!request.getEvaluationDataId().isEmpty()) {
            requireBlob(request.getEvaluationDataId(), "evaluation_data_id");
        }
        if (!request.getEvaluationLabelsId().isEmpty()) {
            requireBlob(request.getEvaluationLabelsId(), "evaluation_labels_id");
        }
        if (!request.getCalibrationDataId().isEmpty()) {
            requireBlob(request.getCalibrationDataId(), "calibration_data_id");
        }
        Gate gate = Gate.parse(request.getGate());
        if (gate.needsLabels() && (request.getEvaluationDataId().isEmpty() || request.getEvaluationLabelsId().isEmpty())) {
            throw new CondenseException(ErrorCode.DATA_REQUIRED, "the gate '" + gate + "' needs accuracy, which needs evaluation data "
                    + "with labels: give --eval-data and --eval-labels (evaluation_data_id, evaluation_labels_id)");
        }
        ChannelState state = ChannelState.newBuilder()
                .setChannelId(UUID.randomUUID().toString())
                .setName(name)
                .setModelId(request.getModelId())
                .addAllSteps(request.getStepsList())
                .setEvaluationDataId(request.getEvaluationDataId())
                .setEvaluationLabelsId(request.getEvaluationLabelsId())
                .setCalibrationDataId(request.getCalibrationDataId())
                .setGate(gate.toString())
                .setPolicy(request.getPolicy() == ChannelPolicy.CHANNEL_POLICY_EVERY ? ChannelPolicy.CHANNEL_POLICY_EVERY
                        : ChannelPolicy.CHANNEL_POLICY_LATEST)
                .setTenant(Tenants.current())
                .setCreatedAtMs(System.currentTimeMillis())
                .setLatestWeightsModelId(request.getModelId())
                .build();
        return underLock(name, () -> {
            catchUpChannels();
            if (channels.exists(name)) {
                throw Status.ALREADY_EXISTS.withDescription("a channel named '" + name + "' exists; delete it first or choose another name")
                        .asRuntimeException();
            }
            publisher.publish(List.of(Events.channelRecord(name, state)));
            channels.onChannelState(name, state, true);
            log.info("Channel {} created on model {}", name, state.getModelId());
            return state;
        });
    }

    public void delete(String name) {
        underLock(name, () -> {
            ChannelState deleted = requireChannel(name);
            publisher.publish(List.of(Events.channelRecord(name, null)));
            latestModels.remove(deleted.getChannelId());
            channels.onChannelState(name, null, true);
            log.info("Channel {} deleted", name);
            return null;
        });
    }

    /** Checks and merges pushed weights into the channel's newest version and queues the result as the next version. */
    public PushResult push(PushHeader header, byte[] weights) {
        String name = header.getChannel();
        WeightsFile.Format format = switch (header.getFormat()) {
            case WEIGHTS_FORMAT_SAFETENSORS -> WeightsFile.Format.SAFETENSORS;
            case WEIGHTS_FORMAT_NPZ -> WeightsFile.Format.NPZ;
            case WEIGHTS_FORMAT_ONNX -> WeightsFile.Format.ONNX;
            case WEIGHTS_FORMAT_UNSPECIFIED, UNRECOGNIZED -> null;
        };
        // reading the update needs nothing of the channel: done before its lock
        Map<String, Tensor> update = WeightsFile.read(weights, format, "the update pushed to channel '" + name + "'");
        return underLock(name, () -> {
            java.util.concurrent.CompletableFuture<Void> caughtUp = eventsSync.latest(List.of(Topics.CHANNELS, Topics.EVENTS));
            Merged early = channels.state(name).map(known -> mergeEarly(known, update)).orElse(null);
            await(caughtUp);
            ChannelState state = channelNamed(name);
            Merged merged = early != null && early.baseWeightsId().equals(state.getLatestWeightsModelId()) ? early : merge(state, update);
            byte[] mergedBytes = merged.bytes();
            BlobId weightsId = merged.id();
            long version = state.getLatestVersion() + 1;
            long now = System.currentTimeMillis();
            String jobId = UUID.nameUUIDFromBytes(("condense-channel:" + state.getChannelId() + ":" + version).getBytes(StandardCharsets.UTF_8))
                    .toString();
            JobSpec spec = JobSpec.newBuilder()
                    .setModelId(weightsId.hex())
                    .addAllSteps(state.getStepsList())
                    .setEvaluationDataId(state.getEvaluationDataId())
                    .setEvaluationLabelsId(state.getEvaluationLabelsId())
                    .setCalibrationDataId(state.getCalibrationDataId())
                    .setSubmittedAtMs(now)
                    .setTenant(state.getTenant())
                    .setChannelVersion(ChannelVersionRef.newBuilder()
                            .setChannelId(state.getChannelId())
                            .setChannel(name)
                            .setVersion(version)
                            .setStep(header.getStep())
                            .addAllTensors(update.keySet())
                            .setPushedAtMs(now)
                            .setGate(state.getGate()))
                    .build();
            ChannelState next = state.toBuilder().setLatestVersion(version).setLatestWeightsModelId(weightsId.hex()).build();
            BusEvent submitted = Events.event(jobId).setJobSubmitted(JobSubmitted.newBuilder().setSpec(spec)).build();
            List<ProducerRecord<String, byte[]>> records = new ArrayList<>();
            records.add(Events.channelRecord(name, next));
            records.add(Events.record(submitted));
            records.add(Events.stepRecord(StepRequested.newBuilder().setJobId(jobId).setSpec(spec).setStepIndex(0)
                    .setInputModelId(weightsId.hex()).build()));
            List<Long> superseded = state.getPolicy() == ChannelPolicy.CHANNEL_POLICY_EVERY ? List.of() : channels.queued(state.getChannelId());
            List<BusEvent> cancellations = new ArrayList<>();
            if (!superseded.isEmpty()) {
                for (String waitingJob : channels.queuedJobs(state.getChannelId())) {
                    cancellations.add(Events.event(waitingJob)
                            .setCancelRequested(CancelRequested.newBuilder().setReason(ChannelView.SUPERSEDED_BY + version)).build());
                }
            }
            cancellations.forEach(cancel -> records.add(Events.record(cancel)));
            long limit = Tenants.limits().maxJobs();
            long inFlight = limit == Long.MAX_VALUE ? 0 : jobs.inFlight(state.getTenant()) - superseded.size();
            if (inFlight >= limit) {
                throw new CondenseException(ErrorCode.RESOURCE_EXHAUSTED, "tenant " + state.getTenant() + " has " + inFlight
                        + " jobs queued or running, its limit (jobs= in the tokens file); push again when one has finished, or use --policy latest");
            }
            publisher.publish(records);
            if (mergedBytes.length <= CACHED_MODEL_BYTES) {
                latestModels.put(state.getChannelId(), Map.entry(weightsId.hex(), merged.model()));
            }
            // seen at once by this instance; the events reader hands the same records over again later (both views ignore repeats)
            channels.onChannelState(name, next, true);
            channels.onEvent(submitted, true);
            cancellations.forEach(cancel -> channels.onEvent(cancel, true));
            jobs.accept(jobId, spec, submitted.getTimeMs());
            log.info("Channel {} version {} queued as job {}: {} tensor(s) from step {}{}", name, version, jobId, update.size(), header.getStep(),
                    superseded.isEmpty() ? "" : ", superseding " + superseded);
            return PushResult.newBuilder().setChannel(name).setVersion(version).addAllTensors(update.keySet())
                    .setBytes(weights.length).addAllSuperseded(superseded).build();
        });
    }

    /** The update merged into the channel's newest weights, stored and granted to the channel's tenant. */
    private Merged merge(ChannelState state, Map<String, Tensor> update) {
        OnnxModel merged = WeightsMerge.merge(latestModel(state), update);
        byte[] bytes = merged.toBytes();
        BlobId id = blobs.put(bytes);
        blobs.grant(state.getTenant(), id);
        return new Merged(state.getLatestWeightsModelId(), merged, bytes, id);
    }

    /**
     * The merge made while the channels topic is read to its end, on the state this instance knows; null when it fails
     * (it is made again on the state read, which reports the problem).
     */
    private Merged mergeEarly(ChannelState known, Map<String, Tensor> update) {
        try {
            return merge(known, update);
        } catch (RuntimeException e) {
            return null;
        }
    }

    /** The channel's newest weights: parsed by the push before when it was this instance's, else read from their blob. */
    private OnnxModel latestModel(ChannelState state) {
        Map.Entry<String, OnnxModel> cached = latestModels.get(state.getChannelId());
        if (cached != null && cached.getKey().equals(state.getLatestWeightsModelId())) {
            return cached.getValue();
        }
        return OnnxModel.fromBytes(blobs.read(BlobId.of(state.getLatestWeightsModelId())));
    }

    /** The calling tenant's channel, after reading the channels topic to its end. */
    private ChannelState requireChannel(String name) {
        catchUpChannels();
        return channelNamed(name);
    }

    /** The calling tenant's channel as this instance knows it. */
    private ChannelState channelNamed(String name) {
        return channels.state(name).orElseThrow(() -> new CondenseException(ErrorCode.NOT_FOUND, "no channel named '" + name
                + "' exists; create it with condense channel create (CreateChannel)"));
    }

    private BlobId requireBlob(String id, String field) {
        if (id.isEmpty()) {
            throw new CondenseException(ErrorCode.NOT_FOUND, field + " is empty; upload the file with UploadModel and pass the blob id it answers");
        }
        BlobId blob = BlobId.of(id);
        if (!blobs.contains(blob) || !blobs.owns(Tenants.current(), blob)) {
            throw new CondenseException(ErrorCode.NOT_FOUND, field + " " + id + " is not stored; upload it with UploadModel first");
        }
        return blob;
    }

    /** What {@code lookup} finds now, or after reading both topics to their end (a channel another API instance created a moment ago). */
    public <T> java.util.Optional<T> afterCatchingUp(java.util.function.Supplier<java.util.Optional<T>> lookup) {
        java.util.Optional<T> found = lookup.get();
        if (found.isPresent()) {
            return found;
        }
        catchUp();
        return lookup.get();
    }

    private void catchUp() {
        await(eventsSync.latest(List.of(Topics.CHANNELS, Topics.EVENTS)));
    }

    /** Reads the channels topic to its end: what a channel's existence is decided on (create, delete). */
    private void catchUpChannels() {
        await(eventsSync.latest(List.of(Topics.CHANNELS)));
    }

    private static void await(java.util.concurrent.CompletableFuture<Void> caughtUp) {
        try {
            if (!EventsSync.await(caughtUp, SYNC_TIMEOUT)) {
                throw new CondenseException(ErrorCode.UNAVAILABLE, "the channels and events topics could not be read to their end within "
                        + SYNC_TIMEOUT.toSeconds() + " s; try again");
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new CondenseException(ErrorCode.UNAVAILABLE, "interrupted while reading the channels topic", e);
        }
    }

    private <T> T underLock(String name, java.util.function.Supplier<T> action) {
        Object lock = locks.computeIfAbsent(name, key -> new Object());
        synchronized (lock) {
            return action.get();
        }
    }
}
