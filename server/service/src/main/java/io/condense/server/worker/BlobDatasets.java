package io.condense.server.worker;

import static java.util.Objects.requireNonNull;

import io.condense.sdk.data.DataReaders;
import io.condense.sdk.data.Dataset;
import io.condense.sdk.error.CondenseException;
import io.condense.sdk.error.ErrorCode;
import io.condense.server.blob.BlobId;
import io.condense.server.blob.BlobStore;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;

/**
 * Evaluation and calibration data stored as blobs, read with the SDK's readers. A blob has no file name,
 * so the format is recognised from its first bytes (.npy, .npz, gzip-compressed IDX or raw IDX) and the
 * blob is linked into the step's scratch folder under a name with the matching extension.
 */
final class BlobDatasets {
    private final BlobStore blobs;

    BlobDatasets(BlobStore blobs) {
        this.blobs = requireNonNull(blobs, "blobs is null");
    }

    /** The data set of an inputs blob and an optional labels blob; empty when no inputs id is given. */
    Optional<Dataset> load(String inputsId, String labelsId, Path folder) {
        if (inputsId.isEmpty()) {
            return Optional.empty();
        }
        Path inputs = link(BlobId.of(inputsId), folder, "inputs");
        Path labels = labelsId.isEmpty() ? null : link(BlobId.of(labelsId), folder, "labels");
        try {
            return Optional.of(DataReaders.dataset(inputs, labels));
        } catch (IllegalArgumentException e) {
            throw new CondenseException(ErrorCode.INVALID_DATA, "the evaluation labels do not fit the inputs: " + e.getMessage(), e);
        }
    }

    private Path link(BlobId id, Path folder, String name) {
        Path blob = blobs.require(id);
        try {
            Files.createDirectories(folder);
            Path named = folder.resolve(name + extension(blob));
            Files.createSymbolicLink(named, blob.toAbsolutePath());
            return named;
        } catch (IOException e) {
            throw new CondenseException(ErrorCode.UNAVAILABLE, "cannot prepare data blob " + id + ": " + e.getMessage(), e);
        }
    }

    private static String extension(Path blob) throws IOException {
        byte[] head = new byte[6];
        int read;
        try (InputStream in = Files.newInputStream(blob)) {
            read = in.readNBytes(head, 0, head.length);
        }
        if (read >= 6 && (head[0] & 0xFF) == 0x93 && head[1] == 'N' && head[2] == 'U' && head[3] == 'M' && head[4] == 'P' && head[5] == 'Y') {
            return ".npy";
        }
        if (read >= 2 && head[0] == 'P' && head[1] == 'K') {
            return ".npz";
        }
        if (read >= 2 && (head[0] & 0xFF) == 0x1F && (head[1] & 0xFF) == 0x8B) {
            return "-idx.gz";
        }
        return "-idx";
    }
}
