package io.condense.sdk.stats;

import io.condense.sdk.model.OnnxModel;
import io.condense.sdk.tensor.DataType;
import java.util.Map;

/**
 * Counts for a model: parameters (elements of every initializer, dense or sparse), non-zero parameters,
 * stored bytes by element type, the serialized size, and multiply-accumulates of Conv, Gemm and MatMul
 * nodes whose shapes are known (per node name too; unknown shapes count 0 and are listed).
 */
public record ModelStats(
        long parameters,
        long nonZeroParameters,
        Map<DataType, Long> bytesByDataType,
        long serializedBytes,
        long macs,
        Map<String, Long> macsByNode) {

    public static ModelStats of(OnnxModel model) {
        // API skeleton: implemented in the SDK core work.
        throw new UnsupportedOperationException();
    }
}
