package io.condense.sdk.calibration;

import static io.condense.sdk.Onnx.floats;
import static io.condense.sdk.Onnx.intAttribute;
import static io.condense.sdk.Onnx.intsAttribute;
import static io.condense.sdk.Onnx.node;
import static io.condense.sdk.Onnx.value;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OnnxValue;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import ai.onnx.proto.OnnxMl.AttributeProto;
import ai.onnx.proto.OnnxMl.NodeProto;
import ai.onnx.proto.OnnxMl.TensorProto;
import ai.onnx.proto.OnnxMl.ValueInfoProto;
import io.condense.sdk.Onnx;
import io.condense.sdk.SharedFiles;
import io.condense.sdk.context.StepContext;
import io.condense.sdk.data.Dataset;
import io.condense.sdk.data.NdArray;
import io.condense.sdk.error.CondenseException;
import io.condense.sdk.error.ErrorCode;
import io.condense.sdk.eval.EvaluationRequest;
import io.condense.sdk.eval.EvaluationResult;
import io.condense.sdk.eval.Evaluator;
import io.condense.sdk.eval.InferenceSession;
import io.condense.sdk.eval.ValueSpec;
import io.condense.sdk.model.OnnxModel;
import io.condense.sdk.model.WeightLayer;
import io.condense.sdk.quantization.ActivationCalibrator;
import io.condense.sdk.technique.Parameters;
import io.condense.sdk.tensor.DataType;
import io.condense.sdk.tensor.Tensor;
import io.micrometer.core.instrument.MeterRegistry;
import java.io.IOException;
import java.nio.FloatBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Random;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * X^T X checked against ONNX Runtime itself: for every output channel, w^T (X^T X) w must equal the sum of squares of
 * that channel's output (bias removed) over all positions and samples, with w the channel's weights in the weight's
 * own order. That holds only when the rows are gathered exactly as the runtime's Conv (strides, pads, auto_pad,
 * dilations, groups), Gemm or MatMul reads them, in the documented column order.
 */
class LayerInputGramTest {

    @ParameterizedTest(name = "{0}")
    @CsvSource({"models/ultraface/version-RFB-320.onnx", "models/pytorch_cnn_mnist.onnx", "models/mnist8/model.onnx"})
    void outputEnergyMatchesTheRuntimeOnSharedModels(String name) throws IOException {
        OnnxModel model = OnnxModel.load(SharedFiles.require(name)).edit().foldConstantReshapes().build();
        List<NdArray> inputs = new ArrayList<>();
        if (name.contains("ultraface")) {
            inputs.add(readTensor(SharedFiles.require("models/ultraface/test_data/img1_input_0.pb")));
        } else if (name.contains("mnist8")) {
            inputs.add(readTensor(SharedFiles.require("models/mnist8/test_data_set_0/input_0.pb")));
            inputs.add(random(inputs.get(0).shape(), 3));
        } else {
            long[] shape = inputShape(model);
            inputs.add(random(shape, 1));
            inputs.add(random(shape, 2));
        }
        List<WeightLayer> layers = new ArrayList<>();
        Set<String> kinds = new HashSet<>();
        for (WeightLayer layer : model.weightLayers()) {
            LayerInputGram gram = LayerInputGram.of(layer, model.tensor(layer.weightName()).shape());
            String kind = layer.opType() + " groups>1=" + (gram.groups() > 1) + " " + layer.node().getAttributeList().stream()
                    .filter(a -> !a.getName().equals("group")).map(a -> a.getName() + "=" + a.getIntsList()).toList();
            if (gram.columns() <= 600 && kinds.add(kind)) {
                layers.add(layer);
            }
        }
        assertThat(layers).isNotEmpty();
        if (name.contains("ultraface")) {
            assertThat(kinds).anyMatch(kind -> kind.contains("groups>1=true"));
        }
        assertOutputEnergy(model, layers, inputs);
    }

