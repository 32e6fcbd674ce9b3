package io.condense.server.training;

import io.condense.sdk.model.OnnxModel;
import io.condense.sdk.tensor.DataType;
import java.util.Random;

/**
 * One graph using every supported operator with the attributes that change its meaning: asymmetric and SAME_UPPER
 * pads, strides, dilations, grouped and depthwise Conv, ceil-mode MaxPool, AveragePool counting pads, batch
 * normalization, Clip as attributes (opset 9) or inputs (13), Softmax's axis as each opset means it, Reshape with 0
 * and -1, Gemm with transA/alpha/beta, and (opset 13) QuantizeLinear/DequantizeLinear with per-axis int8 weights.
 */
final class OperatorZoo {
    private OperatorZoo() {
    }

    static OnnxModel model(long opset) {
        GraphBuilder b = new GraphBuilder(opset, 11);
        b.input("image", 0, 1, 28, 28);
        String x = b.node("Conv", new String[] {"image", b.weight("c1.w", 9, 4, 1, 3, 3), b.weight("c1.b", 9, 4)},
                "pads", new long[] {1, 0, 2, 1}, "strides", new long[] {2, 2});
        b.uniform("bn.mean", 0.1, 4);
        float[] variance = {0.5f, 1.5f, 0.8f, 2f};
        b.floats("bn.var", new long[] {4}, variance);
        x = b.node("BatchNormalization", new String[] {x, b.uniform("bn.scale", 1.5, 4), b.uniform("bn.bias", 0.5, 4), "bn.mean", "bn.var"},
                "epsilon", 1e-3f);
        x = b.node("LeakyRelu", x, "alpha", 0.2f);
        x = b.node("Conv", new String[] {x, b.weight("c2.w", 18, 8, 2, 3, 3)}, "group", 2L, "pads", new long[] {2, 2, 2, 2},
                "dilations", new long[] {2, 2});
        x = b.node("Conv", new String[] {x, b.weight("dw.w", 9, 8, 1, 3, 3), b.weight("dw.b", 9, 8)}, "group", 8L,
                "auto_pad", "SAME_UPPER", "strides", new long[] {2, 2});
        String joined = b.node("Concat", new String[] {b.node("Sigmoid", x), b.node("Tanh", x)}, "axis", 1L);
        joined = b.node("AveragePool", joined, "kernel_shape", new long[] {2, 2}, "pads", new long[] {0, 0, 1, 1},
                "count_include_pad", 1L);
        String pooled = opset >= 10
                ? b.node("MaxPool", joined, "kernel_shape", new long[] {3, 3}, "strides", new long[] {2, 2}, "pads",
                        new long[] {1, 1, 1, 1}, "ceil_mode", 1L)
                : b.node("MaxPool", joined, "kernel_shape", new long[] {3, 3}, "strides", new long[] {2, 2}, "pads",
                        new long[] {1, 1, 1, 1});
        String clipped = opset >= 11
                ? b.node("Clip", new String[] {pooled, b.constant("clip.min", 0f), b.constant("clip.max", 0.6f)})
                : b.node("Clip", pooled, "min", 0f, "max", 0.6f);
        b.nodeWithOutput("Softmax", new String[] {b.node("Relu", clipped)}, "softmax4d", "axis", 1L);
        String global = b.node("Flatten", b.node("GlobalAveragePool", clipped), "axis", 1L);
        String transposed = b.node("Transpose", clipped, "perm", new long[] {0, 2, 3, 1});
        String flat = b.node("Reshape", new String[] {transposed, b.longs("shape", 0, -1)});
        String features = b.node("Concat", new String[] {global, flat}, "axis", -1L);
        features = opset >= 12 ? b.node("Dropout", new String[] {features, b.constant("ratio", 0.3f)})
                : b.node("Dropout", features, "ratio", 0.3f);
        long width = 16 + 16 * (opset >= 10 ? 20 : 16);
        String weight;
        if (opset >= 13) {
            Random random = new Random(4);
            byte[] levels = new byte[Math.toIntExact(10 * width)];
            for (int i = 0; i < levels.length; i++) {
                levels[i] = (byte) (random.nextInt(255) - 127);
            }
            b.bytes("fc.levels", DataType.INT8, new long[] {10, width}, levels);
            float[] scales = new float[10];
            for (int i = 0; i < 10; i++) {
                scales[i] = 0.002f * (i + 1);
            }
            b.floats("fc.scales", new long[] {10}, scales);
            weight = b.node("DequantizeLinear", new String[] {"fc.levels", "fc.scales"}, "axis", 0L);
            b.floats("act.scale", new long[0], new float[] {0.01f});
            b.bytes("act.zero", DataType.UINT8, new long[0], new byte[] {(byte) 20});
            features = b.node("DequantizeLinear", new String[] {
                    b.node("QuantizeLinear", new String[] {features, "act.scale", "act.zero"}), "act.scale", "act.zero"});
        } else {
            weight = b.weight("fc.w", width, 10, width);
        }
        String y = b.node("Gemm", new String[] {features, weight, b.weight("fc.b", width, 10)}, "transB", 1L);
        y = b.node("MatMul", new String[] {y, b.weight("mm.w", 10, 10, 10)});
        y = b.node("Add", new String[] {y, b.weight("mm.b", 10, 10)});
        y = b.node("Gemm", new String[] {b.node("Transpose", y, "perm", new long[] {1, 0}), b.weight("g2.w", 10, 10, 10),
                b.weight("g2.c", 10, 10)}, "transA", 1L, "alpha", 0.5f, "beta", 2f);
        y = b.node("Sub", new String[] {y, b.constant("shift", 0.25f)});
        y = b.node("Mul", new String[] {y, b.constant("gain", 3f)});
        y = b.node("Div", new String[] {y, b.constant("divisor", 2f)});
        String probabilities = b.node("LogSoftmax", b.node("Identity", y), "axis", 1L);
        b.nodeWithOutput("Add", new String[] {probabilities, b.constant("zero", 0f)}, "log_probabilities");
        return b.output("log_probabilities", 0, 10).output("softmax4d", 0, 16, opset >= 10 ? 5 : 4, opset >= 10 ? 4 : 4).build();
    }
}
