package io.condense.server.cli;

import static java.util.Objects.requireNonNull;

import io.condense.proto.v1.SubmitRequest;
import io.condense.proto.v1.SubmitResponse;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;

/**
 * The files of one {@code compress --server} command as blob ids: each file's remembered id when this user sent it to
 * that server before and it has not changed since ({@link UploadCache}), otherwise uploaded now and remembered. A
 * remembered id the server no longer holds (collected after its retention) makes Submit answer NOT_FOUND: {@link #submit}
 * then forgets the ids it reused, sends those files and submits again. Blob ids are SHA-256 digests of the bytes, so the
 * files sent again have the ids the request already names.
 */
final class CachedUploads {
    private final CondenseClient client;
    /** Null: every file is sent (--no-upload-cache, or the embedded platform, whose store is new each run). */
    private final UploadCache cache;
    /** Where the command says which files it did not send, and why. */
    private final PrintStream err;
    private final Map<Path, String> reused = new LinkedHashMap<>();

    CachedUploads(CondenseClient client, UploadCache cache, PrintStream err) {
        this.client = requireNonNull(client, "client is null");
        this.cache = cache;
        this.err = requireNonNull(err, "err is null");
    }

    /** A model file's id (a model with external data files goes as a bundle, always sent). */
    String model(Path model) throws IOException {
        Optional<String> known = known(model);
        if (known.isPresent()) {
            return known.get();
        }
        Optional<LocalBundle> bundle = LocalBundle.of(model);
        if (bundle.isPresent()) {
            return client.uploadBundle(bundle.get()).getBlobId();
        }
        return sent(model, client.upload(model).getBlobId());
    }

    /** A data file's id. */
    String data(Path file) throws IOException {
        Optional<String> known = known(file);
        return known.isPresent() ? known.get() : sent(file, client.upload(file).getBlobId());
    }

    /** Submits through {@code submit}, sending the reused files and submitting again when the server lost one of them. */
    <T> T submit(SubmitRequest request, Submission<T> submit) throws IOException {
        try {
            return submit.apply(request);
        } catch (StatusRuntimeException e) {
            if (e.getStatus().getCode() != Status.Code.NOT_FOUND || reused.isEmpty()) {
                throw e;
            }
            cache.forget(reused.values());
            Map<Path, String> again = new LinkedHashMap<>(reused);
            reused.clear();
            err.println("The server no longer holds an earlier upload (" + e.getStatus().getDescription() + "): sending "
                    + again.keySet() + " after all and submitting again");
            for (Path file : again.keySet()) {
                sent(file, client.upload(file).getBlobId());
            }
            return submit.apply(request);
        }
    }

    /** What is done with the request: Submit, or a search that submits it first. */
    @FunctionalInterface
    interface Submission<T> {
        T apply(SubmitRequest request) throws IOException;
    }

    /** Submit itself. */
    SubmitResponse submit(SubmitRequest request) throws IOException {
        return submit(request, client::submit);
    }

    private Optional<String> known(Path file) {
        Optional<String> id = cache == null ? Optional.empty() : cache.blobId(file);
        id.ifPresent(blobId -> {
            reused.put(file, blobId);
            err.println("Not sending " + file + ": sent to this server before and unchanged since (blob " + blobId.substring(0, 12)
                    + "; --no-upload-cache sends it)");
        });
        return id;
    }

    private String sent(Path file, String blobId) {
        if (cache != null) {
            cache.remember(file, blobId);
        }
        return blobId;
    }
}