    @Test
    void convolutionsWithGroupsStridesPadsDilationsAndAutoPad() {
        Random random = new Random(11);
        List<NodeProto> nodes = new ArrayList<>();
        List<TensorProto> weights = new ArrayList<>();
        nodes.add(node("Conv", List.of("x", "w_grouped", "b_grouped"), List.of("grouped"), intAttribute("group", 2),
                intsAttribute("strides", 2, 1), intsAttribute("dilations", 1, 2), intsAttribute("pads", 1, 0, 0, 2)));
        weights.add(floats("w_grouped", new long[] {6, 2, 3, 2}, values(random, 72)));
        weights.add(floats("b_grouped", new long[] {6}, values(random, 6)));
        int index = 0;
        for (String autoPad : List.of("SAME_UPPER", "SAME_LOWER", "VALID")) {
            String weight = "w_" + autoPad.toLowerCase(java.util.Locale.ROOT);
            nodes.add(node("Conv", List.of("x", weight), List.of("out_" + index++), stringAttribute("auto_pad", autoPad),
                    intsAttribute("strides", 2, 3), intsAttribute("kernel_shape", 3, 2)));
            weights.add(floats(weight, new long[] {5, 4, 3, 2}, values(random, 120)));
        }
        List<ValueInfoProto> outputs = List.of(output("grouped"), output("out_0"), output("out_1"), output("out_2"));
        OnnxModel model = OnnxModel.of(Onnx.model(13, List.of(value("x", 2, 4, 7, 9)), outputs, nodes, weights));
        assertThat(model.weightLayers()).hasSize(4);
        assertOutputEnergy(model, model.weightLayers(), List.of(random(new long[] {2, 4, 7, 9}, 5), random(new long[] {2, 4, 7, 9}, 6)));
    }

    @Test
    void oneDimensionalConvolution() {
        Random random = new Random(12);
        NodeProto conv = node("Conv", List.of("x", "w", "b"), List.of("y"), intsAttribute("strides", 2), intsAttribute("dilations", 2),
                intsAttribute("pads", 2, 1));
        OnnxModel model = OnnxModel.of(Onnx.model(13, List.of(value("x", 2, 3, 10)), List.of(output("y")), List.of(conv),
                List.of(floats("w", new long[] {4, 3, 3}, values(random, 36)), floats("b", new long[] {4}, values(random, 4)))));
        assertOutputEnergy(model, model.weightLayers(), List.of(random(new long[] {2, 3, 10}, 7)));
    }

    @Test
    void gemmAndMatMulInEveryOrientation() {
        Random random = new Random(13);
        List<NodeProto> nodes = List.of(
                node("Gemm", List.of("a", "w_gemm"), List.of("gemm")),
                node("Gemm", List.of("a", "w_gemm_transposed", "b_gemm"), List.of("gemm_transposed"), intAttribute("transB", 1)),
                node("Transpose", List.of("a"), List.of("a_transposed")),
                node("Gemm", List.of("a_transposed", "w_gemm"), List.of("gemm_trans_a"), intAttribute("transA", 1)),
                node("Reshape", List.of("a", "shape"), List.of("a3")),
                node("MatMul", List.of("a3", "w_gemm"), List.of("matmul")),
                node("Transpose", List.of("a3"), List.of("a3_transposed"), intsAttribute("perm", 0, 2, 1)),
                node("MatMul", List.of("w_first", "a3_transposed"), List.of("matmul_first")));
        List<TensorProto> initializers = List.of(floats("w_gemm", new long[] {5, 4}, values(random, 20)),
                floats("w_gemm_transposed", new long[] {4, 5}, values(random, 20)), floats("b_gemm", new long[] {4}, values(random, 4)),
                floats("w_first", new long[] {3, 5}, values(random, 15)),
                Tensor.fromLongs("shape", new long[] {3}, new long[] {2, 3, 5}).toProto());
        List<ValueInfoProto> outputs = List.of(output("gemm"), output("gemm_transposed"), output("gemm_trans_a"), output("matmul"),
                output("matmul_first"));
        OnnxModel model = OnnxModel.of(Onnx.model(13, List.of(value("a", 6, 5)), outputs, nodes, initializers));
        assertThat(model.weightLayers()).hasSize(5);
        assertOutputEnergy(model, model.weightLayers(), List.of(random(new long[] {6, 5}, 8), random(new long[] {6, 5}, 9)));
    }

