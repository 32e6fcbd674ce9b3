package io.condense.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import ai.onnx.proto.OnnxMl.TensorProto;
import io.condense.sdk.data.Dataset;
import io.condense.sdk.data.NdArray;
import io.condense.sdk.error.CondenseException;
import io.condense.sdk.error.ErrorCode;
import io.condense.sdk.eval.Evaluator;
import io.condense.sdk.eval.InferenceSession;
import io.condense.sdk.eval.ValueSpec;
import io.condense.sdk.model.OnnxModel;
import io.condense.sdk.technique.Parameters;
import io.condense.sdk.technique.TechniqueResult;
import io.condense.sdk.tensor.DataType;
import io.condense.sdk.tensor.Float16;
import io.condense.sdk.tensor.Tensor;
import io.condense.sdk.testkit.Evaluators;
import io.condense.sdk.testkit.SharedData;
import io.condense.sdk.testkit.TestStepContext;
import io.condense.server.plugin.LoadedTechnique;
import io.condense.server.plugin.PluginHost;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * The model corpus: every model in {@code ../shared/models} and the generated ones in {@code src/test/resources/corpus}
 * (made by {@code src/test/python/make_corpus.py}: weights in Constant nodes, IR 3 graph-input initializers, constant
 * chains, shared weights, float16, DequantizeLinear weights, ConvTranspose, grouped and depthwise Conv, MatMul forms,
 * Einsum, If subgraphs, free dimensions, opsets 7 to 21, PyTorch exports of an LSTM/GRU, a decoder and a transformer
 * block), each through quantize(bits=8), quantize(bits=8, activations=true), prune(sparsity=0.5), prune(pattern=2:4),
 * lowrank and binarize with the real plugin archives. Every step completes or is refused with a user-facing code and
 * message; every written model is valid for Condense's loader, runs in ONNX Runtime with the original's inputs and
 * outputs, passes ONNX's checker (Debian's python3-onnx, when installed) and has its fidelity measured against the
 * original on the model's inputs (real digits and photos for the shared models, seeded normal noise for the generated
 * ones). The table goes to {@code target/corpus/MODELS.md} (docs/MODELS.md is a copy). With
 * {@code -Dcondense.corpus.ort.python=PYTHON} (a Python with onnxruntime and onnx) ONNX Runtime's quantize_dynamic runs
 * on the same models in the same run for the side-by-side count.
 */
class CorpusIT {
    private static final Path CORPUS = Path.of("src/test/resources/corpus");
    private static final Path OUT = Path.of("target/corpus");
    private static final int SAMPLES = 8;
    /** Free dimensions of the generated models: batch 1, anything else (height, width, time, tokens) this. */
    private static final long FREE_DIMENSION = 32;

    private record Pipeline(String label, String technique, Map<String, String> parameters) {
    }

    private static final List<Pipeline> PIPELINES = List.of(
            new Pipeline("quantize(bits=8)", "quantize", Map.of("bits", "8")),
            new Pipeline("quantize(bits=8, activations=true)", "quantize", Map.of("bits", "8", "activations", "true")),
            new Pipeline("prune(sparsity=0.5)", "prune", Map.of("sparsity", "0.5")),
            new Pipeline("prune(pattern=2:4)", "prune", Map.of("pattern", "2:4")),
            new Pipeline("lowrank", "lowrank", Map.of()),
            new Pipeline("binarize", "binarize", Map.of()),
            new Pipeline("encode", "encode", Map.of("gzip_baseline", "false")));

