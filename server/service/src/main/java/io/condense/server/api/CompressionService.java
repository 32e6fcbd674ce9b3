package io.condense.server.api;

import static java.util.Objects.requireNonNull;

import io.condense.proto.v1.CancelJobRequest;
import io.condense.proto.v1.CompressionServiceGrpc;
import io.condense.proto.v1.DownloadChunk;
import io.condense.proto.v1.DownloadRequest;
import io.condense.proto.v1.GetJobRequest;
import io.condense.proto.v1.Job;
import io.condense.proto.v1.JobEvent;
import io.condense.proto.v1.JobState;
import io.condense.proto.v1.ListJobsRequest;
import io.condense.proto.v1.ListJobsResponse;
import io.condense.proto.v1.ListTechniquesRequest;
import io.condense.proto.v1.ListTechniquesResponse;
import io.condense.proto.v1.ParameterInfo;
import io.condense.proto.v1.PipelineStep;
import io.condense.proto.v1.SubmitRequest;
import io.condense.proto.v1.SubmitResponse;
import io.condense.proto.v1.TechniqueInfo;
import io.condense.proto.v1.UploadChunk;
import io.condense.proto.v1.UploadResult;
import io.condense.proto.v1.ValidateRequest;
import io.condense.proto.v1.ValidateResponse;
import io.condense.proto.v1.WatchJobRequest;
import io.condense.proto.v1.events.CancelRequested;
import io.condense.proto.v1.events.JobSpec;
import io.condense.proto.v1.events.JobSubmitted;
import io.condense.proto.v1.events.StepRequested;
import io.condense.sdk.error.CondenseException;
import io.condense.sdk.error.ErrorCode;
import io.condense.sdk.technique.ParameterSpec;
import io.condense.server.blob.BlobId;
import io.condense.server.blob.BlobStore;
import io.condense.server.blob.BlobWriter;
import io.condense.server.blob.ModelBundles;
import io.condense.server.bus.Events;
import io.condense.server.bus.EventsSync;
import io.condense.server.job.JobView;
import io.condense.server.job.Submissions;
import io.condense.server.job.JobWatcher;
import io.condense.server.plugin.LoadedTechnique;
import io.condense.server.plugin.PluginHost;
import io.condense.server.plugin.PluginProblem;
import io.condense.server.security.Tenants;
import io.grpc.Status;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The gRPC API. Answers from the blob store, the plugin host (for validation and listing) and the job
 * view; writes jobs and cancellations to Kafka. No compression runs here.
 */
public final class CompressionService extends CompressionServiceGrpc.CompressionServiceImplBase {
    /** The largest chunk of an upload or a download. */
    public static final int MAX_CHUNK_BYTES = 1 << 20;
    /** The most {@code SubmitRequest.latency_ms} a job gets: a minute of timing. */
    static final int MAX_LATENCY_MS = 60_000;

    private static final Logger log = LoggerFactory.getLogger(CompressionService.class);
    private static final Duration EVENTS_SYNC_TIMEOUT = Duration.ofSeconds(10);
    /**
     * How long an unknown id is looked for again: a transaction another instance committed a moment ago becomes
     * readable only once the broker has written its commit markers, which lags the producer's commit by milliseconds.
     */
    private static final Duration UNKNOWN_JOB_GRACE = Duration.ofSeconds(2);

    private final BlobStore blobs;
    private final ModelBundles bundles;
    private final PluginHost plugins;
    private final PipelineValidator validator;
    private final JobView jobs;
    private final JobPublisher publisher;
    private final EventsSync eventsSync;
    private final ConcurrentMap<String, Object> submitLocks = new ConcurrentHashMap<>();

    public CompressionService(BlobStore blobs, PluginHost plugins, JobView jobs, JobPublisher publisher) {
        this(blobs, plugins, jobs, EventsSync.NONE, publisher);
    }

