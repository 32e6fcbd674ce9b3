package io.condense.server.api;

import static java.util.Objects.requireNonNull;

import io.condense.proto.v1.BundleChunk;
import io.condense.proto.v1.BundleData;
import io.condense.proto.v1.BundleFile;
import io.condense.proto.v1.BundleHeader;
import io.condense.proto.v1.UploadResult;
import io.condense.sdk.error.CondenseException;
import io.condense.sdk.error.ErrorCode;
import io.condense.sdk.model.ExternalFiles;
import io.condense.server.Folders;
import io.condense.server.blob.BlobId;
import io.condense.server.blob.BlobWriter;
import io.condense.server.blob.ModelBundles;
import io.condense.server.security.Tenants;
import io.condense.server.worker.ModelLoading;
import io.grpc.stub.StreamObserver;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.Optional;
import java.util.Set;
import java.util.function.Function;
import java.util.stream.Collectors;

/**
 * The server's side of one UploadBundle call: the header, then each file's chunks written straight into the blob store
 * (at most 8 MB of a file in the heap: the chunks still being hashed, BlobWriter), every chunk's place and CRC32C checked as it arrives, every file's size and SHA-256
 * at the end; then the manifest is stored and the model loaded from the stored files (tensors memory-mapped) to check
 * that it is a model and that every data file it names is in the bundle.
 */
final class BundleUpload implements StreamObserver<BundleChunk> {
    private final ModelBundles bundles;
    private final StreamObserver<UploadResult> responses;
    private final Function<Throwable, RuntimeException> toStatus;
    private final UploadQuota quota;
    private BundleHeader header;
    private BlobWriter[] writers;
    private long[] received;
    private long total;
    private boolean failed;

    BundleUpload(ModelBundles bundles, StreamObserver<UploadResult> responses, Function<Throwable, RuntimeException> toStatus) {
        this.bundles = requireNonNull(bundles, "bundles is null");
        this.responses = requireNonNull(responses, "responses is null");
        this.toStatus = requireNonNull(toStatus, "toStatus is null");
        this.quota = new UploadQuota(bundles.blobs());
    }

    @Override
    public void onNext(BundleChunk chunk) {
        if (failed) {
            return;
        }
        try {
            switch (chunk.getPartCase()) {
                case HEADER -> start(chunk.getHeader());
                case DATA -> accept(chunk.getData());
                case PART_NOT_SET -> throw invalid("a bundle message holds neither a header nor data");
            }
        } catch (RuntimeException e) {
            fail(e);
        }
    }

    private void start(BundleHeader announced) {
        if (header != null) {
            throw invalid("the bundle sent a second header; send one BundleHeader first, then only data chunks");
        }
        checkHeader(announced);
        long bytes = ModelBundles.totalBytes(announced);
        quota.check(0, bytes);
        header = announced;
        writers = new BlobWriter[announced.getFilesCount()];
        received = new long[announced.getFilesCount()];
    }

    private static void checkHeader(BundleHeader header) {
        if (header.getFilesCount() == 0) {
            throw invalid("the bundle header lists no files; the first file is the ONNX model, the others the data files it names");
        }
        Set<String> names = new HashSet<>();
        for (int i = 0; i < header.getFilesCount(); i++) {
            BundleFile file = header.getFiles(i);
            String label = "file " + i + " ('" + file.getName() + "') of the bundle header";
            Optional<String> problem = ExternalFiles.locationProblem(file.getName());
            if (problem.isPresent()) {
                throw invalid(label + " has an unusable name: " + problem.get());
            }
            if (!names.add(file.getName())) {
                throw invalid(label + " repeats a name; each file is listed once");
            }
            if (file.getSize() < 0) {
                throw invalid(label + " has a negative size " + file.getSize());
            }
            try {
                BlobId.of(file.getSha256());
            } catch (CondenseException e) {
                throw invalid(label + " has sha256 '" + file.getSha256() + "', which is not 64 lower-case hex digits");
            }
        }
        if (header.getFiles(0).getSize() > Integer.MAX_VALUE) {
            throw invalid("the model file '" + header.getFiles(0).getName() + "' is " + header.getFiles(0).getSize()
                    + " bytes; an ONNX model file cannot exceed 2 GiB: keep its large tensors in data files");
        }
    }