    /** What each generated model stands for (make_corpus.py says more). */
    private static final Map<String, String> GENERATED = Map.ofEntries(
            Map.entry("already_quantized", "Conv weight int8 through DequantizeLinear + float Gemm"),
            Map.entry("constant_chains", "weights behind Cast(fp16)/Transpose/Identity and Reshape of Constant nodes"),
            Map.entry("constant_nodes_cnn", "every weight a Constant node, 0 initializers (paddle2onnx style), opset 11"),
            Map.entry("convolutions", "grouped + depthwise Conv, ConvTranspose group 1 and 2"),
            Map.entry("dynamic_dims", "free batch, height and width [batch, 3, height, width], ConvTranspose"),
            Map.entry("einsum", "Einsum bij,jk->bik and bij,kj->bik with constant weights"),
            Map.entry("float16_model", "whole graph float16"),
            Map.entry("graph_input_initializers_ir3", "IR 3, opset 7, initializers listed as graph inputs"),
            Map.entry("if_subgraph", "If with MatMul weights inside its branches"),
            Map.entry("matmul_forms", "MatMul weight first (W X), batched [2, 8, 12] weight, Gemm transA=1 transB=1"),
            Map.entry("opset9", "Conv + Gemm, opset 9, IR 4"),
            Map.entry("opset17", "Conv + Gemm, opset 17, IR 8"),
            Map.entry("opset21", "Conv + Gemm, opset 21, IR 10"),
            Map.entry("shared_weights", "one weight read by two MatMul"),
            Map.entry("sparse_and_scalar_constants", "Constant sparse_value, value_float, value_floats, value_ints"),
            Map.entry("torch_constant_nodes", "PyTorch 1.13 export rewritten with every initializer as a Constant node"),
            Map.entry("torch_convtranspose", "PyTorch 1.13 export: Conv, BatchNorm, ConvTranspose (group 1, 2)"),
            Map.entry("torch_lstm_gru", "PyTorch 1.13 export: LSTM, GRU, Linear; dynamic batch and time"),
            Map.entry("torch_transformer_block", "PyTorch 1.13 export: TransformerEncoderLayer (attention, LayerNorm)"),
            Map.entry("upsample_opset9", "Conv, Upsample (nearest), Conv at opset 9"));

    /** A corpus model with the inputs it is measured on. */
    private record Entry(String name, Path file, String kind, List<Map<String, NdArray>> feeds, boolean structureOnly) {
    }

    /** What one pipeline did to one model. */
    private record Outcome(String model, String pipeline, boolean completed, String code, String message, Double sqnr,
            Double agreement, String checker, List<String> leftAlone, Path output) {
    }