    /**
     * @param eventsSync waited on before answering that a job is unknown, since another API instance may
     *     have accepted it a moment ago and this instance's view may not have read it yet
     */
    public CompressionService(BlobStore blobs, PluginHost plugins, JobView jobs, EventsSync eventsSync, JobPublisher publisher) {
        this.eventsSync = requireNonNull(eventsSync, "eventsSync is null");
        this.blobs = requireNonNull(blobs, "blobs is null");
        this.bundles = new ModelBundles(blobs);
        this.plugins = requireNonNull(plugins, "plugins is null");
        this.validator = new PipelineValidator(plugins);
        this.jobs = requireNonNull(jobs, "jobs is null");
        this.publisher = requireNonNull(publisher, "publisher is null");
    }

    @Override
    public StreamObserver<UploadChunk> uploadModel(StreamObserver<UploadResult> responses) {
        return new StreamObserver<>() {
            private final UploadQuota quota = new UploadQuota(blobs);
            private BlobWriter writer;
            private boolean failed;

            @Override
            public void onNext(UploadChunk chunk) {
                if (failed) {
                    return;
                }
                try {
                    if (chunk.getData().size() > MAX_CHUNK_BYTES) {
                        throw new CondenseException(ErrorCode.RESOURCE_EXHAUSTED, "an upload chunk holds " + chunk.getData().size()
                                + " bytes; send chunks of at most " + MAX_CHUNK_BYTES + " bytes (1 MiB)");
                    }
                    if (writer == null) {
                        writer = blobs.newWriter();
                    }
                    quota.check(writer.size(), chunk.getData().size());
                    writer.write(chunk.getData());
                } catch (RuntimeException e) {
                    failed = true;
                    if (writer != null) {
                        writer.abort();
                    }
                    responses.onError(toStatus("UploadModel", e));
                }
            }

            @Override
            public void onError(Throwable t) {
                if (writer != null) {
                    writer.abort();
                }
            }

            @Override
            public void onCompleted() {
                if (failed) {
                    return;
                }
                try {
                    if (writer == null) {
                        writer = blobs.newWriter();
                    }
                    long size = writer.size();
                    BlobId id = writer.commit();
                    if (bundles.manifest(id).isPresent()) {
                        // manifests name other blobs: only UploadBundle, which receives those blobs' bytes, makes one
                        throw new CondenseException(ErrorCode.INVALID_DATA, "an upload may not start with the line 'condense-bundle', "
                                + "which marks the server's manifests of model bundles; upload a model with its data files with UploadBundle");
                    }
                    blobs.grant(Tenants.current(), id);
                    responses.onNext(UploadResult.newBuilder().setBlobId(id.hex()).setSize(size).build());
                    responses.onCompleted();
                } catch (RuntimeException e) {
                    responses.onError(toStatus("UploadModel", e));
                }
            }
        };
    }

    @Override
    public void submit(SubmitRequest request, StreamObserver<SubmitResponse> responses) {
        try {
            responses.onNext(submit(request));
            responses.onCompleted();
        } catch (RuntimeException e) {
            responses.onError(toStatus("Submit", e));
        }
    }

