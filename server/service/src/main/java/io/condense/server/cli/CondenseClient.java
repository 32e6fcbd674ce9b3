package io.condense.server.cli;

import static java.util.Objects.requireNonNull;

import io.condense.proto.v1.CompressionServiceGrpc;
import io.condense.proto.v1.DownloadChunk;
import io.condense.proto.v1.DownloadRequest;
import io.condense.proto.v1.GetJobRequest;
import io.condense.proto.v1.Job;
import io.condense.proto.v1.JobEvent;
import io.condense.proto.v1.ListTechniquesRequest;
import io.condense.proto.v1.ListTechniquesResponse;
import io.condense.proto.v1.PipelineStep;
import io.condense.proto.v1.SubmitRequest;
import io.condense.proto.v1.SubmitResponse;
import io.condense.proto.v1.UploadChunk;
import io.condense.proto.v1.UploadResult;
import io.condense.proto.v1.ValidateRequest;
import io.condense.proto.v1.ValidateResponse;
import io.condense.proto.v1.WatchJobRequest;
import io.grpc.ManagedChannel;
import io.grpc.ManagedChannelBuilder;
import io.grpc.Status;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Iterator;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

/** A small Java client of the Condense API: upload files in chunks, submit, watch, download. */
public final class CondenseClient implements AutoCloseable {
    private static final int CHUNK_BYTES = ChunkStreams.CHUNK_BYTES;

    private final ManagedChannel channel;
    private final CompressionServiceGrpc.CompressionServiceBlockingStub blocking;
    private final CompressionServiceGrpc.CompressionServiceStub async;

    public CondenseClient(String target) {
        this(target, ClientSecurity.NONE);
    }

    /**
     * @throws IllegalArgumentException when a TLS file cannot be read
     */
    public CondenseClient(String target, ClientSecurity security) {
        this(channel(target, security));
    }

    /** A client on a channel made elsewhere (the in-process channel of a local run); closing the client shuts it down. */
    public CondenseClient(ManagedChannel channel) {
        this.channel = requireNonNull(channel, "channel is null");
        this.blocking = CompressionServiceGrpc.newBlockingStub(channel);
        this.async = CompressionServiceGrpc.newStub(channel);
    }

    private static ManagedChannel channel(String target, ClientSecurity security) {
        requireNonNull(target, "target is null");
        requireNonNull(security, "security is null");
        io.grpc.ChannelCredentials credentials = io.grpc.InsecureChannelCredentials.create();
        if (security.tlsCa().isPresent()) {
            try {
                io.grpc.TlsChannelCredentials.Builder tls = io.grpc.TlsChannelCredentials.newBuilder().trustManager(security.tlsCa().get().toFile());
                if (security.tlsCertificate().isPresent()) {
                    tls.keyManager(security.tlsCertificate().get().toFile(), security.tlsKey().get().toFile());
                }
                credentials = tls.build();
            } catch (IOException e) {
                throw new IllegalArgumentException("cannot read the TLS files: " + e.getMessage(), e);
            }
        }
        ManagedChannelBuilder<?> builder = io.grpc.Grpc.newChannelBuilder(target, credentials).maxInboundMessageSize(4 * CHUNK_BYTES);
        if (security.token().isPresent()) {
            io.grpc.Metadata headers = new io.grpc.Metadata();
            headers.put(io.grpc.Metadata.Key.of("authorization", io.grpc.Metadata.ASCII_STRING_MARSHALLER), "Bearer " + security.token().get());
            builder.intercept(io.grpc.stub.MetadataUtils.newAttachHeadersInterceptor(headers));
        }
        return builder.build();
    }

    public ManagedChannel channel() {
        return channel;
    }

    /** Streams a file in chunks of 256 KiB, waiting for the transport to be ready between chunks. */
    public UploadResult upload(Path file) throws IOException {
        try (InputStream in = Files.newInputStream(file)) {
            return upload(in);
        }
    }

    /**
     * Uploads a model file: as a bundle with the external data files it names beside it (UploadBundle), or as one file
     * when it keeps its tensors inline.
     *
     * @throws IllegalArgumentException when a data file the model names is not beside it (the message says which, and where)
     */
    public UploadResult uploadModel(Path model) throws IOException {
        java.util.Optional<LocalBundle> bundle = LocalBundle.of(model);
        return bundle.isEmpty() ? upload(model) : uploadBundle(bundle.get());
    }

