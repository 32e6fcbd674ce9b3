package io.condense.server.worker;

import io.condense.sdk.error.CondenseException;
import io.condense.sdk.error.ErrorCode;
import io.condense.sdk.model.OnnxModel;

/** Parses model bytes from the blob store, turning any parse failure into a clear INVALID_MODEL. */
final class ModelLoading {
    private ModelLoading() {
    }

    static OnnxModel parse(byte[] bytes, String what) {
        try {
            return OnnxModel.fromBytes(bytes);
        } catch (CondenseException e) {
            throw e;
        } catch (RuntimeException e) {
            throw new CondenseException(ErrorCode.INVALID_MODEL, what + " (" + bytes.length + " bytes) is not a valid ONNX model: " + e.getMessage(), e);
        }
    }
}