    @Test
    void everyCorpusModelCompressesOrIsRefusedWithAReason() throws Exception {
        assumeTrue(SharedData.isAvailable(), "the shared models are absent (" + SharedData.directory() + ")");
        Path plugins = Path.of(System.getProperty("condense.plugins.dir", "../build/plugins"));
        assumeTrue(Files.isDirectory(plugins), "no plugin archives in " + plugins + ": run mvn install first");
        Files.createDirectories(OUT.resolve("out"));
        Evaluator evaluator = Evaluators.fromServiceLoader();
        List<Entry> corpus = corpus(evaluator);
        List<Outcome> outcomes = new ArrayList<>();
        try (PluginHost host = PluginHost.load(plugins)) {
            for (Entry entry : corpus) {
                OnnxModel model = OnnxModel.load(entry.file());
                assertThat(io.condense.sdk.model.GraphCheck.problems(model.proto())).as("the structural check on %s, a model ONNX's "
                        + "checker accepts", entry.name()).isEmpty();
                for (Pipeline pipeline : entry.structureOnly() ? PIPELINES.subList(0, 1) : PIPELINES) {
                    LoadedTechnique technique = host.technique(pipeline.technique()).orElseThrow(() -> new AssertionError(
                            "technique " + pipeline.technique() + " is not in " + plugins));
                    outcomes.add(run(evaluator, technique, entry, model, pipeline));
                }
            }
        }
        // the originals too: a checker failure an output inherits unchanged (ZipMap's shape inference in skl_lr_mnist) is not the step's
        List<Path> checkedFiles = new ArrayList<>(outcomes.stream().map(Outcome::output).filter(f -> f != null).toList());
        corpus.forEach(entry -> checkedFiles.add(entry.file()));
        Map<Path, String> checks = checker(checkedFiles);
        List<Outcome> checked = new ArrayList<>();
        for (Outcome outcome : outcomes) {
            checked.add(outcome.output() == null ? outcome : new Outcome(outcome.model(), outcome.pipeline(), true, "", outcome.message(),
                    outcome.sqnr(), outcome.agreement(), checks.getOrDefault(outcome.output(), "not run"), outcome.leftAlone(),
                    outcome.output()));
        }
        List<String> ort = ortQuantizeDynamic(corpus);
        String table = table(corpus, checked, ort);
        Files.writeString(OUT.resolve("MODELS.md"), table);

        for (Outcome outcome : checked) {
            String original = corpus.stream().filter(entry -> entry.name().equals(outcome.model())).findFirst()
                    .map(entry -> checks.getOrDefault(entry.file(), "not run")).orElse("not run");
            if (outcome.completed()) {
                if (!outcome.checker().equals(original)) {
                    assertThat(outcome.checker()).as("ONNX checker on %s after %s (the original: %s)", outcome.model(), outcome.pipeline(),
                            original).doesNotStartWith("invalid");
                }
            } else {
                assertThat(outcome.code()).as("outcome of %s on %s: %s", outcome.pipeline(), outcome.model(), outcome.message())
                        .isIn("NOTHING_TO_COMPRESS", "UNSUPPORTED_MODEL", "DATA_REQUIRED", "INVALID_DATA");
                assertThat(outcome.message()).isNotBlank();
            }
        }
        // the cases the issue names: weights in Constant nodes, graph inputs and chains are found and compressed
        for (String model : List.of("constant_nodes_cnn", "torch_constant_nodes", "sparse_and_scalar_constants", "constant_chains",
                "graph_input_initializers_ir3", "convolutions", "matmul_forms", "einsum", "shared_weights", "dynamic_dims",
                "opset9", "opset17", "opset21", "torch_convtranspose", "torch_transformer_block", "upsample_opset9", "float16_model")) {
            Outcome quantized = find(checked, model, "quantize(bits=8)");
            assertThat(quantized.completed()).as("quantize(bits=8) on %s: %s", model, quantized.message()).isTrue();
            assertThat(quantized.sqnr()).as("output SQNR of %s quantized to int8", model).isGreaterThan(20.0);
            Outcome pruned = find(checked, model, "prune(sparsity=0.5)");
            assertThat(pruned.completed()).as("prune(sparsity=0.5) on %s: %s", model, pruned.message()).isTrue();
        }
        // on real inputs, int8 weights are at least as close to float as the plain round-to-nearest reference
        for (String model : List.of("mnist8", "pytorch_cnn_mnist", "version-RFB-320", "version-RFB-320_simplified", "version-slim-320")) {
            Outcome quantized = find(checked, model, "quantize(bits=8)");
            assertThat(quantized.sqnr()).as("quantize(bits=8) on %s against round to nearest (%s dB)", model, quantized.message())
                    .isGreaterThanOrEqualTo(Double.parseDouble(quantized.message()) - 0.5);
        }
        assertThat(find(checked, "already_quantized", "quantize(bits=8)").leftAlone())
                .anySatisfy(reason -> assertThat(reason).contains("already quantized"));
        // LSTM and GRU weights are quantized (W and R per gate and unit); prune leaves them, naming them
        Outcome recurrent = find(checked, "torch_lstm_gru", "quantize(bits=8)");
        assertThat(recurrent.completed()).isTrue();
        assertThat(recurrent.leftAlone()).noneSatisfy(reason -> assertThat(reason).contains("recurrent layer"));
        assertThat(recurrent.sqnr()).isGreaterThan(30.0);
        assertThat(find(checked, "torch_lstm_gru", "prune(sparsity=0.5)").message()).contains("/lstm/LSTM: recurrent layer");
        assertThat(find(checked, "skl_lr_mnist", "quantize(bits=8)").code()).isEqualTo("NOTHING_TO_COMPRESS");
        assertThat(find(checked, "light_squeezenet", "quantize(bits=8)").completed()).as("ConstantOfShape weights").isTrue();
        // encode is exact: every model it packs decodes to outputs identical to the original's
        for (Outcome outcome : checked) {
            if (outcome.pipeline().equals("encode") && outcome.completed()) {
                assertThat(outcome.sqnr()).as("outputs of %s decoded from its packed file", outcome.model()).isInfinite();
            }
        }
    }

    private static Outcome find(List<Outcome> outcomes, String model, String pipeline) {
        return outcomes.stream().filter(o -> o.model().equals(model) && o.pipeline().equals(pipeline)).findFirst()
                .orElseThrow(() -> new AssertionError("no outcome for " + model + " / " + pipeline));
    }