    /** Uploads a model with its data files (UploadBundle). */
    public UploadResult uploadBundle(LocalBundle bundle) throws IOException {
        return ChunkStreams.call(async::uploadBundle, bundle.messages());
    }

    /**
     * Downloads a job's result model to {@code target} with its data files beside it ({@code <target>.data}), each
     * checked against its size and SHA-256; the files written, the model first.
     */
    public BundleReceiver.Written downloadResultModel(String jobId, Path target) throws IOException {
        return BundleReceiver.write(blocking.downloadBundle(DownloadRequest.newBuilder().setJobId(jobId).build()), target);
    }

    public UploadResult upload(byte[] bytes) {
        try {
            return upload(new java.io.ByteArrayInputStream(bytes));
        } catch (IOException e) {
            throw new IllegalStateException("reading a byte array failed", e);
        }
    }

    public UploadResult upload(InputStream in) throws IOException {
        return ChunkStreams.call(async::uploadModel, null, in, data -> UploadChunk.newBuilder().setData(data).build());
    }

    public SubmitResponse submit(SubmitRequest request) {
        return blocking.submit(request);
    }

    public Job job(String jobId) {
        return blocking.getJob(GetJobRequest.newBuilder().setJobId(jobId).build());
    }

    public Job cancel(String jobId) {
        return blocking.cancelJob(io.condense.proto.v1.CancelJobRequest.newBuilder().setJobId(jobId).build());
    }

    /** Checks the steps as Submit would; INVALID_ARGUMENT listing every problem when they are not valid. */
    public ValidateResponse validate(List<PipelineStep> steps) {
        return blocking.validate(ValidateRequest.newBuilder().addAllSteps(steps).build());
    }

    /** The most recently submitted jobs, newest first, without their reports. */
    public java.util.List<Job> jobs(int limit, io.condense.proto.v1.JobState state) {
        return blocking.listJobs(io.condense.proto.v1.ListJobsRequest.newBuilder().setLimit(limit).setState(state).build()).getJobsList();
    }

    public ListTechniquesResponse techniques() {
        return blocking.listTechniques(ListTechniquesRequest.getDefaultInstance());
    }

    /** Calls back with every event of a job until its final one; returns when the stream ends. */
    public void watch(String jobId, Consumer<JobEvent> onEvent) {
        Iterator<JobEvent> events = blocking.watchJob(WatchJobRequest.newBuilder().setJobId(jobId).build());
        while (events.hasNext()) {
            onEvent.accept(events.next());
        }
    }

    /** Downloads a job's result model to a file (written beside it, then moved into place). */
    public long downloadResult(String jobId, Path target) throws IOException {
        return download(DownloadRequest.newBuilder().setJobId(jobId).build(), target);
    }

    public long downloadBlob(String blobId, Path target) throws IOException {
        return download(DownloadRequest.newBuilder().setBlobId(blobId).build(), target);
    }

    public byte[] downloadBlob(String blobId) {
        java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream();
        Iterator<DownloadChunk> chunks = blocking.download(DownloadRequest.newBuilder().setBlobId(blobId).build());
        while (chunks.hasNext()) {
            byte[] data = chunks.next().getData().toByteArray();
            out.write(data, 0, data.length);
        }
        return out.toByteArray();
    }

    private long download(DownloadRequest request, Path target) throws IOException {
        return ChunkStreams.write(blocking.download(request), target);
    }

    static <T> T await(CompletableFuture<T> future) {
        try {
            return future.get();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw Status.CANCELLED.withDescription("interrupted").asRuntimeException();
        } catch (ExecutionException e) {
            if (e.getCause() instanceof RuntimeException runtime) {
                throw runtime;
            }
            throw new IllegalStateException(e.getCause());
        }
    }

    @Override
    public void close() {
        channel.shutdown();
        try {
            if (!channel.awaitTermination(5, TimeUnit.SECONDS)) {
                channel.shutdownNow();
            }
        } catch (InterruptedException e) {
            channel.shutdownNow();
            Thread.currentThread().interrupt();
        }
    }
}
