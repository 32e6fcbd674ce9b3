package io.condense.server.worker;

import io.condense.sdk.error.CondenseException;
import io.condense.sdk.error.ErrorCode;
import io.condense.sdk.eval.Evaluator;
import io.condense.sdk.model.GraphCheck;
import io.condense.sdk.model.IrVersions;
import io.condense.sdk.model.OpsetVersions;
import io.condense.sdk.model.OnnxModel;
import io.condense.server.blob.BlobId;
import io.condense.server.blob.BlobStore;
import io.condense.server.blob.ModelBundles;
import java.nio.file.Path;

/**
 * Loads models from the blob store (a job's model, a step's output, an uploaded model a step parameter names), turning
 * any parse failure into a clear INVALID_MODEL. A model stored as a bundle with its external data files is loaded from
 * files in a folder the caller owns, its tensors memory-mapped one by one (never the whole model in the heap). A model
 * that declares a newer IR version or opset than ONNX Runtime reads, and needs nothing of it, is loaded at the versions
 * ONNX Runtime reads ({@link IrVersions#lowered}, {@link OpsetVersions#lowered}), so its steps, its evaluation and the
 * model written run in ONNX Runtime.
 */
public final class ModelLoading {
    /** The host's runtime, asked for the newest IR version it reads. */
    private static final HostService<Evaluator> RUNTIME = HostService.evaluator();

    private ModelLoading() {
    }

    /**
     * The stored model {@code id}; a bundle is put into {@code folder} first (keep the folder while the model is used;
     * on Linux its memory-mapped tensors stay readable after the folder is deleted).
     */
    public static OnnxModel load(ModelBundles bundles, BlobId id, Path folder, String what) {
        if (bundles.manifest(id).isEmpty()) {
            return parse(bundles.blobs().read(id), what);
        }
        Path file = bundles.materialize(id, folder);
        OnnxModel model;
        try {
            model = OnnxModel.load(file);
        } catch (CondenseException e) {
            throw new CondenseException(e.code(), what + " cannot be loaded: " + e.getMessage(), e);
        } catch (RuntimeException e) {
            throw new CondenseException(ErrorCode.INVALID_MODEL, what + " (a model with external data) is not a valid ONNX model: "
                    + e.getMessage(), e);
        }
        checkGraph(model, what + " (a model with external data)");
        return readable(model);
    }

    static OnnxModel parse(byte[] bytes, String what) {
        OnnxModel model = read(bytes, what);
        checkGraph(model, what + " (" + bytes.length + " bytes)");
        return readable(model);
    }

    /** The model as the host's runtime reads it ({@link Evaluator#readable}); as it is without a runtime. */
    private static OnnxModel readable(OnnxModel model) {
        return RUNTIME.get().map(runtime -> runtime.readable(model)).orElse(model);
    }

    /** The rules OnnxModel leaves to the boundary: names written twice, domains without an opset import. */
    private static void checkGraph(OnnxModel model, String what) {
        java.util.List<String> problems = GraphCheck.problems(model.proto());
        if (!problems.isEmpty()) {
            CondenseException invalid = GraphCheck.invalid(problems);
            throw new CondenseException(invalid.code(), what + " is " + invalid.getMessage(), invalid);
        }
    }

    private static OnnxModel read(byte[] bytes, String what) {
        try {
            return OnnxModel.fromBytes(bytes);
        } catch (CondenseException e) {
            if (e.code() == ErrorCode.INVALID_EXTERNAL_DATA) {
                // the SDK's advice (load it from its file) is for code that has the file; a client of the API has uploaded bytes
                throw new CondenseException(e.code(), what + " (" + bytes.length + " bytes) keeps tensor data in external files, "
                        + "which an upload of one file does not carry (" + e.getMessage().split(", which", 2)[0] + "): upload the "
                        + "model with its data files as a bundle (UploadBundle; condense compress does so when the model names "
                        + "data files beside it)", e);
            }
            throw new CondenseException(e.code(), what + " (" + bytes.length + " bytes) is " + e.getMessage(), e);
        } catch (RuntimeException e) {
            throw new CondenseException(ErrorCode.INVALID_MODEL, what + " (" + bytes.length + " bytes) is not a valid ONNX model: " + e.getMessage(), e);
        }
    }

    /** A model uploaded by the job's tenant; another tenant's blob is answered as if it were not stored. */
    static OnnxModel uploaded(ModelBundles bundles, String id, String tenant, Path folder) {
        BlobStore blobs = bundles.blobs();
        String upload = "upload the model first (UploadModel answers its id: 64 hex digits; the command line uploads a "
                + "parameter value written @file.onnx)";
        BlobId blob;
        try {
            blob = BlobId.of(id);
        } catch (CondenseException e) {
            throw new CondenseException(ErrorCode.INVALID_PARAMETER, "'" + id + "' is not a model id: " + upload);
        }
        if (!blobs.contains(blob) || !blobs.owns(tenant, blob)) {
            throw new CondenseException(ErrorCode.INVALID_PARAMETER, "no uploaded model has the id " + id + ": " + upload);
        }
        return load(bundles, blob, folder, "the uploaded model " + id);
    }
}