    private SubmitResponse submit(SubmitRequest request) {
        if (request.getModelId().isEmpty()) {
            throw new CondenseException(ErrorCode.NOT_FOUND, "model_id is empty; upload the model with UploadModel and pass the blob id it answers");
        }
        // the dedupe of a client_request_id reads the events topic to its end: that read runs while the request is checked
        CompletableFuture<Void> eventsRead = request.getClientRequestId().isEmpty() ? null
                : eventsSync.latestViews();
        blobs.requireStored(BlobId.of(request.getModelId()));
        requireOwned(BlobId.of(request.getModelId()), "model_id");
        requireData(request.getEvaluationDataId(), "evaluation_data_id");
        requireData(request.getEvaluationLabelsId(), "evaluation_labels_id");
        requireData(request.getCalibrationDataId(), "calibration_data_id");
        requireData(request.getTrainDataId(), "train_data_id");
        requireData(request.getTrainLabelsId(), "train_labels_id");
        if (!request.getEvaluationLabelsId().isEmpty() && request.getEvaluationDataId().isEmpty()) {
            throw new CondenseException(ErrorCode.INVALID_DATA, "evaluation_labels_id is set without evaluation_data_id; labels need the inputs they label");
        }
        if (!request.getTrainLabelsId().isEmpty() && request.getTrainDataId().isEmpty()) {
            throw new CondenseException(ErrorCode.INVALID_DATA, "train_labels_id is set without train_data_id; labels need the inputs they label: "
                    + "upload the training inputs too and pass their blob id as train_data_id (--train-data)");
        }
        if (!request.getTrainDataId().isEmpty() && request.getTrainLabelsId().isEmpty()) {
            throw new CondenseException(ErrorCode.DATA_REQUIRED, "train_data_id is set without train_labels_id; training needs labels: "
                    + "upload the class labels of the training inputs (one integer per sample) and pass their blob id as train_labels_id (--train-labels)");
        }
        List<PipelineStep> steps;
        if (request.hasSearch()) {
            steps = List.of(SearchSubmission.step(request));
        } else {
            validator.resolve(request.getStepsList());
            steps = request.getStepsList();
        }

        String clientRequestId = request.getClientRequestId();
        JobSpec spec = jobSpec(request, steps);
        if (clientRequestId.isEmpty()) {
            return publishWithinLimits(spec);
        }
        // job ids are random even with a request id (a guessed request id must not name someone's job); a retry finds
        // the first job through the view's index of (tenant, request id), read from the events topic on every instance
        String lockKey = Tenants.current() + "\u0000" + clientRequestId;
        Object lock = submitLocks.computeIfAbsent(lockKey, key -> new Object());
        try {
            synchronized (lock) {
                Optional<Submissions.ClientRequest> earlier = knownAfterOneCatchUp(clientRequestId, eventsRead);
                if (earlier.isEmpty()) {
                    return publishWithinLimits(spec);
                }
                if (!earlier.get().request().equals(Submissions.requestOf(spec))) {
                    throw new CondenseException(ErrorCode.ALREADY_EXISTS, Submissions.reusedRequestId(clientRequestId, earlier.get().jobId()));
                }
                return SubmitResponse.newBuilder().setJobId(earlier.get().jobId()).setExisting(true).build();
            }
        } finally {
            submitLocks.remove(lockKey, lock);
        }
    }

    /** Publishes a new job under a random id, unless its tenant already has as many jobs queued or running as it may. */
    private SubmitResponse publishWithinLimits(JobSpec spec) {
        long limit = Tenants.limits().maxJobs();
        long inFlight = limit == Long.MAX_VALUE ? 0 : jobs.inFlight(spec.getTenant());
        if (inFlight >= limit) {
            throw new CondenseException(ErrorCode.RESOURCE_EXHAUSTED, "tenant " + spec.getTenant() + " has " + inFlight
                    + " jobs queued or running, its limit (jobs= in the tokens file); submit again when one has finished");
        }
        return publish(spec, UUID.randomUUID().toString());
    }

    private static JobSpec jobSpec(SubmitRequest request, List<PipelineStep> steps) {
        JobSpec.Builder spec = JobSpec.newBuilder();
        if (request.hasSearch()) {
            spec.setSearch(request.getSearch());
        }
        return spec
                .setModelId(request.getModelId())
                .addAllSteps(steps)
                .setEvaluationDataId(request.getEvaluationDataId())
                .setEvaluationLabelsId(request.getEvaluationLabelsId())
                .setCalibrationDataId(request.getCalibrationDataId())
                .setTrainDataId(request.getTrainDataId())
                .setTrainLabelsId(request.getTrainLabelsId())
                .setClientRequestId(request.getClientRequestId())
                .setSkipEvaluation(request.getSkipEvaluation())
                .setEvaluationSamples(Math.max(0, request.getEvaluationSamples()))
                .setLatencyMs(Math.max(0, Math.min(MAX_LATENCY_MS, request.getLatencyMs())))
                .setSubmittedAtMs(System.currentTimeMillis())
                .setTenant(Tenants.current())
                .build();
    }