    private static Outcome run(Evaluator evaluator, LoadedTechnique technique, Entry entry, OnnxModel model, Pipeline pipeline) {
        Parameters parameters = Parameters.validate(technique.descriptor().parameters(), pipeline.parameters());
        TestStepContext.Builder builder = TestStepContext.builder().techniqueId(technique.id()).parameters(parameters)
                .evaluator(evaluator);
        Dataset calibration = calibration(entry);
        if (calibration != null) {
            builder.calibrationData(calibration);
        }
        TechniqueResult result;
        try (TestStepContext context = builder.build()) {
            result = technique.apply(model, parameters, context);
        } catch (CondenseException e) {
            return new Outcome(entry.name(), pipeline.label(), false, e.code().name(), e.getMessage(), null, null, "", List.of(), null);
        } catch (RuntimeException | AssertionError e) {
            return new Outcome(entry.name(), pipeline.label(), false, "CRASH", e.toString(), null, null, "", List.of(), null);
        }
        try {
            return written(evaluator, entry, model, pipeline, result);
        } catch (RuntimeException | AssertionError e) {
            return new Outcome(entry.name(), pipeline.label(), false, "BAD_OUTPUT", e.toString(), null, null, "", List.of(), null);
        }
    }

    private static Outcome written(Evaluator evaluator, Entry entry, OnnxModel model, Pipeline pipeline, TechniqueResult result) {
        // a packed file (encode) is judged by what the SDK's decoder makes of its bytes, as `condense decode` does
        OnnxModel written = result.packed().isPresent() ? io.condense.sdk.coding.PackedModel.decode(result.packed().get().toByteArray())
                : OnnxModel.fromBytes(result.model().toBytes());
        Path output = OUT.toAbsolutePath().resolve("out").resolve(entry.name() + "." + pipeline.label().replaceAll("[^a-z0-9]+", "_") + ".onnx");
        written.save(output);
        List<String> leftAlone = new ArrayList<>();
        for (Object key : List.of("skipped", "left_alone")) {
            Object list = result.report().get((String) key);
            if (list instanceof List<?> entries) {
                for (Object item : entries) {
                    if (item instanceof Map<?, ?> map) {
                        leftAlone.add(map.get("op") + " " + map.get("name") + ": " + map.get("reason"));
                    }
                }
            }
        }
        double[] fidelity = fidelity(evaluator, model, written, entry);
        String note = "";
        if (pipeline.label().equals("quantize(bits=8)")) {
            double reference = fidelity(evaluator, model, roundToNearestReference(model), entry)[0];
            note = String.format(Locale.ROOT, "%.1f", reference);
        }
        return new Outcome(entry.name(), pipeline.label(), true, "", note, fidelity[0],
                Double.isNaN(fidelity[1]) ? null : fidelity[1], "", leftAlone, output);
    }

    /**
     * The plain reference the issue measures int8 against: every float32 weight of a Conv, ConvTranspose, Gemm or MatMul
     * (after constant folding) rounded to nearest on a symmetric per-output-channel grid of max|w| / 127 and stored back
     * as float (fake quantization, no BatchNormalization folding, no other change).
     */
    private static OnnxModel roundToNearestReference(OnnxModel model) {
        OnnxModel folded = model.edit().foldConstants().build();
        io.condense.sdk.model.ModelEditor editor = folded.edit();
        java.util.Set<String> done = new java.util.HashSet<>();
        for (io.condense.sdk.model.WeightLayer layer : folded.weightLayers()) {
            String name = layer.weightName();
            if (!done.add(name) || folded.initializer(name).isEmpty()
                    || folded.initializer(name).get().getDataType() != DataType.FLOAT.onnxCode()) {
                continue;
            }
            Tensor weight = folded.tensor(name);
            float[] values = weight.toFloatArray();
            io.condense.sdk.tensor.ChannelLayout layout = io.condense.sdk.tensor.ChannelLayout.of(weight.shape(), layer.outputChannelAxis());
            float[] maximum = new float[layout.channels()];
            for (int i = 0; i < values.length; i++) {
                int channel = layout.channelOf(i);
                maximum[channel] = Math.max(maximum[channel], Math.abs(values[i]));
            }
            for (int i = 0; i < values.length; i++) {
                float scale = maximum[layout.channelOf(i)] / 127f;
                values[i] = scale == 0 ? 0 : Math.round(values[i] / scale) * scale;
            }
            editor.putInitializer(Tensor.fromFloats(name, DataType.FLOAT, weight.shape(), values).toProto());
        }
        return editor.build();
    }