    @Test
    void accumulateStreamsTheDataThroughTheEvaluator() {
        Random random = new Random(14);
        NodeProto conv = node("Conv", List.of("x", "w"), List.of("c"), intsAttribute("pads", 1, 1, 1, 1));
        NodeProto relu = node("Relu", List.of("c"), List.of("r"));
        NodeProto flatten = node("Flatten", List.of("r"), List.of("f"));
        NodeProto gemm = node("Gemm", List.of("f", "w_fc"), List.of("y"));
        OnnxModel model = OnnxModel.of(Onnx.model(13, List.of(value("x", 1, 2, 4, 4)), List.of(output("y")), List.of(conv, relu, flatten, gemm),
                List.of(floats("w", new long[] {3, 2, 3, 3}, values(random, 54)), floats("w_fc", new long[] {48, 2}, values(random, 96)))));
        int samples = 5;
        float[] data = values(random, samples * 32);
        Dataset dataset = Dataset.of(NdArray.ofFloats(new long[] {samples, 2, 4, 4}, data));
        List<Double> progress = new ArrayList<>();
        List<LayerInputGram> grams = LayerInputGram.accumulate(model, model.weightLayers(), dataset, 4, new RuntimeContext(progress),
                0.25, 0.5, "test");
        assertThat(grams).hasSize(2);
        assertThat(grams.get(0).rows()).isEqualTo(4 * 16);
        assertThat(grams.get(1).rows()).isEqualTo(4);
        assertThat(progress).containsExactly(0.25);

        List<NdArray> inputs = new ArrayList<>();
        for (int sample = 0; sample < 4; sample++) {
            inputs.add(dataset.inputs().slice(sample, 1));
        }
        assertOutputEnergy(model, model.weightLayers(), inputs);
        // the streamed matrices equal the ones fed directly
        List<LayerInputGram> direct = direct(model, model.weightLayers(), inputs);
        for (int i = 0; i < 2; i++) {
            double[] streamed = grams.get(i).gram(0);
            double[] expected = direct.get(i).gram(0);
            for (int j = 0; j < expected.length; j++) {
                assertThat(streamed[j]).isCloseTo(expected[j], within(1e-9 * (1 + Math.abs(expected[j]))));
            }
        }
    }

    /**
     * {@link LayerInputGrams} gives every weight the Grams {@link LayerInputGram#accumulate} gives its layers, whether they
     * are summed during the pass or spilled and summed back from files (budget 0); two weights reading one input share one
     * Gram; the spill files are gone after close.
     */
    @ParameterizedTest(name = "budget {0} bytes")
    @CsvSource({"0", "1073741824"})
    void groupedGramsEqualTheLayersOwnWhetherSpilledOrKept(long budget, @TempDir Path scratch) throws IOException {
        Random random = new Random(21);
        NodeProto q = node("MatMul", List.of("x", "wq"), List.of("q"));
        NodeProto k = node("MatMul", List.of("x", "wk"), List.of("k"));
        NodeProto add = node("Add", List.of("q", "k"), List.of("s"));
        NodeProto relu = node("Relu", List.of("s"), List.of("r"));
        NodeProto o = node("MatMul", List.of("r", "wo"), List.of("y"));
        OnnxModel model = OnnxModel.of(Onnx.model(13, List.of(value("x", 1, 3, 6)), List.of(output("y")), List.of(q, k, add, relu, o),
                List.of(floats("wq", new long[] {6, 5}, values(random, 30)), floats("wk", new long[] {6, 5}, values(random, 30)),
                        floats("wo", new long[] {5, 4}, values(random, 20)))));
        Dataset dataset = Dataset.of(NdArray.ofFloats(new long[] {7, 3, 6}, values(random, 7 * 18)));
        List<WeightLayer> layers = model.weightLayers();
        List<LayerInputGram> expected = LayerInputGram.accumulate(model, layers, dataset, 6, new RuntimeContext(new ArrayList<>()),
                0.0, 0.5, "test");

        RuntimeContext context = new RuntimeContext(new ArrayList<>(), scratch);
        List<List<WeightLayer>> weights = layers.stream().map(List::of).toList();
        try (LayerInputGrams grams = LayerInputGrams.measure(model, weights, dataset, 6, context, 0.0, 0.5, "test", budget)) {
            assertThat(grams.spilledInputs()).isEqualTo(budget == 0 ? 2 : 0);
            assertThat(grams.spilledBytes()).isEqualTo(budget == 0 ? 6L * (18 + 15) * 4 : 0);
            List<LayerInputGram> first = null;
            for (int weight = 0; weight < layers.size(); weight++) {
                List<LayerInputGram> inputs = grams.inputsOf(weight, context);
                assertThat(inputs).hasSize(1);
                assertThat(inputs.get(0).rows()).isEqualTo(expected.get(weight).rows());
                assertThat(inputs.get(0).gram(0)).containsExactly(expected.get(weight).gram(0));
                if (weight == 0) {
                    first = inputs;
                } else if (layers.get(weight).weightName().equals("wk")) {
                    assertThat(inputs.get(0)).as("q and k read x: one Gram").isSameAs(first.get(0));
                }
            }
        }
        try (var left = Files.walk(scratch)) {
            assertThat(left.filter(Files::isRegularFile)).as("spill files deleted").isEmpty();
        }
    }

