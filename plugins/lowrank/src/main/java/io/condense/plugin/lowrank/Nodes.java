package io.condense.plugin.lowrank;

import ai.onnx.proto.OnnxMl.AttributeProto;
import ai.onnx.proto.OnnxMl.NodeProto;
import io.condense.sdk.model.ModelEditor;
import io.condense.sdk.tensor.DataType;
import io.condense.sdk.tensor.Tensor;

/** Small builders for the nodes and initializers the factorisations write. */
final class Nodes {
    private Nodes() {
    }

    static AttributeProto ints(String name, long... values) {
        AttributeProto.Builder attribute = AttributeProto.newBuilder().setName(name).setType(AttributeProto.AttributeType.INTS);
        for (long value : values) {
            attribute.addInts(value);
        }
        return attribute.build();
    }

    /** A node of the default domain named after {@code baseName} (made unique in the edit). */
    static NodeProto.Builder node(ModelEditor editor, String opType, String baseName) {
        return NodeProto.newBuilder().setOpType(opType).setName(editor.uniqueName(baseName));
    }

    /** Writes a float factor as a new initializer in the weight's element type; returns its name. */
    static String putWeight(ModelEditor editor, String baseName, DataType type, long[] shape, float[] values) {
        String name = editor.uniqueName(baseName);
        editor.putInitializer(Tensor.fromFloats(name, type, shape, values).toProto());
        return name;
    }

    static float[] toFloats(double[] values) {
        float[] out = new float[values.length];
        for (int i = 0; i < values.length; i++) {
            out[i] = (float) values[i];
        }
        return out;
    }

    /** Row-major transpose of a {@code rows x cols} matrix. */
    static double[] transpose(double[] matrix, int rows, int cols) {
        double[] out = new double[matrix.length];
        for (int i = 0; i < rows; i++) {
            int row = i * cols;
            for (int j = 0; j < cols; j++) {
                out[j * rows + i] = matrix[row + j];
            }
        }
        return out;
    }

    static double sumOfSquares(double[] values) {
        double sum = 0;
        for (double value : values) {
            sum += value * value;
        }
        return sum;
    }

    static long product(long[] values, int from, int to) {
        long product = 1;
        for (int i = from; i < to; i++) {
            product = Math.multiplyExact(product, values[i]);
        }
        return product;
    }
}