    /** Output SQNR in dB over every float output and sample (infinite when identical), and top-1 agreement for [N, >= 10 classes]. */
    private static double[] fidelity(Evaluator evaluator, OnnxModel original, OnnxModel written, Entry entry) {
        double signal = 0;
        double noise = 0;
        int agreeing = 0;
        int compared = 0;
        try (InferenceSession before = evaluator.open(original); InferenceSession after = evaluator.open(written)) {
            assertThat(after.inputs()).extracting(ValueSpec::name).as("inputs of %s", entry.name())
                    .containsExactlyElementsOf(before.inputs().stream().map(ValueSpec::name).toList());
            assertThat(after.outputs()).extracting(ValueSpec::name).as("outputs of %s", entry.name())
                    .containsExactlyElementsOf(before.outputs().stream().map(ValueSpec::name).toList());
            for (Map<String, NdArray> feed : entry.feeds()) {
                Map<String, NdArray> expected = before.run(feed);
                Map<String, NdArray> actual = after.run(feed);
                for (Map.Entry<String, NdArray> output : expected.entrySet()) {
                    if (!output.getValue().dataType().isFloatingPoint()) {
                        continue;
                    }
                    float[] reference = output.getValue().toFloatArray();
                    float[] candidate = actual.get(output.getKey()).toFloatArray();
                    for (int i = 0; i < reference.length; i++) {
                        signal += (double) reference[i] * reference[i];
                        double difference = (double) reference[i] - candidate[i];
                        noise += difference * difference;
                    }
                    long[] shape = output.getValue().shape();
                    if (shape.length == 2 && shape[1] >= 10 && output.getKey().equals(expected.keySet().iterator().next())) {
                        int classes = (int) shape[1];
                        for (int row = 0; row < shape[0]; row++) {
                            agreeing += argmax(reference, row * classes, classes) == argmax(candidate, row * classes, classes) ? 1 : 0;
                            compared++;
                        }
                    }
                }
            }
        }
        double sqnr = noise == 0 ? Double.POSITIVE_INFINITY : 10 * Math.log10(signal / noise);
        return new double[] {sqnr, compared == 0 ? Double.NaN : (double) agreeing / compared};
    }

    private static int argmax(float[] values, int from, int count) {
        int best = 0;
        for (int i = 1; i < count; i++) {
            if (values[from + i] > values[from + best]) {
                best = i;
            }
        }
        return best;
    }

    /** The feeds stacked as calibration data, for a model with one float32 input; null otherwise. */
    private static Dataset calibration(Entry entry) {
        Map<String, NdArray> first = entry.feeds().get(0);
        if (first.size() != 1) {
            return null;
        }
        NdArray sample = first.values().iterator().next();
        if (sample.dataType() != DataType.FLOAT) {
            return null;
        }
        long[] shape = sample.shape();
        int size = sample.size();
        float[] all = new float[size * entry.feeds().size()];
        for (int i = 0; i < entry.feeds().size(); i++) {
            System.arraycopy(entry.feeds().get(i).values().iterator().next().toFloatArray(), 0, all, i * size, size);
        }
        long[] stacked = new long[shape.length + 1];
        stacked[0] = entry.feeds().size();
        System.arraycopy(shape, 0, stacked, 1, shape.length);
        return Dataset.of(NdArray.ofFloats(stacked, all));
    }