    @Test
    void refusesWhatItCannotGather() {
        NodeProto conv3d = node("Conv", List.of("x", "w"), List.of("y"));
        OnnxModel model = OnnxModel.of(Onnx.model(13, List.of(value("x", 1, 1, 3, 3, 3)), List.of(output("y")), List.of(conv3d),
                List.of(floats("w", new long[] {1, 1, 2, 2, 2}, new float[8]))));
        WeightLayer layer = model.weightLayers().get(0);
        assertThatThrownBy(() -> LayerInputGram.of(layer, new long[] {1, 1, 2, 2, 2}))
                .isInstanceOfSatisfying(CondenseException.class, e -> assertThat(e.code()).isEqualTo(ErrorCode.UNSUPPORTED_MODEL));

        NodeProto gemm = node("Gemm", List.of("a", "w"), List.of("y"));
        OnnxModel dense = OnnxModel.of(Onnx.model(13, List.of(value("a", 2, 3)), List.of(output("y")), List.of(gemm),
                List.of(floats("w", new long[] {3, 4}, new float[12]))));
        LayerInputGram gram = LayerInputGram.of(dense.weightLayers().get(0), new long[] {3, 4});
        assertThat(gram.columns()).isEqualTo(3);
        assertThatThrownBy(() -> gram.add(NdArray.ofFloats(new long[] {2, 4}, new float[8])))
                .isInstanceOfSatisfying(CondenseException.class, e -> assertThat(e.code()).isEqualTo(ErrorCode.INVALID_DATA));
    }

