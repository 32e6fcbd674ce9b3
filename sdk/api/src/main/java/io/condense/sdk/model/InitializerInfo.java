package io.condense.sdk.model;

import io.condense.sdk.tensor.DataType;

/**
 * An initializer's name, element type, dense shape, element count, stored size in bytes (values plus
 * indices for a sparse initializer) and whether it is stored as an ONNX sparse initializer.
 */
public record InitializerInfo(String name, DataType dataType, long[] shape, long elements, long bytes, boolean sparse) {
    public InitializerInfo {
        java.util.Objects.requireNonNull(name, "name is null");
        java.util.Objects.requireNonNull(dataType, "dataType is null");
        shape = java.util.Objects.requireNonNull(shape, "shape is null").clone();
    }

    @Override
    public long[] shape() {
        return shape.clone();
    }
}