    private static List<Entry> corpus(Evaluator evaluator) throws IOException {
        List<Entry> entries = new ArrayList<>();
        Dataset digits = SharedData.mnistDigits(SAMPLES * 4, 1f);
        entries.add(new Entry("mnist8", SharedData.model("mnist8/model.onnx"), "ONNX Model Zoo CNN, opset 8", digitFeeds(digits,
                "Input3", 1f / 255), false));
        entries.add(new Entry("pytorch_cnn_mnist", SharedData.model("pytorch_cnn_mnist.onnx"), "PyTorch CNN, opset 9, dynamic batch",
                digitFeeds(digits, "input_image", 1f), false));
        entries.add(new Entry("skl_lr_mnist", SharedData.model("skl_lr_mnist.onnx"), "scikit-learn, ONNX-ML ops",
                List.of(Map.of("float_input", NdArray.ofFloats(new long[] {1, 784}, digits.inputs().slice(0, 1).toFloatArray()))), false));
        for (String name : List.of("version-RFB-320", "version-RFB-320_simplified", "version-slim-320")) {
            List<Map<String, NdArray>> photos = new ArrayList<>();
            for (String image : List.of("img1", "img2")) {
                photos.add(Map.of("input", tensor(SharedData.model("ultraface/test_data/" + image + "_input_0.pb"))));
            }
            entries.add(new Entry(name, SharedData.model("ultraface/" + name + ".onnx"), "UltraFace detector, opset 9, graph-input "
                    + "initializers", photos, false));
        }
        try (Stream<Path> generated = Files.list(CORPUS)) {
            for (Path file : generated.filter(f -> f.toString().endsWith(".onnx")).sorted().toList()) {
                String name = file.getFileName().toString().replace(".onnx", "");
                entries.add(new Entry(name, file, GENERATED.getOrDefault(name, "generated"), noiseFeeds(evaluator, file), false));
            }
        }
        try (Stream<Path> light = Files.list(SharedData.directory().resolve("models/onnx_light"))) {
            for (Path file : light.filter(f -> f.toString().endsWith(".onnx")).sorted().toList()) {
                String name = file.getFileName().toString().replace(".onnx", "");
                NdArray input = tensor(SharedData.model("onnx_light/input_0_arange_1x3x224x224.pb"));
                entries.add(new Entry(name, file, "ONNX test topology, ConstantOfShape weights (0.02)",
                        List.of(Map.of(inputName(evaluator, file), input)), true));
            }
        }
        return entries;
    }

    private static String inputName(Evaluator evaluator, Path file) {
        try (InferenceSession session = evaluator.open(OnnxModel.load(file))) {
            return session.inputs().get(0).name();
        }
    }

    private static List<Map<String, NdArray>> digitFeeds(Dataset digits, String input, float scale) {
        List<Map<String, NdArray>> feeds = new ArrayList<>();
        for (int i = 0; i < SAMPLES; i++) {
            float[] pixels = digits.inputs().slice(i, 1).toFloatArray();
            for (int p = 0; p < pixels.length; p++) {
                pixels[p] *= scale;
            }
            feeds.add(Map.of(input, NdArray.ofFloats(new long[] {1, 1, 28, 28}, pixels)));
        }
        return feeds;
    }

    /** Seeded standard normal inputs in the model's shapes (free dimensions: batch 1, others {@value #FREE_DIMENSION}). */
    private static List<Map<String, NdArray>> noiseFeeds(Evaluator evaluator, Path file) {
        Random random = new Random(file.getFileName().toString().hashCode());
        List<Map<String, NdArray>> feeds = new ArrayList<>();
        try (InferenceSession session = evaluator.open(OnnxModel.load(file))) {
            for (int sample = 0; sample < SAMPLES; sample++) {
                Map<String, NdArray> feed = new LinkedHashMap<>();
                for (ValueSpec input : session.inputs()) {
                    long[] shape = input.shape();
                    for (int i = 0; i < shape.length; i++) {
                        if (shape[i] < 0) {
                            shape[i] = i == 0 ? 1 : FREE_DIMENSION;
                        }
                    }
                    int count = (int) NdArray.elementCount(shape);
                    float[] values = new float[count];
                    for (int i = 0; i < count; i++) {
                        values[i] = (float) random.nextGaussian();
                    }
                    if (input.dataType() == DataType.FLOAT16) {
                        short[] bits = new short[count];
                        for (int i = 0; i < count; i++) {
                            bits[i] = Float16.fromFloat(values[i]);
                        }
                        feed.put(input.name(), NdArray.ofFloat16(shape, bits));
                    } else {
                        feed.put(input.name(), NdArray.ofFloats(shape, values));
                    }
                }
                feeds.add(feed);
            }
        }
        return feeds;
    }

    private static NdArray tensor(Path file) throws IOException {
        Tensor tensor = Tensor.fromProto(TensorProto.parseFrom(Files.readAllBytes(file)));
        return NdArray.ofFloats(tensor.shape(), tensor.toFloatArray());
    }

