package io.condense.server.worker;

import static java.util.Objects.requireNonNull;

import io.condense.proto.v1.events.JobSpec;
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
 * Evaluation, calibration and training data stored as blobs, read with the SDK's readers. A blob has no file name,
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
        return load(inputsId, labelsId, folder, "evaluation");
    }

    /**
     * The data set of an inputs blob and an optional labels blob; empty when no inputs id is given. Error
     * messages name the blobs by their request fields ({@code <purpose>_data_id ID}), not by the scratch
     * files they are read from.
     *
     * @param purpose what the data is for: "evaluation", "calibration" or "train" (the prefix of its request fields)
     */
    Optional<Dataset> load(String inputsId, String labelsId, Path folder, String purpose) {
        if (inputsId.isEmpty()) {
            return Optional.empty();
        }
        Path inputs = link(BlobId.of(inputsId), folder, "inputs");
        Path labels = labelsId.isEmpty() ? null : link(BlobId.of(labelsId), folder, "labels");
        try {
            return Optional.of(DataReaders.dataset(inputs, labels));
        } catch (IllegalArgumentException e) {
            throw new CondenseException(ErrorCode.INVALID_DATA, "the " + purpose + " labels do not fit the inputs: " + e.getMessage(), e);
        } catch (CondenseException e) {
            String message = e.getMessage().replace(inputs.toString(), purpose + "_data_id " + inputsId);
            if (labels != null) {
                message = message.replace(labels.toString(), purpose + "_labels_id " + labelsId);
            }
            throw new CondenseException(e.code(), message, e);
        }
    }

    /** The training set named by a job spec ({@code train_data_id}, {@code train_labels_id}); see {@link #loadTraining(String, String, Path)}. */
    Optional<Dataset> loadTraining(JobSpec spec, Path folder) {
        return loadTraining(spec.getTrainDataId(), spec.getTrainLabelsId(), folder);
    }

    /**
     * The training set of a job: inputs and labels, both required. Empty when the job has no training
     * inputs; DATA_REQUIRED when it has inputs but no labels (an older or hand-made job spec: the API
     * refuses such a Submit); INVALID_DATA when a file cannot be read or the labels' sample count differs from the inputs'. Messages name the blob ids and
     * the options to fix.
     */
    Optional<Dataset> loadTraining(String inputsId, String labelsId, Path folder) {
        if (inputsId.isEmpty()) {
            if (!labelsId.isEmpty()) {
                throw new CondenseException(ErrorCode.INVALID_DATA, "the job has training labels (train_labels_id " + labelsId
                        + ") but no training inputs; submit the inputs with --train-data (train_data_id)");
            }
            return Optional.empty();
        }
        if (labelsId.isEmpty()) {
            throw new CondenseException(ErrorCode.DATA_REQUIRED, "the job has training inputs (train_data_id " + inputsId
                    + ") but no labels; training needs one integer class label per sample: submit them with --train-labels (train_labels_id)");
        }
        try {
            return load(inputsId, labelsId, folder, "train");
        } catch (CondenseException e) {
            if (e.code() != ErrorCode.INVALID_DATA) {
                throw e;
            }
            throw new CondenseException(ErrorCode.INVALID_DATA, "the training data cannot be used: " + e.getMessage()
                    + "; supply training inputs and integer labels with the same number of samples (--train-data, --train-labels)", e);
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
