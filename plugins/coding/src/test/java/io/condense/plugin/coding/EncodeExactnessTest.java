package io.condense.plugin.coding;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assumptions.assumeThat;

import ai.onnx.proto.OnnxMl.SparseTensorProto;
import ai.onnx.proto.OnnxMl.TensorProto;
import io.condense.sdk.coding.PackedModel;
import io.condense.sdk.data.NdArray;
import io.condense.sdk.eval.Evaluator;
import io.condense.sdk.eval.InferenceSession;
import io.condense.sdk.eval.ValueSpec;
import io.condense.sdk.model.OnnxModel;
import io.condense.sdk.technique.Report;
import io.condense.sdk.technique.TechniqueResult;
import io.condense.sdk.tensor.DataType;
import io.condense.sdk.tensor.Tensor;
import io.condense.sdk.testkit.Evaluators;
import io.condense.sdk.testkit.SharedData;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Decoding is exact: for every kind of model encode receives in a pipeline (float, pruned dense and sparse, k-means
 * shared, int8 and int4 QDQ, binary, ternary, float16), the packed file decodes to a model whose every initializer
 * is bit-identical to the input's and whose outputs in ONNX Runtime are bit-identical on the same inputs, with each
 * entropy coding (arithmetic, huffman, zstd, none).
 */
class EncodeExactnessTest {
    private static final int SAMPLES = 4;

    @ParameterizedTest(name = "{0}: {1}")
    @CsvSource(delimiter = ';', value = {
            "mnist8/model.onnx; ''",
            "pytorch_cnn_mnist.onnx; ''",
            "ultraface/version-slim-320.onnx; ''",
            "pytorch_cnn_mnist.onnx; prune(sparsity=0.9)",
            "pytorch_cnn_mnist.onnx; prune(sparsity=0.9, storage=dense)",
            "mnist8/model.onnx; prune(sparsity=0.8, scope=global)",
            "pytorch_cnn_mnist.onnx; prune(sparsity=0.9, storage=dense) | quantize(scheme=kmeans, bits=6)",
            "ultraface/version-RFB-320.onnx; prune(sparsity=0.7, storage=dense) | quantize(scheme=kmeans, bits=5)",
            "pytorch_cnn_mnist.onnx; quantize(bits=8)",
            "pytorch_cnn_mnist.onnx; prune(sparsity=0.8, storage=dense) | quantize(bits=8)",
            "pytorch_cnn_mnist.onnx; quantize(bits=4, granularity=block)",
            "ultraface/version-slim-320.onnx; quantize(bits=4, granularity=block)",
            "pytorch_cnn_mnist.onnx; binarize",
            "pytorch_cnn_mnist.onnx; ternarize",
            "pytorch_cnn_mnist.onnx; quantize(dtype=fp16)",
            "pytorch_cnn_mnist.onnx; prune(sparsity=0.9, storage=dense) | quantize(scheme=kmeans, bits=4) | quantize(dtype=fp16, scope=initializers, min_elements=16)",
    })
    void decodedModelIsBitIdentical(String modelPath, String chain) {
        assumeThat(SharedData.isAvailable()).as("shared models folder").isTrue();
        OnnxModel input = Pipelines.run(OnnxModel.load(SharedData.model(modelPath)), chain);
        for (String entropy : List.of("arithmetic", "huffman", "zstd", "none")) {
            TechniqueResult result = Pipelines.apply(new EncodeTechnique(), input, Map.of("entropy", entropy));
            assertThat(result.packed()).isPresent();
            byte[] packed = result.packed().get().toByteArray();
            OnnxModel decoded = PackedModel.decode(packed);
            assertInitializersIdentical(input, decoded);
            assertOutputsIdentical(input, decoded);
            Report report = result.report();
            System.out.printf("%s %s entropy=%s: %d -> %d bytes (%.2fx), gzip -9 %d (%.2fx), %s tensors coded%n", modelPath, chain,
                    entropy, input.serializedSize(), packed.length, report.get("ratio"), report.get("gzip_bytes"),
                    report.get("gzip_ratio"), report.get("tensors_coded"));
            assertThat(report.get("packed_bytes")).isEqualTo((long) packed.length);
            assertThat(report.get("original_bytes")).isEqualTo(input.serializedSize());
            if (!entropy.equals("zstd") && !entropy.equals("none") && (chain.contains("prune") || chain.contains("ternarize") || chain.contains("binarize"))) {
                // what the format is for: smaller than gzip -9 of the same ONNX file
                assertThat((long) packed.length).as("packed vs gzip -9").isLessThan((Long) report.get("gzip_bytes"));
            }
        }
    }

