package io.condense.server.worker;

import io.condense.sdk.error.CondenseException;
import io.condense.sdk.error.ErrorCode;
import io.condense.sdk.model.GraphCheck;
import io.condense.sdk.model.OnnxModel;
import io.condense.server.blob.BlobId;
import io.condense.server.blob.BlobStore;

/** Parses model bytes from the blob store (a job's model, an uploaded model a step parameter names), turning any parse failure into a clear INVALID_MODEL. */
final class ModelLoading {
    private ModelLoading() {
    }

    static OnnxModel parse(byte[] bytes, String what) {
        OnnxModel model = read(bytes, what);
        // the rules OnnxModel leaves to the boundary: names written twice, domains without an opset import
        java.util.List<String> problems = GraphCheck.problems(model.proto());
        if (!problems.isEmpty()) {
            CondenseException invalid = GraphCheck.invalid(problems);
            throw new CondenseException(invalid.code(), what + " (" + bytes.length + " bytes) is " + invalid.getMessage(), invalid);
        }
        return model;
    }

    private static OnnxModel read(byte[] bytes, String what) {
        try {
            return OnnxModel.fromBytes(bytes);
        } catch (CondenseException e) {
            if (e.code() == ErrorCode.INVALID_EXTERNAL_DATA) {
                // the SDK's advice (load it from its file) is for code that has the file; a client of the API has uploaded bytes
                throw new CondenseException(e.code(), what + " (" + bytes.length + " bytes) keeps tensor data in external files, "
                        + "which an upload does not carry (" + e.getMessage().split(", which", 2)[0] + "): upload the model with "
                        + "its tensors inline, for example in Python onnx.save_model(onnx.load(path), inline_path, "
                        + "save_as_external_data=False) for a model under 2 GB", e);
            }
            throw new CondenseException(e.code(), what + " (" + bytes.length + " bytes) is " + e.getMessage(), e);
        } catch (RuntimeException e) {
            throw new CondenseException(ErrorCode.INVALID_MODEL, what + " (" + bytes.length + " bytes) is not a valid ONNX model: " + e.getMessage(), e);
        }
    }

    /** A model uploaded by the client (a step parameter names it by blob id), parsed like a job's model. */
    static OnnxModel uploaded(BlobStore blobs, String id) {
        return uploaded(blobs, id, "");
    }

    /** A model uploaded by the job's tenant; another tenant's blob is answered as if it were not stored. */
    static OnnxModel uploaded(BlobStore blobs, String id, String tenant) {
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
        return ModelLoading.parse(blobs.read(blob), "the uploaded model " + id);
    }
}
