package io.condense.sdk.weights;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.condense.sdk.data.NdArray;
import io.condense.sdk.data.Npz;
import io.condense.sdk.error.CondenseException;
import io.condense.sdk.error.ErrorCode;
import io.condense.sdk.model.OnnxModel;
import io.condense.sdk.tensor.DataType;
import io.condense.sdk.tensor.Tensor;
import io.condense.sdk.Onnx;
import java.util.List;
import java.util.Random;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class WeightsMergeTest {
    private final OnnxModel base = mlp(1);
    private final OnnxModel other = mlp(2);

    /** x[1, 4] -> Gemm fc1 (3) -> Relu -> Gemm fc2 (2), weights named as torch.onnx.export names them. */
    static OnnxModel mlp(long seed) {
        Random random = new Random(seed);
        return OnnxModel.of(Onnx.model(13, List.of(Onnx.value("x", 1, 4)), List.of(Onnx.value("y", 1, 2)), List.of(
                        Onnx.node("Gemm", List.of("x", "fc1.weight", "fc1.bias"), List.of("h"), Onnx.intAttribute("transB", 1)),
                        Onnx.node("Relu", List.of("h"), List.of("r")),
                        Onnx.node("Gemm", List.of("r", "fc2.weight", "fc2.bias"), List.of("y"), Onnx.intAttribute("transB", 1))),
                List.of(Onnx.floats("fc1.weight", new long[] {3, 4}, values(random, 12)), Onnx.floats("fc1.bias", new long[] {3}, values(random, 3)),
                        Onnx.floats("fc2.weight", new long[] {2, 3}, values(random, 6)), Onnx.floats("fc2.bias", new long[] {2}, values(random, 2)))));
    }

    private static float[] values(Random random, int count) {
        float[] values = new float[count];
        for (int i = 0; i < count; i++) {
            values[i] = (float) random.nextGaussian();
        }
        return values;
    }

    @Test
    void aDeltaReplacesOnlyItsTensors() {
        Tensor fc2 = other.tensor("fc2.weight");

        OnnxModel merged = WeightsMerge.merge(base, Map.of("fc2.weight", fc2));

        assertThat(merged.tensor("fc2.weight").toFloatArray()).containsExactly(fc2.toFloatArray());
        assertThat(merged.tensor("fc1.weight").toFloatArray()).containsExactly(base.tensor("fc1.weight").toFloatArray());
        assertThat(merged.initializers()).hasSameSizeAs(base.initializers());
        assertThat(merged.nodes()).isEqualTo(base.nodes());
        // the merged model runs in ONNX Runtime and computes with the new weights
        float[] input = {1, -2, 0.5f, 3};
        assertThat(Onnx.run(merged, "x", new long[] {1, 4}, input).get(0))
                .isNotEqualTo(Onnx.run(base, "x", new long[] {1, 4}, input).get(0)).hasSize(2);
    }

    @Test
    void readsTheThreeFormatsIntoTheSameTensors(@TempDir Path folder) throws Exception {
        Map<String, Tensor> all = new LinkedHashMap<>();
        Map<String, NdArray> arrays = new LinkedHashMap<>();
        other.initializers().forEach(info -> {
            all.put(info.name(), other.tensor(info.name()));
            arrays.put(info.name(), NdArray.ofFloats(info.shape(), other.tensor(info.name()).toFloatArray()));
        });
        Path npz = folder.resolve("w.npz");
        Npz.write(npz, arrays);

        for (byte[] bytes : new byte[][] {Safetensors.toBytes(all), Files.readAllBytes(npz), other.toBytes()}) {
            Map<String, Tensor> read = WeightsFile.read(bytes, null, "update");
            OnnxModel merged = WeightsMerge.merge(base, read);
            for (String name : all.keySet()) {
                assertThat(merged.tensor(name).toFloatArray()).as(name).containsExactly(all.get(name).toFloatArray());
            }
        }
    }

    @Test
    void everyBadTensorIsNamedAndNothingIsMerged() {
        float[] nan = base.tensor("fc1.bias").toFloatArray();
        nan[1] = Float.NaN;
        Map<String, Tensor> update = new LinkedHashMap<>();
        update.put("fc1.weight", base.tensor("fc1.weight"));
        update.put("conv9.weight", base.tensor("fc1.bias"));
        update.put("fc2.weight", Tensor.fromFloats("fc2.weight", DataType.FLOAT, new long[] {3, 2}, new float[6]));
        update.put("fc2.bias", Tensor.fromFloats("fc2.bias", DataType.FLOAT16, new long[] {2}, new float[2]));
        update.put("fc1.bias", Tensor.fromFloats("fc1.bias", DataType.FLOAT, new long[] {3}, nan));

        assertThatThrownBy(() -> WeightsMerge.merge(base, update))
                .isInstanceOfSatisfying(CondenseException.class, e -> assertThat(e.code()).isEqualTo(ErrorCode.INVALID_DATA))
                .hasMessageContaining("4 problems")
                .hasMessageContaining("tensor 'conv9.weight' is not an initializer of the model")
                .hasMessageContaining("tensor 'fc2.weight' has shape [3, 2] but the model's initializer has shape [2, 3]")
                .hasMessageContaining("tensor 'fc2.bias' is FLOAT16 but the model's initializer is FLOAT")
                .hasMessageContaining("tensor 'fc1.bias' holds NaN at flat index 1");
        assertThatThrownBy(() -> WeightsMerge.merge(base, Map.of())).hasMessageContaining("holds no tensors");
    }
}