    /** Feeds every input's activations to fresh accumulators and compares each channel's w^T H w with the runtime. */
    private static void assertOutputEnergy(OnnxModel model, List<WeightLayer> layers, List<NdArray> inputs) {
        List<LayerInputGram> grams = direct(model, layers, inputs);
        Map<String, double[]> energies = new HashMap<>();
        Set<String> values = new LinkedHashSet<>();
        for (WeightLayer layer : layers) {
            values.add(layer.node().getOutput(0));
        }
        OnnxModel exposed = ActivationCalibrator.exposing(model, values);
        for (NdArray input : inputs) {
            Map<String, NdArray> outputs = run(exposed, input);
            for (int l = 0; l < layers.size(); l++) {
                WeightLayer layer = layers.get(l);
                NdArray output = outputs.get(layer.node().getOutput(0));
                long[] weightShape = model.tensor(layer.weightName()).shape();
                int channels = (int) weightShape[layer.outputChannelAxis()];
                float[] bias = layer.biasName() == null ? null : model.tensor(layer.biasName()).toFloatArray();
                float[] y = output.toFloatArray();
                long[] shape = output.shape();
                boolean channelsLast = !layer.opType().equals("Conv") && !layer.node().getInput(0).equals(layer.weightName());
                double[] energy = energies.computeIfAbsent(layer.node().getOutput(0), k -> new double[channels]);
                for (int i = 0; i < y.length; i++) {
                    int channel;
                    if (layer.opType().equals("Conv")) {
                        channel = (int) ((i / (y.length / shape[0] / shape[1])) % channels);
                    } else {
                        channel = channelsLast ? i % channels : (int) ((i / shape[shape.length - 1]) % channels);
                    }
                    double v = y[i] - (bias == null || bias.length != channels ? 0 : bias[channel]);
                    energy[channel] += v * v;
                }
            }
        }
        for (int l = 0; l < layers.size(); l++) {
            WeightLayer layer = layers.get(l);
            LayerInputGram gram = grams.get(l);
            float[] weights = model.tensor(layer.weightName()).toFloatArray();
            long[] weightShape = model.tensor(layer.weightName()).shape();
            int channels = (int) weightShape[layer.outputChannelAxis()];
            int perGroup = channels / gram.groups();
            int columns = gram.columns();
            double[] energy = energies.get(layer.node().getOutput(0));
            for (int o = 0; o < channels; o++) {
                double[] sum = gram.gram(o / perGroup);
                double actual = 0;
                for (int a = 0; a < columns; a++) {
                    double wa = weights[flatIndex(layer, channels, columns, o, a)];
                    for (int b = 0; b < columns; b++) {
                        actual += wa * sum[a * columns + b] * weights[flatIndex(layer, channels, columns, o, b)];
                    }
                }
                assertThat(actual).as("w^T H w of %s channel %d", layer.displayName(), o)
                        .isCloseTo(energy[o], within(1e-3 * Math.max(1, energy[o])));
            }
            double[] sum = gram.gram(0);
            for (int a = 0; a < columns; a++) {
                for (int b = 0; b < a; b++) {
                    assertThat(sum[a * columns + b]).isEqualTo(sum[b * columns + a]);
                }
            }
        }
    }

    /** Where output channel {@code o}'s weight for column {@code column} is in the flat weight. */
    private static int flatIndex(WeightLayer layer, int channels, int columns, int o, int column) {
        if (layer.opType().equals("Conv") || layer.outputChannelAxis() == 0) {
            return o * columns + column;
        }
        return column * channels + o;
    }

    private static List<LayerInputGram> direct(OnnxModel model, List<WeightLayer> layers, List<NdArray> inputs) {
        Set<String> values = new LinkedHashSet<>();
        List<LayerInputGram> grams = new ArrayList<>();
        for (WeightLayer layer : layers) {
            values.add(LayerInputGram.inputName(layer));
            grams.add(LayerInputGram.of(layer, model.tensor(layer.weightName()).shape()));
        }
        OnnxModel exposed = ActivationCalibrator.exposing(model, values);
        String inputName = exposed.proto().getGraph().getInput(0).getName();
        for (NdArray input : inputs) {
            Map<String, NdArray> outputs = new HashMap<>(run(exposed, input));
            outputs.put(inputName, input);
            for (LayerInputGram gram : grams) {
                gram.add(outputs.get(LayerInputGram.inputName(gram.layer())));
            }
        }
        return grams;
    }

    /** Runs the model's single input through ONNX Runtime (no graph optimizations) and returns every output by name. */
    private static Map<String, NdArray> run(OnnxModel model, NdArray input) {
        String inputName = model.proto().getGraph().getInput(0).getName();
        OrtEnvironment environment = OrtEnvironment.getEnvironment();
        try (OrtSession.SessionOptions options = new OrtSession.SessionOptions()) {
            options.setOptimizationLevel(OrtSession.SessionOptions.OptLevel.NO_OPT);
            try (OrtSession session = environment.createSession(model.toBytes(), options);
                    OnnxTensor tensor = OnnxTensor.createTensor(environment, FloatBuffer.wrap(input.toFloatArray()), input.shape());
                    OrtSession.Result result = session.run(Map.of(inputName, tensor))) {
                Map<String, NdArray> outputs = new HashMap<>();
                for (Map.Entry<String, OnnxValue> entry : result) {
                    OnnxTensor output = (OnnxTensor) entry.getValue();
                    FloatBuffer buffer = output.getFloatBuffer();
                    float[] values = new float[buffer.remaining()];
                    buffer.get(values);
                    outputs.put(entry.getKey(), NdArray.ofFloats(output.getInfo().getShape(), values));
                }
                return outputs;
            }
        } catch (OrtException e) {
            throw new AssertionError("ONNX Runtime failed: " + e.getMessage(), e);
        }
    }