    /**
     * ONNX's checker (full check) on every written model, through Debian's python3-onnx; "not run" without it. Opsets
     * newer than the checker knows are "opset N: newer than the checker".
     */
    private static Map<Path, String> checker(List<Path> files) throws IOException, InterruptedException {
        Map<Path, String> results = new LinkedHashMap<>();
        Path python = Path.of(System.getProperty("condense.corpus.checker.python", "/usr/bin/python3"));
        if (files.isEmpty() || !Files.isExecutable(python)) {
            return results;
        }
        String script = String.join("\n",
                "import sys",
                "try:",
                "    import onnx",
                "except ImportError:",
                "    sys.exit(3)",
                "from onnx import defs",
                "newest = defs.onnx_opset_version()",
                "for path in sys.argv[1:]:",
                "    model = onnx.load(path)",
                "    opset = max([o.version for o in model.opset_import if o.domain in ('', 'ai.onnx')] or [0])",
                "    if opset > newest:",
                "        print(path + '\\tnewer: opset %d, checker knows %d' % (opset, newest)); continue",
                "    try:",
                "        onnx.checker.check_model(model, full_check=True)",
                "        print(path + '\\tok (onnx ' + onnx.__version__ + ')')",
                "    except Exception as e:",
                "        full = str(e).replace('\\n', ' ')[:300]",
                "        if len(model.graph.sparse_initializer) > 0:",
                "            try:",
                "                onnx.checker.check_model(model)",
                "                print(path + '\\tsparse: check ok; full check types its sparse initializers as sparse tensors: ' + full)",
                "                continue",
                "            except Exception:",
                "                pass",
                "        print(path + '\\tinvalid: ' + full)");
        List<String> command = new ArrayList<>(List.of(python.toString(), "-c", script));
        files.forEach(f -> command.add(f.toString()));
        Process process = new ProcessBuilder(command).redirectErrorStream(false).start();
        String stdout = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (!process.waitFor(10, TimeUnit.MINUTES)) {
            process.destroyForcibly();
            throw new AssertionError("the ONNX checker did not finish in 10 minutes");
        }
        if (process.exitValue() == 3) {
            return results;
        }
        for (String line : stdout.split("\n")) {
            int tab = line.indexOf('\t');
            if (tab > 0) {
                results.put(Path.of(line.substring(0, tab)), line.substring(tab + 1));
            }
        }
        return results;
    }

    /** ONNX Runtime's quantize_dynamic on the same models, one JSON line each; empty when no such Python is given. */
    private static List<String> ortQuantizeDynamic(List<Entry> corpus) throws IOException, InterruptedException {
        String python = System.getProperty("condense.corpus.ort.python", "");
        if (python.isEmpty()) {
            return List.of();
        }
        List<String> command = new ArrayList<>(List.of(python, "src/test/python/ort_quantize_dynamic.py", OUT.resolve("ort").toString()));
        corpus.forEach(entry -> command.add(entry.file().toString()));
        Process process = new ProcessBuilder(command).redirectError(OUT.resolve("ort.log").toFile()).start();
        String stdout = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (!process.waitFor(20, TimeUnit.MINUTES)) {
            process.destroyForcibly();
            throw new AssertionError("ONNX Runtime's quantize_dynamic did not finish in 20 minutes");
        }
        return stdout.lines().filter(line -> line.startsWith("{")).toList();
    }

