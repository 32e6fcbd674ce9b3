package io.condense.server.channel;

import static java.util.Objects.requireNonNull;

import io.condense.proto.v1.ChannelPolicy;
import io.condense.proto.v1.CreateChannelRequest;
import io.condense.proto.v1.PushHeader;
import io.condense.proto.v1.PushResult;
import io.condense.proto.v1.WeightsFormat;
import io.condense.proto.v1.events.ChannelPush;
import io.condense.proto.v1.events.ChannelState;
import io.condense.sdk.error.CondenseException;
import io.condense.sdk.error.ErrorCode;
import io.condense.sdk.model.InitializerInfo;
import io.condense.sdk.model.OnnxModel;
import io.condense.sdk.tensor.Tensor;
import io.condense.sdk.weights.WeightsFile;
import io.condense.sdk.weights.WeightsMerge;
import io.condense.server.api.PipelineValidator;
import io.condense.server.blob.BlobId;
import io.condense.server.blob.BlobStore;
import io.condense.server.blob.ModelBundles;
import io.condense.server.bus.Events;
import io.condense.server.bus.EventsSync;
import io.condense.server.bus.Topics;
import io.condense.server.job.JobView;
import io.condense.server.security.Tenants;
import io.grpc.Status;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentMap;
import java.util.regex.Pattern;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Decides and writes what changes a channel: its creation and deletion (one transaction each on the channels topic), and
 * the acceptance of a push. A push is acknowledged as soon as it is durable (issue 13: the training loop is held back by
 * the upload, not by the merge or a transaction): its update is read and checked against the channel's base graph (names,
 * dtypes, shapes, finite values: every problem is returned to the pusher at once), its bytes are stored as they came, and
 * one record with its version number goes to the pushes topic (acks=all). The merge into the newest weights, the version's
 * job and the latest-wins cancellations are the {@link ChannelSequencer}'s. Pushes to one channel are serialised on this
 * instance, so version numbers follow each other and the channel's records on the pushes topic are in version order.
 */