    private SubmitResponse publish(JobSpec spec, String jobId) {
        var submitted = Events.event(jobId).setJobSubmitted(JobSubmitted.newBuilder().setSpec(spec)).build();
        StepRequested firstStep = StepRequested.newBuilder()
                .setJobId(jobId)
                .setSpec(spec)
                .setStepIndex(0)
                .setInputModelId(spec.getModelId())
                .build();
        publisher.submit(submitted, firstStep);
        jobs.accept(jobId, spec, submitted.getTimeMs());
        log.info("Job {} accepted: {} step(s) on model {}", jobId, spec.getStepsCount(), spec.getModelId());
        return SubmitResponse.newBuilder().setJobId(jobId).build();
    }

    private void requireData(String id, String field) {
        if (id.isEmpty()) {
            return;
        }
        BlobId blob;
        try {
            blob = BlobId.of(id);
        } catch (CondenseException e) {
            throw new CondenseException(e.code(), field + ": " + e.getMessage(), e);
        }
        if (!blobs.contains(blob)) {
            throw new CondenseException(ErrorCode.NOT_FOUND, field + " " + id + " is not stored; upload the data with UploadModel first");
        }
        requireOwned(blob, field);
    }

    /** Another tenant's blob is answered as if it were not stored. */
    private void requireOwned(BlobId blob, String field) {
        if (!blobs.owns(Tenants.current(), blob)) {
            throw new CondenseException(ErrorCode.NOT_FOUND, field + " " + blob + " is not stored; upload it with UploadModel first");
        }
    }

    @Override
    public void getJob(GetJobRequest request, StreamObserver<Job> responses) {
        try {
            responses.onNext(requireJob(request.getJobId()));
            responses.onCompleted();
        } catch (RuntimeException e) {
            responses.onError(toStatus("GetJob", e));
        }
    }

    @Override
    public void watchJob(WatchJobRequest request, StreamObserver<JobEvent> responses) {
        ServerCallStreamObserver<JobEvent> call = (ServerCallStreamObserver<JobEvent>) responses;
        String jobId = request.getJobId();
        JobWatcher watcher = new JobWatcher() {
            @Override
            public void onEvent(JobEvent event) {
                synchronized (call) {
                    if (!call.isCancelled()) {
                        call.onNext(event);
                    }
                }
            }

            @Override
            public void finished() {
                synchronized (call) {
                    if (!call.isCancelled()) {
                        call.onCompleted();
                    }
                }
            }
        };
        call.setOnCancelHandler(() -> jobs.unwatch(jobId, watcher));
        try {
            if (!afterCatchingUp(() -> jobs.watch(jobId, watcher))) {
                throw unknownJob(jobId);
            }
        } catch (RuntimeException e) {
            responses.onError(toStatus("WatchJob", e));
        }
    }

    @Override
    public StreamObserver<io.condense.proto.v1.BundleChunk> uploadBundle(StreamObserver<UploadResult> responses) {
        return new BundleUpload(bundles, responses, failure -> toStatus("UploadBundle", failure));
    }

    @Override
    public void downloadBundle(DownloadRequest request, StreamObserver<io.condense.proto.v1.BundleChunk> responses) {
        BlobId id;
        try {
            id = downloadTarget(request);
        } catch (RuntimeException e) {
            responses.onError(toStatus("DownloadBundle", e));
            return;
        }
        BundleDownload.stream(bundles, id, responses);
    }