    private static String table(List<Entry> corpus, List<Outcome> outcomes, List<String> ort) {
        StringBuilder text = new StringBuilder();
        text.append("| model | kind |");
        for (Pipeline pipeline : PIPELINES) {
            text.append(' ').append(pipeline.label()).append(" |");
        }
        text.append("\n|---|---|").append("---|".repeat(PIPELINES.size())).append('\n');
        for (Entry entry : corpus) {
            text.append("| ").append(entry.name()).append(" | ").append(entry.kind()).append(" |");
            for (Pipeline pipeline : PIPELINES) {
                Outcome outcome = outcomes.stream().filter(o -> o.model().equals(entry.name()) && o.pipeline().equals(pipeline.label()))
                        .findFirst().orElse(null);
                text.append(' ').append(outcome == null ? "not run" : cell(outcome, entry.structureOnly())).append(" |");
            }
            text.append('\n');
        }
        text.append("\nCells: SQNR of the outputs against the original in dB over the model's inputs (top-1 agreement where the "
                + "first output is [N, classes >= 10]); \"left n\" = layers named in the report as left alone; refusals give the "
                + "error code (messages below). Structure-only models (uniform 0.02 weights) show only whether the step completed.\n");
        text.append("\n### int8 weights against a plain per-channel round-to-nearest reference\n\n"
                + "Output SQNR (dB) of quantize(bits=8) and of the same model with every Conv/ConvTranspose/Gemm/MatMul weight "
                + "rounded to nearest on a symmetric per-output-channel int8 grid and kept in float, on the same inputs.\n\n"
                + "| model | quantize(bits=8) | round-to-nearest reference |\n|---|---|---|\n");
        for (Outcome outcome : outcomes) {
            if (outcome.completed() && outcome.pipeline().equals("quantize(bits=8)") && !outcome.message().isEmpty()) {
                text.append("| ").append(outcome.model()).append(" | ").append(String.format(Locale.ROOT, "%.1f", outcome.sqnr()))
                        .append(" | ").append(outcome.message()).append(" |\n");
            }
        }
        text.append("\n### Refusals\n\n");
        for (Outcome outcome : outcomes) {
            if (!outcome.completed()) {
                text.append("- ").append(outcome.model()).append(", ").append(outcome.pipeline()).append(": ").append(outcome.code())
                        .append(": ").append(outcome.message().replace("\n", " ").replace("|", "/")).append('\n');
            }
        }
        text.append("\n### Layers left alone (quantize(bits=8))\n\n");
        for (Outcome outcome : outcomes) {
            if (outcome.completed() && outcome.pipeline().equals("quantize(bits=8)") && !outcome.leftAlone().isEmpty()) {
                text.append("- ").append(outcome.model()).append(": ").append(String.join("; ", outcome.leftAlone())).append('\n');
            }
        }
        text.append("\n### ONNX checker on the written models\n\n");
        Map<String, Integer> checkerCounts = new LinkedHashMap<>();
        for (Outcome outcome : outcomes) {
            if (outcome.completed()) {
                String key = outcome.checker().startsWith("ok") ? "ok (full check)" : outcome.checker().startsWith("newer")
                        ? "newer opset than the checker knows (ONNX Runtime runs them)" : outcome.checker().startsWith("sparse")
                        ? "check_model ok, full check refuses sparse initializers read by MatMul/Conv (prune stored the weight "
                                + "sparse, storage=auto; ONNX Runtime reads it; storage=dense avoids it)" : outcome.checker();
                checkerCounts.merge(key, 1, Integer::sum);
            }
        }
        checkerCounts.forEach((key, count) -> text.append("- ").append(key).append(": ").append(count).append('\n'));
        text.append("\n### Side by side: int8 weight quantization\n\n");
        long condense = outcomes.stream().filter(o -> o.pipeline().equals("quantize(bits=8)") && o.completed()).count();
        text.append("- Condense quantize(bits=8): ").append(condense).append(" of ").append(corpus.size()).append(" models\n");
        if (ort.isEmpty()) {
            text.append("- ONNX Runtime quantize_dynamic: not run (-Dcondense.corpus.ort.python not given)\n");
        } else {
            long handled = ort.stream().filter(line -> line.contains("\"handled\": true")).count();
            text.append("- ONNX Runtime quantize_dynamic (QInt8): ").append(handled).append(" of ").append(ort.size()).append(" models\n\n");
            for (String line : ort) {
                text.append("  - ").append(line).append('\n');
            }
        }
        return text.toString();
    }

    private static String cell(Outcome outcome, boolean structureOnly) {
        if (!outcome.completed()) {
            return "refused: " + outcome.code();
        }
        String left = outcome.leftAlone().isEmpty() ? "" : ", left " + outcome.leftAlone().size();
        if (structureOnly) {
            return "completed" + left;
        }
        String sqnr = outcome.sqnr().isInfinite() ? "exact" : String.format(Locale.ROOT, "%.1f dB", outcome.sqnr());
        String agreement = outcome.agreement() == null ? "" : String.format(Locale.ROOT, ", top-1 %.2f", outcome.agreement());
        return sqnr + agreement + left;
    }
}
