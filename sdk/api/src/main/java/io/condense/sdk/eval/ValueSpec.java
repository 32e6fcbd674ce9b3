package io.condense.sdk.eval;

import static java.util.Objects.requireNonNull;

import io.condense.sdk.tensor.DataType;

/** A model input or output: name, element type and shape, with -1 for a dynamic dimension. */
public record ValueSpec(String name, DataType dataType, long[] shape) {
    public ValueSpec {
        requireNonNull(name, "name is null");
        requireNonNull(dataType, "dataType is null");
        shape = requireNonNull(shape, "shape is null").clone();
    }

    @Override
    public long[] shape() {
        return shape.clone();
    }
}