    @Override
    public void download(DownloadRequest request, StreamObserver<DownloadChunk> responses) {
        BlobId id;
        try {
            id = downloadTarget(request);
            var manifest = bundles.manifest(id);
            if (manifest.isPresent()) {
                throw Status.FAILED_PRECONDITION.withDescription("the model " + id + " is kept with external data ("
                        + manifest.get().getFilesCount() + " files, " + ModelBundles.totalBytes(manifest.get())
                        + " bytes): download it with DownloadBundle, which sends the model file and its data files (condense "
                        + "compress does)").asRuntimeException();
            }
        } catch (RuntimeException e) {
            responses.onError(toStatus("Download", e));
            return;
        }
        BlobDownload.stream(blobs, id, responses);
    }

    /** The blob a download names: a completed job's result, or a blob the caller's tenant holds. */
    private BlobId downloadTarget(DownloadRequest request) {
        return switch (request.getTargetCase()) {
            case JOB_ID -> {
                Job job = requireJob(request.getJobId());
                if (job.getState() != JobState.JOB_STATE_COMPLETED) {
                    throw Status.FAILED_PRECONDITION.withDescription("job " + job.getJobId() + " is " + stateName(job.getState())
                            + "; only a completed job has a result to download").asRuntimeException();
                }
                yield BlobId.of(job.getResultModelId());
            }
            case BLOB_ID -> {
                BlobId blob = BlobId.of(request.getBlobId());
                requireOwned(blob, "blob_id");
                yield blob;
            }
            case TARGET_NOT_SET -> throw Status.INVALID_ARGUMENT.withDescription("name a job_id or a blob_id to download").asRuntimeException();
        };
    }

    @Override
    public void cancelJob(CancelJobRequest request, StreamObserver<Job> responses) {
        try {
            Job job = requireJob(request.getJobId());
            if (job.getState() == JobState.JOB_STATE_QUEUED || job.getState() == JobState.JOB_STATE_RUNNING) {
                publisher.publish(Events.event(job.getJobId()).setCancelRequested(CancelRequested.newBuilder().setReason("cancelled by a client")).build());
                log.info("Cancellation of job {} requested", job.getJobId());
            }
            responses.onNext(job);
            responses.onCompleted();
        } catch (RuntimeException e) {
            responses.onError(toStatus("CancelJob", e));
        }
    }

    @Override
    public void validate(ValidateRequest request, StreamObserver<ValidateResponse> responses) {
        try {
            ValidateResponse response = PipelineValidator.describe(validator.resolve(request.getStepsList()));
            responses.onNext(response);
            responses.onCompleted();
        } catch (RuntimeException e) {
            responses.onError(toStatus("Validate", e));
        }
    }

    @Override
    public void listJobs(ListJobsRequest request, StreamObserver<ListJobsResponse> responses) {
        try {
            int limit = request.getLimit() <= 0 ? 50 : Math.min(request.getLimit(), 1000);
            JobState state = request.getState() == JobState.UNRECOGNIZED ? JobState.JOB_STATE_UNSPECIFIED : request.getState();
            catchUpOnEvents();
            responses.onNext(ListJobsResponse.newBuilder().addAllJobs(jobs.recent(limit, state)).build());
            responses.onCompleted();
        } catch (RuntimeException e) {
            responses.onError(toStatus("ListJobs", e));
        }
    }

    @Override
    public void listTechniques(ListTechniquesRequest request, StreamObserver<ListTechniquesResponse> responses) {
        ListTechniquesResponse.Builder response = ListTechniquesResponse.newBuilder();
        for (LoadedTechnique technique : plugins.techniques().values()) {
            TechniqueInfo.Builder info = TechniqueInfo.newBuilder()
                    .setId(technique.id())
                    .setVersion(technique.descriptor().version())
                    .setSummary(technique.descriptor().summary())
                    .setFamily(technique.descriptor().family())
                    .setPluginId(technique.pluginId())
                    .setPluginVersion(technique.pluginVersion());
            for (ParameterSpec spec : technique.descriptor().parameters()) {
                info.addParameters(ParameterInfo.newBuilder()
                        .setName(spec.name())
                        .setType(spec.type().name())
                        .setDefaultValue(spec.defaultValue() == null ? "" : spec.defaultValue())
                        .setRequired(spec.required())
                        .setRange(spec.range() == null ? "" : spec.range().toString())
                        .addAllChoices(spec.choices())
                        .setDocumentation(spec.documentation())
                        .setRule(spec.rule())
                        .setAcceptsUpload(spec.acceptsUpload()));
            }
            response.addTechniques(info);
        }
        for (PluginProblem problem : plugins.problems()) {
            response.addPluginProblems(io.condense.proto.v1.PluginProblem.newBuilder()
                    .setPluginId(problem.pluginId())
                    .setPluginVersion(problem.pluginVersion())
                    .setPath(problem.path().toString())
                    .setMessage(problem.message()));
        }
        responses.onNext(response.build());
        responses.onCompleted();
    }