    private static NdArray readTensor(Path file) throws IOException {
        Tensor tensor = Tensor.fromProto(TensorProto.parseFrom(Files.readAllBytes(file)));
        return NdArray.ofFloats(tensor.shape(), tensor.toFloatArray());
    }

    private static long[] inputShape(OnnxModel model) {
        var dims = model.proto().getGraph().getInput(0).getType().getTensorType().getShape().getDimList();
        long[] shape = new long[dims.size()];
        for (int i = 0; i < shape.length; i++) {
            shape[i] = dims.get(i).hasDimValue() && dims.get(i).getDimValue() > 0 ? dims.get(i).getDimValue() : 1;
        }
        return shape;
    }

    private static NdArray random(long[] shape, long seed) {
        return NdArray.ofFloats(shape, values(new Random(seed), (int) NdArray.elementCount(shape)));
    }

    private static float[] values(Random random, int count) {
        float[] values = new float[count];
        for (int i = 0; i < count; i++) {
            values[i] = (float) random.nextGaussian();
        }
        return values;
    }

    /** A float graph output of unspecified shape. */
    private static ValueInfoProto output(String name) {
        return ValueInfoProto.newBuilder().setName(name).setType(ai.onnx.proto.OnnxMl.TypeProto.newBuilder()
                .setTensorType(ai.onnx.proto.OnnxMl.TypeProto.Tensor.newBuilder().setElemType(DataType.FLOAT.onnxCode()))).build();
    }

    private static AttributeProto stringAttribute(String name, String value) {
        return AttributeProto.newBuilder().setName(name).setType(AttributeProto.AttributeType.STRING)
                .setS(com.google.protobuf.ByteString.copyFromUtf8(value)).build();
    }

    /** A step context whose evaluator is ONNX Runtime, opened directly. */
    private static final class RuntimeContext implements StepContext {
        private final List<Double> progress;
        private final Path scratch;

        RuntimeContext(List<Double> progress) {
            this(progress, null);
        }

        RuntimeContext(List<Double> progress, Path scratch) {
            this.progress = progress;
            this.scratch = scratch;
        }

        @Override
        public String techniqueId() {
            return "test";
        }

        @Override
        public Parameters parameters() {
            throw new UnsupportedOperationException("no parameters in this test");
        }

        @Override
        public MeterRegistry meterRegistry() {
            throw new UnsupportedOperationException("no metrics in this test");
        }

        @Override
        public void progress(double fraction, String message) {
            assertThat(message).startsWith("test: calibration sample ");
            progress.add(fraction);
        }

        @Override
        public boolean isCancelled() {
            return false;
        }

        @Override
        public Optional<Evaluator> evaluator() {
            return Optional.of(new Evaluator() {
                @Override
                public InferenceSession open(OnnxModel model) {
                    return new InferenceSession() {
                        @Override
                        public List<ValueSpec> inputs() {
                            ValueInfoProto input = model.proto().getGraph().getInput(0);
                            return List.of(new ValueSpec(input.getName(), DataType.FLOAT, inputShape(model)));
                        }

                        @Override
                        public List<ValueSpec> outputs() {
                            return List.of();
                        }

                        @Override
                        public Map<String, NdArray> run(Map<String, NdArray> inputs) {
                            return LayerInputGramTest.run(model, inputs.values().iterator().next());
                        }

                        @Override
                        public void close() {
                        }
                    };
                }

                @Override
                public EvaluationResult compare(OnnxModel original, OnnxModel candidate, EvaluationRequest request) {
                    throw new UnsupportedOperationException("not used");
                }
            });
        }

        @Override
        public Optional<Dataset> calibrationData() {
            return Optional.empty();
        }

        @Override
        public Optional<Dataset> evaluationData() {
            return Optional.empty();
        }

        @Override
        public Path scratchDirectory() {
            if (scratch == null) {
                throw new UnsupportedOperationException("no scratch folder in this test");
            }
            return scratch;
        }
    }
}