public final class ChannelWriter implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(ChannelWriter.class);
    private static final Pattern NAME = Pattern.compile("[A-Za-z0-9._-]{1,100}");
    private static final Duration SYNC_TIMEOUT = Duration.ofSeconds(10);

    /** Writes records in one transaction ({@code SubmitPublisher#publishAll}). */
    @FunctionalInterface
    public interface RecordPublisher {
        void publish(List<ProducerRecord<String, byte[]>> records);
    }

    /** Appends an acknowledged push to the pushes topic and returns once the broker holds it ({@link KafkaPushLog}). */
    @FunctionalInterface
    public interface PushLog {
        void append(ChannelPush push);
    }

    private final BlobStore blobs;
    private final PipelineValidator validator;
    private final ChannelView channels;
    private final JobView jobs;
    private final EventsSync eventsSync;
    private final RecordPublisher publisher;
    private final PushLog pushLog;
    private final ConcurrentMap<String, Object> locks = new ConcurrentHashMap<>();
    /** Per channel id, its base graph's initializers: what every push is checked against (a merge never changes them). */
    private final ConcurrentMap<String, List<InitializerInfo>> baseInitializers = new ConcurrentHashMap<>();
    /** Stores pushed bytes while the pushing thread reads and checks them. */
    private final ExecutorService storing = Executors.newFixedThreadPool(2, task -> {
        Thread thread = new Thread(task, "condense-push-store");
        thread.setDaemon(true);
        return thread;
    });

    public ChannelWriter(BlobStore blobs, PipelineValidator validator, ChannelView channels, JobView jobs, EventsSync eventsSync,
            RecordPublisher publisher, PushLog pushLog) {
        this.blobs = requireNonNull(blobs, "blobs is null");
        this.validator = requireNonNull(validator, "validator is null");
        this.channels = requireNonNull(channels, "channels is null");
        this.jobs = requireNonNull(jobs, "jobs is null");
        this.eventsSync = requireNonNull(eventsSync, "eventsSync is null");
        this.publisher = requireNonNull(publisher, "publisher is null");
        this.pushLog = requireNonNull(pushLog, "pushLog is null");
    }

    public ChannelState create(CreateChannelRequest request) {
        String name = request.getName();
        if (!NAME.matcher(name).matches()) {
            throw new CondenseException(ErrorCode.INVALID_PARAMETER, "channel name '" + name
                    + "' is not 1 to 100 letters, digits, '.', '_' or '-'");
        }
        BlobId model = requireBlob(request.getModelId(), "model_id");
        if (new ModelBundles(blobs).manifest(model).isPresent()) {
            throw new CondenseException(ErrorCode.UNSUPPORTED_MODEL, "model_id " + model.hex() + " is a model bundle (an ONNX file "
                    + "with external data files): a channel's base model is one ONNX file with its tensors inline, since each push "
                    + "is merged into it in memory. Save the model without external data (onnx.save(model, path)) and upload it "
                    + "with UploadModel; a model over 2 GiB cannot be a channel's base");
        }
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
            baseInitializers.remove(deleted.getChannelId());
            channels.onChannelState(name, null, true);
            log.info("Channel {} deleted", name);
            return null;
        });
    }

    /**
     * Checks pushed weights against the channel's base graph, stores them and queues them as the channel's next version;
     * answers once the push is durable, before it is merged.
     */
    public PushResult push(PushHeader header, byte[] weights) {
        String name = header.getChannel();
        // reading, checking and storing the update need nothing the channel's lock guards: done before it, and the bytes
        // are hashed and written on another thread while they are read and checked here (a refused update's blob is left
        // to the garbage collection). The channel's pushes through other instances, and a delete, are seen before the
        // number is chosen: the read to the end of the two topics that decide it runs meanwhile too (not the busy events
        // topic: what a version's job does decides nothing here; the sequencer reads it before it cancels anything).
        CompletableFuture<Void> caughtUp = eventsSync.latest(List.of(Topics.CHANNELS, Topics.PUSHES));
        CompletableFuture<BlobId> stored = CompletableFuture.supplyAsync(() -> blobs.put(weights), storing);
        Map<String, Tensor> update = WeightsFile.read(weights, format(header.getFormat()), "the update pushed to channel '" + name + "'");
        ChannelState known = afterCatchingUp(() -> channels.state(name)).orElseThrow(() -> unknownChannel(name));
        WeightsMerge.check(baseInitializers(known), update);
        BlobId updateId = joinStored(stored);
        return underLock(name, () -> {
            await(caughtUp);
            ChannelState state = channelNamed(name);
            if (!state.getChannelId().equals(known.getChannelId())) {
                WeightsMerge.check(baseInitializers(state), update); // deleted and created again meanwhile
            }
            List<Long> superseded = state.getPolicy() == ChannelPolicy.CHANNEL_POLICY_EVERY ? List.of() : channels.waitingToStart(state.getChannelId());
            long limit = Tenants.limits().maxJobs();
            long cancelled = superseded.isEmpty() ? 0 : channels.queued(state.getChannelId()).size();
            long inFlight = limit == Long.MAX_VALUE ? 0 : jobs.inFlight(state.getTenant()) - cancelled;
            if (inFlight >= limit) {
                throw new CondenseException(ErrorCode.RESOURCE_EXHAUSTED, "tenant " + state.getTenant() + " has " + inFlight
                        + " jobs queued or running, its limit (jobs= in the tokens file); push again when one has finished, or use --policy latest");
            }
            blobs.grant(state.getTenant(), updateId);
            long version = channels.newestVersion(state) + 1;
            ChannelPush push = ChannelPush.newBuilder()
                    .setChannelId(state.getChannelId())
                    .setChannel(name)
                    .setVersion(version)
                    .setStep(header.getStep())
                    .setFormat(header.getFormat())
                    .setUpdateId(updateId.hex())
                    .addAllTensors(update.keySet())
                    .setPushedAtMs(System.currentTimeMillis())
                    .build();
            pushLog.append(push);
            channels.onChannelPush(push, true);
            log.info("Channel {} version {} acknowledged: {} tensor(s) from step {}{}", name, version, update.size(), header.getStep(),
                    superseded.isEmpty() ? "" : ", superseding " + superseded);
            return PushResult.newBuilder().setChannel(name).setVersion(version).addAllTensors(update.keySet())
                    .setBytes(weights.length).addAllSuperseded(superseded).build();
        });
    }

    private static BlobId joinStored(CompletableFuture<BlobId> stored) {
        try {
            return stored.join();
        } catch (java.util.concurrent.CompletionException e) {
            if (e.getCause() instanceof RuntimeException cause) {
                throw cause;
            }
            throw e;
        }
    }

    /** The weights file format a push names; null: recognised from the bytes. */
    static WeightsFile.Format format(WeightsFormat format) {
        return switch (format) {
            case WEIGHTS_FORMAT_SAFETENSORS -> WeightsFile.Format.SAFETENSORS;
            case WEIGHTS_FORMAT_NPZ -> WeightsFile.Format.NPZ;
            case WEIGHTS_FORMAT_ONNX -> WeightsFile.Format.ONNX;
            case WEIGHTS_FORMAT_UNSPECIFIED, UNRECOGNIZED -> null;
        };
    }

    /** The channel's base graph's initializers, read once per channel. */
    private List<InitializerInfo> baseInitializers(ChannelState state) {
        return baseInitializers.computeIfAbsent(state.getChannelId(),
                id -> OnnxModel.fromBytes(blobs.read(BlobId.of(state.getModelId()))).initializers());
    }

    /** The calling tenant's channel, after reading the channels topic to its end. */
    private ChannelState requireChannel(String name) {
        catchUpChannels();
        return channelNamed(name);
    }

    /** The calling tenant's channel as this instance knows it. */
    private ChannelState channelNamed(String name) {
        return channels.state(name).orElseThrow(() -> unknownChannel(name));
    }

    private static CondenseException unknownChannel(String name) {
        return new CondenseException(ErrorCode.NOT_FOUND, "no channel named '" + name + "' exists; create it with condense channel create (CreateChannel)");
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

    private static void await(CompletableFuture<Void> caughtUp) {
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

    @Override
    public void close() {
        storing.shutdown();
    }
}