    private void accept(BundleData data) {
        if (header == null) {
            throw invalid("a data chunk came before the bundle header; send the BundleHeader first");
        }
        int index = data.getFile();
        if (index < 0 || index >= writers.length) {
            throw invalid("a data chunk names file " + index + ", but the bundle header lists " + writers.length + " files");
        }
        BundleFile file = header.getFiles(index);
        int size = data.getData().size();
        if (size > CompressionService.MAX_CHUNK_BYTES) {
            throw new CondenseException(ErrorCode.RESOURCE_EXHAUSTED, "a chunk of file '" + file.getName() + "' holds " + size
                    + " bytes; send chunks of at most " + CompressionService.MAX_CHUNK_BYTES + " bytes (1 MiB)");
        }
        if (data.getOffset() != received[index]) {
            throw invalid("a chunk of file '" + file.getName() + "' starts at byte " + data.getOffset() + ", but " + received[index]
                    + " bytes of the file have arrived: a chunk was lost, repeated or sent out of order; send the bundle again");
        }
        if (received[index] + size > file.getSize()) {
            throw invalid("file '" + file.getName() + "' gets more bytes (" + (received[index] + size) + ") than the " + file.getSize()
                    + " its header announced; send the bundle again with the file's real size");
        }
        int crc = Checksums.crc32c(data.getData());
        if (crc != data.getCrc32C()) {
            throw invalid("the chunk of file '" + file.getName() + "' at byte " + data.getOffset() + " (" + size + " bytes) has CRC32C "
                    + Checksums.hex(crc) + ", but its sender computed " + Checksums.hex(data.getCrc32C())
                    + ": the chunk was cut short or corrupted on the way; send the bundle again");
        }
        if (writers[index] == null) {
            writers[index] = bundles.blobs().newWriter();
        }
        writers[index].write(data.getData());
        received[index] += size;
        total += size;
    }

    @Override
    public void onError(Throwable t) {
        abortAll();
    }

    @Override
    public void onCompleted() {
        if (failed) {
            return;
        }
        try {
            if (header == null) {
                throw invalid("the bundle ended without a header; send a BundleHeader, then the files' chunks");
            }
            for (int i = 0; i < writers.length; i++) {
                BundleFile file = header.getFiles(i);
                if (received[i] != file.getSize()) {
                    throw invalid("file '" + file.getName() + "' ended after " + received[i] + " of its " + file.getSize()
                            + " bytes: the upload was cut short; send the bundle again");
                }
                if (writers[i] == null) {
                    writers[i] = bundles.blobs().newWriter();
                }
                writers[i].commitExpecting(BlobId.of(file.getSha256()), "file '" + file.getName() + "' of the bundle");
            }
            BlobId id = bundles.storeManifest(header);
            check(id);
            bundles.grant(Tenants.current(), id);
            responses.onNext(UploadResult.newBuilder().setBlobId(id.hex()).setSize(total).build());
            responses.onCompleted();
        } catch (RuntimeException e) {
            fail(e);
        }
    }

    /** Loads the stored bundle as a step would: a model, and every data file it names present and long enough. */
    private void check(BlobId id) {
        Path folder = bundles.blobs().newTemporaryFolder();
        try {
            String files = header.getFilesList().stream().map(BundleFile::getName).collect(Collectors.joining(", "));
            ModelLoading.load(bundles, id, folder, "the uploaded bundle (" + files + ")");
        } finally {
            Folders.deleteRecursively(folder);
        }
    }

    private void fail(RuntimeException e) {
        failed = true;
        abortAll();
        responses.onError(toStatus.apply(e));
    }

    private void abortAll() {
        if (writers != null) {
            for (BlobWriter writer : writers) {
                if (writer != null) {
                    writer.abort();
                }
            }
        }
    }

    private static CondenseException invalid(String message) {
        return new CondenseException(ErrorCode.INVALID_DATA, message);
    }
}