    private Job requireJob(String jobId) {
        return findJob(jobId).orElseThrow(() -> unknownJob(jobId));
    }

    /** The job from this instance's view, after reading the events topic to its end when the view does not know it yet. */
    private Optional<Job> findJob(String jobId) {
        return afterCatchingUp(() -> jobs.job(jobId).isPresent()) ? jobs.job(jobId) : Optional.empty();
    }

    /**
     * The calling tenant's job of this client request id, after reading the events topic to its end once when this
     * instance's view does not hold it yet:
     * what Submit's dedupe needs. Unlike {@link #findJob} it does not look again for a grace period, which made every
     * Submit with a new client_request_id wait that long (2 s): a retry of a request arrives after the first attempt's
     * answer, by which time its commit is readable. Two Submits of one new request id racing on two instances within
     * milliseconds are not told apart, as before.
     */
    private Optional<Submissions.ClientRequest> knownAfterOneCatchUp(String clientRequestId, CompletableFuture<Void> eventsRead) {
        Optional<Submissions.ClientRequest> known = jobs.jobForClientRequest(clientRequestId);
        return known.isPresent() || !caughtUp(eventsRead) ? known : jobs.jobForClientRequest(clientRequestId);
    }

    /** Whether the read of the events topic begun at the start of the call has reached what was committed then. */
    private static boolean caughtUp(CompletableFuture<Void> eventsRead) {
        try {
            boolean latest = EventsSync.await(eventsRead, EVENTS_SYNC_TIMEOUT);
            if (!latest) {
                log.warn("The events topic could not be read to its end within {} s", EVENTS_SYNC_TIMEOUT.toSeconds());
            }
            return latest;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new CondenseException(ErrorCode.UNAVAILABLE, "interrupted while reading the events topic", e);
        }
    }

    /**
     * True when {@code known} holds now, or after reading the events topic to its end; read again for a short grace
     * while the answer is no, since another instance's commit can be seen a moment before it is readable.
     */
    private boolean afterCatchingUp(java.util.function.BooleanSupplier known) {
        if (known.getAsBoolean()) {
            return true;
        }
        long deadline = System.nanoTime() + UNKNOWN_JOB_GRACE.toNanos();
        do {
            if (!catchUpOnEvents()) {
                return false;
            }
            if (known.getAsBoolean()) {
                return true;
            }
            try {
                Thread.sleep(50);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new CondenseException(ErrorCode.UNAVAILABLE, "interrupted while reading the events topic", e);
            }
        } while (System.nanoTime() < deadline);
        return false;
    }

    /** Reads what is committed to the events topic now; true when this instance's view holds it all. */
    private boolean catchUpOnEvents() {
        return caughtUp(eventsSync.latestViews());
    }

    private static CondenseException unknownJob(String jobId) {
        return new CondenseException(ErrorCode.NOT_FOUND, "no job with id '" + jobId + "' is known");
    }

    private static String stateName(JobState state) {
        return state.name().substring("JOB_STATE_".length());
    }

    private static RuntimeException toStatus(String method, Throwable failure) {
        if (!(failure instanceof CondenseException) && !(failure instanceof io.grpc.StatusRuntimeException)) {
            log.error("{} failed unexpectedly", method, failure);
        }
        return ErrorStatus.of(failure);
    }
}