    @Test
    void codebooksStoredInFloat16AreStillNamedInTheReport() {
        assumeThat(SharedData.isAvailable()).as("shared models folder").isTrue();
        OnnxModel input = Pipelines.run(OnnxModel.load(SharedData.model("pytorch_cnn_mnist.onnx")),
                "prune(sparsity=0.9, storage=dense) | quantize(scheme=kmeans, bits=4) | quantize(dtype=fp16, scope=initializers, min_elements=16)");
        Report report = Pipelines.apply(new EncodeTechnique(), input, Map.of()).report();
        assertThat(report.layers()).filteredOn(layer -> layer.containsKey("codebook")).isNotEmpty()
                .allSatisfy(layer -> assertThat((String) layer.get("codebook")).endsWith("_codebook_fp16"));
    }

    static void assertInitializersIdentical(OnnxModel input, OnnxModel decoded) {
        assertThat(decoded.graph().getInitializerCount()).isEqualTo(input.graph().getInitializerCount());
        assertThat(decoded.graph().getSparseInitializerCount()).isEqualTo(input.graph().getSparseInitializerCount());
        assertThat(decoded.graph().getNodeList()).isEqualTo(input.graph().getNodeList());
        for (TensorProto tensor : input.graph().getInitializerList()) {
            TensorProto other = decoded.initializer(tensor.getName()).orElseThrow();
            assertThat(other.getDataType()).isEqualTo(tensor.getDataType());
            assertThat(other.getDimsList()).isEqualTo(tensor.getDimsList());
            assertThat(Tensor.fromProto(other).rawByteString()).as(tensor.getName()).isEqualTo(Tensor.fromProto(tensor).rawByteString());
        }
        for (SparseTensorProto sparse : input.graph().getSparseInitializerList()) {
            SparseTensorProto other = decoded.sparseInitializer(sparse.getValues().getName()).orElseThrow();
            assertThat(other.getDimsList()).isEqualTo(sparse.getDimsList());
            assertThat(Tensor.fromProto(other.getValues()).rawByteString()).isEqualTo(Tensor.fromProto(sparse.getValues()).rawByteString());
            assertThat(Tensor.fromProto(other.getIndices()).toLongArray()).isEqualTo(Tensor.fromProto(sparse.getIndices()).toLongArray());
            assertThat(other.getIndices().getName()).isEqualTo(sparse.getIndices().getName());
        }
    }

    static void assertOutputsIdentical(OnnxModel input, OnnxModel decoded) {
        Evaluator evaluator = Evaluators.fromServiceLoader();
        try (InferenceSession before = evaluator.open(input); InferenceSession after = evaluator.open(decoded)) {
            Random random = new Random(7);
            for (int sample = 0; sample < SAMPLES; sample++) {
                Map<String, NdArray> feeds = new LinkedHashMap<>();
                for (ValueSpec spec : before.inputs()) {
                    long[] shape = spec.shape().clone();
                    for (int i = 0; i < shape.length; i++) {
                        shape[i] = shape[i] < 1 ? 1 : shape[i];
                    }
                    float[] values = new float[Math.toIntExact(NdArray.elementCount(shape))];
                    for (int i = 0; i < values.length; i++) {
                        values[i] = random.nextFloat() * 2 - 1;
                    }
                    assertThat(spec.dataType()).isEqualTo(DataType.FLOAT);
                    feeds.put(spec.name(), NdArray.ofFloats(shape, values));
                }
                Map<String, NdArray> expected = before.run(feeds);
                Map<String, NdArray> actual = after.run(feeds);
                assertThat(actual.keySet()).isEqualTo(expected.keySet());
                for (String name : expected.keySet()) {
                    float[] e = expected.get(name).toFloatArray();
                    float[] a = actual.get(name).toFloatArray();
                    int[] eBits = new int[e.length];
                    int[] aBits = new int[a.length];
                    for (int i = 0; i < e.length; i++) {
                        eBits[i] = Float.floatToRawIntBits(e[i]);
                    }
                    for (int i = 0; i < a.length; i++) {
                        aBits[i] = Float.floatToRawIntBits(a[i]);
                    }
                    assertThat(Arrays.equals(eBits, aBits)).as("output %s bit-identical", name).isTrue();
                }
            }
        }
    }
}
