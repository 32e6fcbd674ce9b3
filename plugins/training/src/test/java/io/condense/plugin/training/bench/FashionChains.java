package io.condense.plugin.training.bench;

import io.condense.plugin.binarization.BinarizeTechnique;
import io.condense.plugin.binarization.TernarizeTechnique;
import io.condense.plugin.lowrank.LowRankTechnique;
import io.condense.plugin.pruning.PruneTechnique;
import io.condense.plugin.quantization.QuantizeTechnique;
import io.condense.plugin.training.FinetuneTechnique;
import io.condense.sdk.data.Dataset;
import io.condense.sdk.data.Idx;
import io.condense.sdk.data.NdArray;
import io.condense.sdk.eval.EvaluationRequest;
import io.condense.sdk.eval.Evaluator;
import io.condense.sdk.model.InitializerInfo;
import io.condense.sdk.model.OnnxModel;
import io.condense.sdk.tensor.DataType;
import io.condense.sdk.technique.Technique;
import io.condense.sdk.technique.TechniqueResult;
import io.condense.sdk.testkit.Evaluators;
import io.condense.sdk.testkit.LeNets;
import io.condense.sdk.testkit.TestStepContext;
import io.condense.sdk.training.EpochSummary;
import io.condense.sdk.training.LearningRateSchedule;
import io.condense.sdk.training.Optimizer;
import io.condense.sdk.training.Trainer;
import io.condense.sdk.training.TrainingListener;
import io.condense.sdk.training.TrainingProgress;
import io.condense.sdk.training.TrainingRequest;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.ServiceLoader;
import java.util.Set;

/**
 * The figures on the full Fashion-MNIST (a benchmark command, not a test): LeNet-300-100 and LeNet-5 trained by
 * Condense's training runtime on the 60,000 training images (or read from the model folder when a previous run, or
 * {@code server/training}'s {@code train-lenet}, saved them there), then, for each, the chains a user's pipeline would
 * run, through the real techniques ({@link PruneTechnique}, {@link FinetuneTechnique}) with a {@link TestStepContext}
 * holding the host's trainer and ONNX Runtime evaluator:
 * <ul>
 *   <li>the dense model;</li>
 *   <li>{@code prune(sparsity=0.9, scope=layer)} alone (every layer at 90%);</li>
 *   <li>{@code prune(sparsity=0.92, scope=global)} alone (the prune parameters are a property), the input of the next row;</li>
 *   <li>that {@code | finetune(...)} with the 60,000 training images as the job's training data;</li>
 *   <li>Deep Compression: that {@code | quantize(scheme=kmeans, bits=6) | finetune(...)};</li>
 *   <li>QAT: {@code quantize(bits=4 and 2, block 32, activations=true) | finetune(...)};</li>
 *   <li>{@code ternarize | finetune(...)}, with and without the first and last layers kept in float;</li>
 *   <li>the defaults rows (group {@code defaults}): each changed default against the one it replaced, the other parameters
 *   left at their defaults: {@code prune(sparsity=0.5)} with {@code scope=layer} and with the default (global);
 *   {@code lowrank(ratio=0.5)} with {@code selection=uniform} and with the default (auto: greedy, measured on the calibration
 *   data, the first 512 training images); {@code prune(sparsity=0.9) | finetune()} with {@code schedule=constant} and with
 *   the default (cosine).</li>
 * </ul>
 * Every accuracy is measured in ONNX Runtime (condense-runtime) on the 10,000 test images, on the model written to
 * disk and read back. The table gives accuracy, the points lost against the dense model, the non-zero weights of the
 * prunable layers (Conv and Gemm weights), all non-zero parameters, and the file size.
 *
 * <p>Arguments: Fashion-MNIST folder, model folder, dense training epochs, the finetune parameters as
 * {@code name=value,name=value}, output folder. {@code mvn -q -B -pl plugins/training -am test-compile -Dfashion-chains}
 * (see the README and this module's pom).
 */
public final class FashionChains {
    /** The networks measured, in order (condense.chains.networks, default both). */
    private static final String[] MODELS = System.getProperty("condense.chains.networks", "lenet-300-100,lenet-5").split(",");
    private static final String KMEANS_BITS = System.getProperty("condense.chains.kmeans.bits", "6");
    /** The pruning of the prune rows: one magnitude threshold over all layers, as Deep Compression prunes each layer to its own rate. */
    private static final Map<String, String> PRUNE = parameters(System.getProperty("condense.chains.prune", "sparsity=0.92,scope=global"));
    /**
     * Which groups of rows to run: {@code prune} (and Deep Compression after it), {@code qat}, {@code ternary}, the trained
     * low-bit methods {@code ttq}, {@code ttq-channel} (per-channel TTQ scales), {@code ttq-first-last} (TTQ with the first and last
     * layers float, ternarize's default), {@code inq}, {@code lsq}, {@code qat-w2} (the
     * same W2A8 model as lsq, fine-tuned without learned scales), {@code xnor}.
     */
    private static final Set<String> GROUPS = Set.of(System.getProperty("condense.chains.rows", "prune,qat,ternary").split(","));
    /** The training data of the defaults rows' finetune: all 60,000 images, or the first N (condense.chains.defaults.train). */
    private static final int DEFAULTS_TRAIN = Integer.getInteger("condense.chains.defaults.train", 60_000);
    /** Parameters added to both finetune rows of the defaults group (condense.chains.defaults.finetune, e.g. seed=7). */
    private static final String DEFAULTS_FINETUNE = System.getProperty("condense.chains.defaults.finetune", "");
    /**
     * The Deep Compression row's second finetune, after k-means (condense.chains.finetune.shared: name=value pairs; unset: the
     * same parameters as the first; {@code -} for finetune's defaults).
     */
    private static final String SHARED_FINETUNE = System.getProperty("condense.chains.finetune.shared", "");

    /** Training images of every row, the dense training included: all 60,000 or the first N (condense.chains.train). */
    private static final int TRAIN = Integer.getInteger("condense.chains.train", 60_000);
    /** Gradual pruning rows: the target per network (condense.chains.gradual, network=target;...) and the epochs of both rows. */
    private static final Map<String, String> GRADUAL_TARGETS = parameters(System.getProperty("condense.chains.gradual",
            "lenet-300-100=0.97,lenet-5=0.95"));
    private static final String GRADUAL_EPOCHS = System.getProperty("condense.chains.gradual.epochs", "16");
    /** More gradual rows: parameter sets added to the default one, separated by ';' (condense.chains.gradual.variants). */
    private static final String[] GRADUAL_VARIANTS = System.getProperty("condense.chains.gradual.variants", "").split(";");
    /** One-shot rows with other finetune parameters (prune then finetune(epochs, ...)), separated by ';' (condense.chains.gradual.oneshot). */
    private static final String[] ONE_SHOT_VARIANTS = System.getProperty("condense.chains.gradual.oneshot", "").split(";");
    /** Whether the gradual group runs its two default rows (one-shot and gradual) after the variants (condense.chains.gradual.baselines). */
    private static final boolean GRADUAL_BASELINES = Boolean.parseBoolean(System.getProperty("condense.chains.gradual.baselines", "true"));
    /** Training images of the gradual and slimming rows' finetune steps: all, or the first N (condense.chains.sparsity.train). */
    private static final int SPARSITY_TRAIN = Integer.getInteger("condense.chains.sparsity.train", 60_000);
    /** Slimming rows: the regularised training, the channel pruning and the recovery (condense.chains.slimming.*). */
    private static final String SLIMMING_TRAIN = System.getProperty("condense.chains.slimming.train", "epochs=6,lr=0.05,slimming=0.012");
    /** The channel pruning of both paths, one recovered row each; ';' between them (the default: global threshold, then per layer). */
    private static final String[] SLIMMING_PRUNE = System.getProperty("condense.chains.slimming.prune",
            "structure=channel,criterion=bn_scale,sparsity=0.5,min_elements=0;"
                    + "structure=channel,criterion=bn_scale,sparsity=0.5,min_elements=0,scope=layer").split(";");
    private static final String SLIMMING_RECOVER = System.getProperty("condense.chains.slimming.recover", "epochs=6");
    /** Whether the slimming rows include the path without the penalty (condense.chains.slimming.plain; false: only the regularised). */
    private static final boolean SLIMMING_PLAIN = Boolean.parseBoolean(System.getProperty("condense.chains.slimming.plain", "true"));
    /** Whether the slimming rows read their first stage's model from an earlier run's output when there (condense.chains.slimming.reuse). */
    private static final boolean SLIMMING_REUSE = Boolean.parseBoolean(System.getProperty("condense.chains.slimming.reuse", "false"));

    private FashionChains() {
    }

    public static void main(String[] args) throws Exception {
        // DJL logs at DEBUG under logback's default configuration: keep the figures readable
        if (org.slf4j.LoggerFactory.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME) instanceof ch.qos.logback.classic.Logger root) {
            root.setLevel(ch.qos.logback.classic.Level.WARN);
        }
        Path fashion = Path.of(args.length > 0 ? args[0] : "/usr/share/datasets/fashion-mnist");
        Path models = Path.of(args.length > 1 ? args[1] : "target/lenet");
        int denseEpochs = args.length > 2 ? Integer.parseInt(args[2]) : 10;
        // "-": finetune's defaults, as a user types finetune() (an empty argument would be dropped by the exec plugin)
        String finetuneText = args.length > 3 ? args[3] : "epochs=8,lr=0.02,schedule=cosine,validation=0";
        Map<String, String> finetune = parameters(finetuneText.equals("-") ? "" : finetuneText);
        Path output = Path.of(args.length > 4 ? args[4] : "target/fashion-chains");
        Files.createDirectories(models);
        Files.createDirectories(output);

        Dataset all = scaled(fashion, "train");
        Dataset train = TRAIN < all.size() ? all.head(TRAIN) : all;
        Dataset test = scaled(fashion, "t10k");
        Dataset calibration = train.head(512);
        Trainer trainer = ServiceLoader.load(Trainer.class).findFirst().orElseThrow(() -> new IllegalStateException(
                "no Trainer on the class path: condense-training must be a test dependency"));
        Evaluator evaluator = Evaluators.fromServiceLoader();
        System.out.printf(Locale.ROOT, "Fashion-MNIST: %d training, %d test images; PyTorch threads %s; finetune %s%n",
                train.size(), test.size(), System.getProperty("ai.djl.pytorch.num_threads", "(default)"), finetune);

        List<Row> rows = new ArrayList<>();
        for (String name : MODELS) {
            OnnxModel dense = denseModel(name, models, train, test, trainer, denseEpochs);
            Row denseRow = measure(name, "dense (" + describe(name, denseEpochs) + ")", dense, test, evaluator, output, 0);
            rows.add(denseRow);
            print(denseRow, denseRow);

            long started;
            Dataset sparsityTrain = SPARSITY_TRAIN < train.size() ? train.head(SPARSITY_TRAIN) : train;
            if (GROUPS.contains("gradual") && GRADUAL_TARGETS.containsKey(name)) {
                // one-shot magnitude pruning then fine-tuning, against gradual pruning in the same epochs, both as a user
                // types them: defaults for everything but the epochs and the target
                String target = GRADUAL_TARGETS.get(name);
                for (String variant : GRADUAL_VARIANTS) {
                    if (variant.isBlank()) {
                        continue;
                    }
                    Map<String, String> given = new LinkedHashMap<>(Map.of("epochs", GRADUAL_EPOCHS, "sparsity", target));
                    given.putAll(parameters(variant));
                    started = System.nanoTime();
                    OnnxModel tuned = apply(new FinetuneTechnique(), dense, given, sparsityTrain, test, trainer);
                    Row row = measure(name, "finetune(" + inline(given) + ")", tuned, test, evaluator, output, seconds(started));
                    rows.add(row);
                    print(row, denseRow);
                }
                for (String variant : ONE_SHOT_VARIANTS) {
                    if (variant.isBlank()) {
                        continue;
                    }
                    Map<String, String> given = new LinkedHashMap<>(Map.of("epochs", GRADUAL_EPOCHS));
                    given.putAll(parameters(variant));
                    started = System.nanoTime();
                    OnnxModel pruned = apply(new PruneTechnique(), dense, Map.of("sparsity", target), null, null, null);
                    OnnxModel tuned = apply(new FinetuneTechnique(), pruned, given, sparsityTrain, test, trainer);
                    Row row = measure(name, "prune(sparsity=" + target + ") | finetune(" + inline(given) + ")", tuned, test, evaluator,
                            output, seconds(started));
                    rows.add(row);
                    print(row, denseRow);
                }
                if (GRADUAL_BASELINES) {
                    started = System.nanoTime();
                    OnnxModel oneShot = apply(new PruneTechnique(), dense, Map.of("sparsity", target), null, null, null);
                    oneShot = apply(new FinetuneTechnique(), oneShot, Map.of("epochs", GRADUAL_EPOCHS), sparsityTrain, test, trainer);
                    Row oneShotRow = measure(name, "prune(sparsity=" + target + ") | finetune(epochs=" + GRADUAL_EPOCHS + ")", oneShot, test,
                            evaluator, output, seconds(started));
                    rows.add(oneShotRow);
                    print(oneShotRow, denseRow);
                    started = System.nanoTime();
                    OnnxModel gradual = apply(new FinetuneTechnique(), dense, Map.of("epochs", GRADUAL_EPOCHS, "sparsity", target),
                            sparsityTrain, test, trainer);
                    Row gradualRow = measure(name, "finetune(epochs=" + GRADUAL_EPOCHS + ", sparsity=" + target + ")", gradual, test,
                            evaluator, output, seconds(started));
                    rows.add(gradualRow);
                    print(gradualRow, denseRow);
                }
            }
            if (GROUPS.contains("iterative")) {
                // Deep Compression's iterative pruning, as recipes/iterative-pruning.yaml runs it
                started = System.nanoTime();
                OnnxModel model = dense;
                StringBuilder chain = new StringBuilder();
                for (String[] round : new String[][] {{"0.7", "4"}, {"0.9", "4"}, {"0.97", "8"}}) {
                    model = apply(new PruneTechnique(), model, Map.of("sparsity", round[0]), null, null, null);
                    model = apply(new FinetuneTechnique(), model, Map.of("epochs", round[1]), sparsityTrain, test, trainer);
                    chain.append(chain.length() == 0 ? "" : " | ").append("prune(sparsity=").append(round[0])
                            .append(") | finetune(epochs=").append(round[1]).append(')');
                }
                Row row = measure(name, chain.toString(), model, test, evaluator, output, seconds(started));
                rows.add(row);
                print(row, denseRow);
            }
            if (GROUPS.contains("slimming") && name.startsWith("vgg")) {
                // network slimming: L1 on the BatchNormalization scales while training, then the channels with the smallest
                // scales removed and the rest fine-tuned; against the same training without the penalty
                Map<String, String> regularised = parameters(SLIMMING_TRAIN);
                Map<String, String> plain = new LinkedHashMap<>(regularised);
                plain.remove("slimming");
                for (Map<String, String> first : SLIMMING_PLAIN ? List.of(plain, regularised) : List.of(regularised)) {
                    started = System.nanoTime();
                    String chain = "finetune(" + inline(first) + ")";
                    // with condense.chains.slimming.reuse, the first stage's model from an earlier run (same parameters)
                    Path earlier = written(output, name, chain);
                    OnnxModel trained = SLIMMING_REUSE && Files.exists(earlier) ? OnnxModel.load(earlier)
                            : apply(new FinetuneTechnique(), dense, first, sparsityTrain, test, trainer);
                    Row trainedRow = measure(name, chain, trained, test, evaluator, output, seconds(started));
                    rows.add(trainedRow);
                    print(trainedRow, denseRow);
                    for (String prune : SLIMMING_PRUNE) {
                        OnnxModel slim = apply(new PruneTechnique(), trained, parameters(prune), null, null, null);
                        String pruned = chain + " | prune(" + inline(parameters(prune)) + ")";
                        Row slimRow = measure(name, pruned, slim, test, evaluator, output, 0);
                        rows.add(slimRow);
                        print(slimRow, denseRow);
                        started = System.nanoTime();
                        OnnxModel recovered = apply(new FinetuneTechnique(), slim, parameters(SLIMMING_RECOVER), sparsityTrain, test, trainer);
                        String recoveredChain = pruned + " | finetune(" + inline(parameters(SLIMMING_RECOVER)) + ")";
                        Row recoveredRow = measure(name, recoveredChain, recovered, test, evaluator, output, seconds(started));
                        rows.add(recoveredRow);
                        print(recoveredRow, denseRow);
                    }
                }
            }
            if (GROUPS.contains("defaults")) {
                // each default changed by issue 16 against the one it replaced, everything else at its default
                String[][] settings = {
                        {"prune", "prune(sparsity=0.5, scope=layer)", "sparsity=0.5,scope=layer"},
                        {"prune", "prune(sparsity=0.5) (default scope: global)", "sparsity=0.5"},
                        {"lowrank", "lowrank(ratio=0.5, selection=uniform)", "ratio=0.5,selection=uniform"},
                        {"lowrank", "lowrank(ratio=0.5) (default selection: auto, with calibration data)", "ratio=0.5"}};
                for (String[] setting : settings) {
                    started = System.nanoTime();
                    Technique technique = setting[0].equals("prune") ? new PruneTechnique() : new LowRankTechnique();
                    OnnxModel compressed = apply(technique, dense, parameters(setting[2]), null, null, null, calibration);
                    Row row = measure(name, setting[1], compressed, test, evaluator, output, seconds(started));
                    rows.add(row);
                    print(row, denseRow);
                }
                OnnxModel pruned = apply(new PruneTechnique(), dense, Map.of("sparsity", "0.9"), null, null, null);
                Row prunedRow = measure(name, "prune(sparsity=0.9)", pruned, test, evaluator, output, 0);
                rows.add(prunedRow);
                print(prunedRow, denseRow);
                Dataset tuning = DEFAULTS_TRAIN < train.size() ? train.head(DEFAULTS_TRAIN) : train;
                String extra = DEFAULTS_FINETUNE.isBlank() ? "" : inline(parameters(DEFAULTS_FINETUNE));
                for (String[] setting : new String[][] {
                        {"finetune(" + (extra.isEmpty() ? "" : extra + ", ") + "schedule=constant)", "schedule=constant," + DEFAULTS_FINETUNE},
                        {"finetune(" + extra + ") (default schedule: cosine)", DEFAULTS_FINETUNE}}) {
                    started = System.nanoTime();
                    OnnxModel tuned = apply(new FinetuneTechnique(), pruned, parameters(setting[1]), tuning, null, trainer);
                    Row row = measure(name, "prune(sparsity=0.9) | " + setting[0], tuned, test, evaluator, output, seconds(started));
                    rows.add(row);
                    print(row, denseRow);
                }
            }
            if (GROUPS.contains("prune")) {
                started = System.nanoTime();
                OnnxModel pruned90 = apply(new PruneTechnique(), dense, Map.of("sparsity", "0.9", "scope", "layer"), null, null, null);
                Row row90 = measure(name, "prune(sparsity=0.9, scope=layer)", pruned90, test, evaluator, output, seconds(started));
                rows.add(row90);
                print(row90, denseRow);

                started = System.nanoTime();
                String prune = "prune(" + inline(PRUNE) + ")";
                OnnxModel pruned92 = apply(new PruneTechnique(), dense, PRUNE, null, null, null);
                Row row92 = measure(name, prune, pruned92, test, evaluator, output, seconds(started));
                rows.add(row92);
                print(row92, denseRow);

                started = System.nanoTime();
                OnnxModel finetuned = apply(new FinetuneTechnique(), pruned92, finetune, train, test, trainer);
                Row rowFinetuned = measure(name, prune + " | finetune(" + inline(finetune) + ")", finetuned, test,
                        evaluator, output, seconds(started));
                rows.add(rowFinetuned);
                print(rowFinetuned, denseRow);

                // Deep Compression (Han et al.): prune and retrain (the row above), then share the surviving weights through a
                // k-means codebook per layer and retrain the codebooks (indices fixed, gradients summed per centroid, the zero
                // centroid kept)
                String prunedChain = prune + " | finetune(" + inline(finetune) + ")";
                String sharedChain = prunedChain + " | quantize(scheme=kmeans, bits=" + KMEANS_BITS + ")";
                started = System.nanoTime();
                OnnxModel shared = apply(new QuantizeTechnique(), finetuned, Map.of("scheme", "kmeans", "bits", KMEANS_BITS), null, null, null);
                Row rowShared = measure(name, sharedChain, shared, test, evaluator, output, seconds(started));
                rows.add(rowShared);
                print(rowShared, denseRow);
                started = System.nanoTime();
                Map<String, String> sharedFinetune = SHARED_FINETUNE.isBlank() ? finetune
                        : parameters(SHARED_FINETUNE.equals("-") ? "" : SHARED_FINETUNE);
                OnnxModel deep = apply(new FinetuneTechnique(), shared, sharedFinetune, train, test, trainer);
                Row rowDeep = measure(name, sharedChain + " | finetune(" + inline(sharedFinetune) + ")", deep, test, evaluator, output,
                        seconds(started));
                rows.add(rowDeep);
                print(rowDeep, denseRow);
            }

            // quantization-aware training: low-bit blocked weights with static uint8 activations (calibrated on 512 training
            // images), then fine-tuned through fake quantization and written back as levels of the same types
            for (String bits : GROUPS.contains("qat") ? new String[] {"4", "2"} : new String[0]) {
                String quantize = "quantize(bits=" + bits + ", granularity=block, block=32, activations=true)";
                started = System.nanoTime();
                OnnxModel quantized = apply(new QuantizeTechnique(), dense, Map.of("bits", bits, "granularity", "block", "block", "32",
                        "activations", "true"), null, null, null, calibration);
                Row rowQuantized = measure(name, quantize, quantized, test, evaluator, output, seconds(started));
                rows.add(rowQuantized);
                print(rowQuantized, denseRow);
                started = System.nanoTime();
                OnnxModel qat = apply(new FinetuneTechnique(), quantized, finetune, train, test, trainer);
                Row rowQat = measure(name, quantize + " | finetune(" + inline(finetune) + ")", qat, test, evaluator, output,
                        seconds(started));
                rows.add(rowQat);
                print(rowQat, denseRow);
                System.out.printf(Locale.ROOT, "%s %s: post-training loss %.2f points, recovered by finetune %.2f points (%.0f%%)%n", name,
                        quantize, 100 * (denseRow.accuracy() - rowQuantized.accuracy()), 100 * (rowQat.accuracy() - rowQuantized.accuracy()),
                        100 * (rowQat.accuracy() - rowQuantized.accuracy()) / (denseRow.accuracy() - rowQuantized.accuracy()));
            }

            // ternary weights {-a, 0, +a} per channel (TWN), then fine-tuned: levels kept, per-channel scales trained
            for (String keepFirstLast : GROUPS.contains("ternary") ? new String[] {"true", "false"} : new String[0]) {
                started = System.nanoTime();
                String ternarize = "ternarize(keep_first_last=" + keepFirstLast + ")";
                OnnxModel ternary = apply(new TernarizeTechnique(), dense, Map.of("keep_first_last", keepFirstLast), null, null, null);
                Row rowTernary = measure(name, ternarize, ternary, test, evaluator, output, seconds(started));
                rows.add(rowTernary);
                print(rowTernary, denseRow);
                started = System.nanoTime();
                OnnxModel ternaryTuned = apply(new FinetuneTechnique(), ternary, finetune, train, test, trainer);
                Row rowTernaryTuned = measure(name, ternarize + " | finetune(" + inline(finetune) + ")", ternaryTuned, test, evaluator,
                        output, seconds(started));
                rows.add(rowTernaryTuned);
                print(rowTernaryTuned, denseRow);
            }

            // trained low-bit methods (issue 22): each written by its technique, then trained by finetune's defaults for the bench
            for (LowBitRow lowBit : LOW_BIT_ROWS) {
                if (!GROUPS.contains(lowBit.group())) {
                    continue;
                }
                started = System.nanoTime();
                OnnxModel compressed = apply(lowBit.technique().get(), dense, lowBit.parameters(), null, null, null, calibration);
                Row rowCompressed = measure(name, lowBit.chain(), compressed, test, evaluator, output, seconds(started));
                rows.add(rowCompressed);
                print(rowCompressed, denseRow);
                started = System.nanoTime();
                Map<String, String> tuning = new LinkedHashMap<>(finetune);
                tuning.putAll(parameters(lowBit.finetune()));
                // the dense model is the job's model, as a server offers it (finetune's distill_alpha reads it)
                OnnxModel tuned = apply(new FinetuneTechnique(), compressed, tuning, train, test, trainer, null, dense);
                Row rowTuned = measure(name, lowBit.chain() + " | finetune(" + inline(tuning) + ")", tuned, test, evaluator, output,
                        seconds(started));
                rows.add(rowTuned);
                print(rowTuned, denseRow);
            }
        }

        System.out.println();
        System.out.println("| model | chain | test accuracy | vs dense (points) | non-zero weights (Conv/Gemm) | non-zero parameters | file bytes | step seconds |");
        System.out.println("|---|---|---|---|---|---|---|---|");
        Map<String, Double> denseAccuracy = new LinkedHashMap<>();
        for (Row row : rows) {
            denseAccuracy.putIfAbsent(row.model(), row.accuracy());
            System.out.printf(Locale.ROOT, "| %s | `%s` | %.4f | %+.2f | %s | %,d of %,d | %,d | %.0f |%n", row.model(),
                    row.chain().replace("|", "\\|"), row.accuracy(), 100 * (row.accuracy() - denseAccuracy.get(row.model())),
                    weightsColumn(row), row.nonZeroParameters(), row.parameters(), row.fileBytes(), row.seconds());
        }
    }

    /**
     * A trained low-bit chain: the group that selects it, the compressing technique and its parameters, the chain's text,
     * and finetune parameters added to the bench's.
     */
    private record LowBitRow(String group, java.util.function.Supplier<Technique> technique, Map<String, String> parameters, String chain,
            String finetune) {
    }

    private static final List<LowBitRow> LOW_BIT_ROWS = List.of(
            new LowBitRow("ttq", TernarizeTechnique::new, Map.of("method", "ttq", "keep_first_last", "false"),
                    "ternarize(method=ttq, keep_first_last=false)", ""),
            new LowBitRow("ttq-channel", TernarizeTechnique::new, Map.of("method", "ttq", "keep_first_last", "false", "ttq_scales", "channel"),
                    "ternarize(method=ttq, keep_first_last=false, ttq_scales=channel)", ""),
            new LowBitRow("ttq-first-last", TernarizeTechnique::new, Map.of("method", "ttq"), "ternarize(method=ttq)", ""),
            new LowBitRow("inq", QuantizeTechnique::new, Map.of("scheme", "pow2", "bits", "5", "incremental", "0.5,0.75,0.875,1"),
                    "quantize(scheme=pow2, bits=5, incremental=0.5,0.75,0.875,1)", ""),
            new LowBitRow("xnor", BinarizeTechnique::new, Map.of("activations", "1"), "binarize(activations=1)", ""),
            new LowBitRow("lsq", QuantizeTechnique::new, Map.of("bits", "2", "granularity", "block", "block", "32", "activations", "true"),
                    "quantize(bits=2, granularity=block, block=32, activations=true)", "learn_scales=true"),
            new LowBitRow("qat-w2", QuantizeTechnique::new, Map.of("bits", "2", "granularity", "block", "block", "32", "activations", "true"),
                    "quantize(bits=2, granularity=block, block=32, activations=true)", ""));

    /** A row of the table: one model after one chain. */
    private record Row(String model, String chain, double accuracy, long nonZeroWeights, long weights, long nonZeroParameters,
            long parameters, long fileBytes, double seconds) {
    }

    private static OnnxModel denseModel(String name, Path folder, Dataset train, Dataset test, Trainer trainer, int epochs) {
        Path file = folder.resolve(denseFileName(name, epochs));
        if (Files.isRegularFile(file)) {
            System.out.printf(Locale.ROOT, "%s: read %s%n", name, file.toAbsolutePath());
            return OnnxModel.load(file);
        }
        OnnxModel initial = switch (name) {
            case "lenet-5" -> LeNets.leNet5(1);
            case "lenet-5-caffe" -> LeNets.leNet5Caffe(1);
            case "vgg" -> LeNets.smallVgg(1);
            default -> name.startsWith("vgg-") ? LeNets.vgg(1, widths(name)) : LeNets.leNet300100(1);
        };
        System.out.printf(Locale.ROOT, "%s: training on %d images, %d epochs (SGD momentum 0.9, cosine 0.05 -> 0.001, batch 64, seed 1)%n",
                name, train.size(), epochs);
        OnnxModel trained = trainer.train(TrainingRequest.builder(initial, train).validationData(test)
                .epochs(epochs).batchSize(64).seed(1).optimizer(Optimizer.sgd(0.9, 0))
                .schedule(new LearningRateSchedule.Cosine(0.05, 0.001)).listener(new TrainingListener() {
                    @Override
                    public void onBatch(TrainingProgress progress) {
                    }

                    @Override
                    public void onEpoch(EpochSummary summary) {
                        System.out.printf(Locale.ROOT, "%s epoch %d: loss %.4f, test accuracy (training runtime) %.4f, %.0f images/s%n",
                                name, summary.epoch() + 1, summary.loss(), summary.validationAccuracy().orElseThrow(),
                                summary.samplesPerSecond());
                    }
                }).build()).model();
        trained.save(file);
        System.out.printf(Locale.ROOT, "%s: saved %s%n", name, file.toAbsolutePath());
        return trained;
    }

    /** The four widths of a network named {@code vgg-w0-w1-w2-w3} (LeNets.vgg). */
    private static int[] widths(String name) {
        String[] parts = name.substring("vgg-".length()).split("-");
        int[] widths = new int[parts.length];
        for (int i = 0; i < parts.length; i++) {
            widths[i] = Integer.parseInt(parts[i]);
        }
        return widths;
    }

    private static String describe(String name, int epochs) {
        return "trained by Condense, " + epochs + " epochs, " + denseFileName(name, epochs);
    }

    /** The dense model's file in the model folder: one per network and number of training epochs. */
    private static String denseFileName(String name, int epochs) {
        return name + "-" + epochs + "-epochs" + (TRAIN < 60_000 ? "-" + TRAIN + "-images" : "") + ".onnx";
    }

    /** Runs one technique as a pipeline step would: parameters validated against its descriptor, the job's data in the context. */
    private static OnnxModel apply(Technique technique, OnnxModel model, Map<String, String> parameters, Dataset train, Dataset test,
            Trainer trainer) {
        return apply(technique, model, parameters, train, test, trainer, null);
    }

    private static OnnxModel apply(Technique technique, OnnxModel model, Map<String, String> parameters, Dataset train, Dataset test,
            Trainer trainer, Dataset calibration) {
        return apply(technique, model, parameters, train, test, trainer, calibration, null);
    }

    private static OnnxModel apply(Technique technique, OnnxModel model, Map<String, String> parameters, Dataset train, Dataset test,
            Trainer trainer, Dataset calibration, OnnxModel jobModel) {
        TestStepContext.Builder builder = TestStepContext.builder().technique(technique, parameters);
        if (jobModel != null) {
            builder.jobModel(jobModel);
        }
        if (calibration != null) {
            builder.calibrationData(calibration);
        }
        if (train != null) {
            builder.trainingData(train);
        }
        if (test != null) {
            builder.evaluationData(test);
        }
        if (trainer != null) {
            builder.trainer(trainer);
        }
        try (TestStepContext context = builder.build()) {
            TechniqueResult result = technique.apply(model, context.parameters(), context);
            if (technique instanceof QuantizeTechnique) {
                System.out.printf(Locale.ROOT, "  quantize report: weight_bytes_packed %s, model_bytes_before %s, model_bytes_after %s%n",
                        result.report().get("weight_bytes_packed"), result.report().get("model_bytes_before"),
                        result.report().get("model_bytes_after"));
            }
            if (technique instanceof BinarizeTechnique || technique instanceof TernarizeTechnique) {
                System.out.printf(Locale.ROOT, "  %s report: weight_bytes_float %s, weight_bytes_packed %s, parameter_bytes_packed %s, "
                        + "macs %s, binary_macs %s (share %s), latent_bytes %s%n", technique.descriptor().id(),
                        result.report().get("weight_bytes_float"), result.report().get("weight_bytes_packed"),
                        result.report().get("parameter_bytes_packed"), result.report().get("macs"), result.report().get("binary_macs"),
                        result.report().get("binary_mac_share"), result.report().get("latent_bytes"));
            }
            if (technique instanceof LowRankTechnique) {
                System.out.printf(Locale.ROOT, "  lowrank report: selection %s (%s), greedy_score %s, achieved_ratio %s, parameters %s -> %s%n",
                        result.report().get("selection"), result.report().get("selection_reason"), result.report().get("greedy_score"),
                        result.report().get("achieved_ratio"), result.report().get("parameters_before"), result.report().get("parameters_after"));
            }
            if (technique instanceof PruneTechnique) {
                System.out.printf(Locale.ROOT, "  prune report: scope %s, sparsity %s, channels %s -> %s, macs %s -> %s (%s)%n",
                        result.report().get("scope"), result.report().get("sparsity"), result.report().get("channels_before"),
                        result.report().get("channels_after"), result.report().get("macs_before"), result.report().get("macs_after"),
                        result.report().get("mac_reduction"));
                if (result.report().get("constants_folded") != null) {
                    System.out.printf(Locale.ROOT, "  prune report: constants folded %s (not %s) into %s biases; channels per layer %s%n",
                            result.report().get("constants_folded"), result.report().get("constants_not_folded"),
                            result.report().get("biases_folded_into"), result.report().layers().stream()
                                    .map(layer -> layer.get("name") + " " + layer.get("shape_before") + " -> " + layer.get("shape_after")).toList());
                }
            }
            if (technique instanceof FinetuneTechnique) {
                // INQ's report has its histories per retraining phase under "stages"
                List<?> history = (List<?>) result.report().get(result.report().get("history") != null ? "history" : "stages");
                for (Object epoch : history) {
                    System.out.println("  finetune " + epoch);
                }
                System.out.printf(Locale.ROOT, "  finetune report: accuracy_before %s, accuracy_after %s (%s), zeros_kept %s%n",
                        result.report().get("accuracy_before"), result.report().get("accuracy_after"),
                        result.report().get("accuracy_measured_by"), result.report().get("zeros_kept"));
                for (String key : List.of("sparsity_before", "sparsity_after", "mask_updates", "sparsity_layers", "regularised", "lr",
                        "optimizer", "every_weight_power_of_two", "layers")) {
                    if (result.report().get(key) != null) {
                        System.out.println("  finetune " + key + ": " + result.report().get(key));
                    }
                }
            }
            return result.model();
        }
    }

    /** Where {@link #measure} writes the model of a chain. */
    private static Path written(Path folder, String name, String chain) {
        return folder.resolve(name + "-" + chain.toLowerCase(Locale.ROOT).replaceAll("[^a-z0-9.]+", "_")
                .replaceAll("^_+|_+$", "").replaceAll("\\.onnx$", "") + ".onnx");
    }

    /** Writes the model, reads it back and measures it in ONNX Runtime on the whole test split. */
    private static Row measure(String name, String chain, OnnxModel model, Dataset test, Evaluator evaluator, Path folder,
            double seconds) throws Exception {
        Path file = written(folder, name, chain);
        model.save(file);
        OnnxModel written = OnnxModel.load(file);
        double accuracy = evaluator.compare(written, written, EvaluationRequest.of(test, test.size())).accuracyAfter().orElseThrow();
        long weights = 0;
        long nonZeroWeights = 0;
        Set<String> layerWeights = new HashSet<>();
        written.weightLayers().forEach(layer -> layerWeights.add(layer.weightName()));
        long parameters = 0;
        long nonZeroParameters = 0;
        for (InitializerInfo info : written.initializers()) {
            if (info.dataType() != DataType.FLOAT) {
                continue;
            }
            float[] values = written.tensor(info.name()).toFloatArray();
            long nonZero = 0;
            for (float value : values) {
                if (value != 0f) {
                    nonZero++;
                }
            }
            parameters += values.length;
            nonZeroParameters += nonZero;
            if (layerWeights.contains(info.name())) {
                weights += values.length;
                nonZeroWeights += nonZero;
            }
        }
        return new Row(name, chain, accuracy, nonZeroWeights, weights, nonZeroParameters, parameters, Files.size(file), seconds);
    }

    private static void print(Row row, Row dense) {
        System.out.printf(Locale.ROOT, "%s %s: test accuracy %.4f (%+.2f points), non-zero weights %s, file %d bytes, %.0f s%n",
                row.model(), row.chain(), row.accuracy(), 100 * (row.accuracy() - dense.accuracy()), weightsColumn(row),
                row.fileBytes(), row.seconds());
    }

    /** Float Conv/Gemm weights counted; a model whose layer weights are all integer levels or codebook indices says so. */
    private static String weightsColumn(Row row) {
        return row.weights() == 0 ? "integer levels / indices" : String.format(Locale.ROOT, "%,d of %,d", row.nonZeroWeights(), row.weights());
    }

    private static double seconds(long started) {
        return (System.nanoTime() - started) / 1e9;
    }

    /** A split with pixels scaled to [0, 1] as float [N, 28, 28]. */
    private static Dataset scaled(Path folder, String split) {
        NdArray images = Idx.read(folder.resolve(split + "-images-idx3-ubyte.gz"));
        NdArray labels = Idx.read(folder.resolve(split + "-labels-idx1-ubyte.gz"));
        float[] pixels = images.toFloatArray();
        for (int i = 0; i < pixels.length; i++) {
            pixels[i] /= 255f;
        }
        return Dataset.of(NdArray.ofFloats(images.shape(), pixels), labels);
    }

    private static Map<String, String> parameters(String text) {
        Map<String, String> values = new LinkedHashMap<>();
        String last = null;
        for (String pair : text.split(",")) {
            if (!pair.isBlank()) {
                String[] parts = pair.split("=", 2);
                if (parts.length != 2 && last != null) {
                    // a list value (ttq_incremental=0.5,0.75,0.875,1): a part without '=' continues the previous value
                    values.put(last, values.get(last) + "," + pair.trim());
                    continue;
                }
                if (parts.length != 2) {
                    throw new IllegalArgumentException("finetune parameters are name=value pairs separated by commas, got '" + pair + "'");
                }
                last = parts[0].trim();
                values.put(last, parts[1].trim());
            }
        }
        return values;
    }

    private static String inline(Map<String, String> parameters) {
        StringBuilder text = new StringBuilder();
        parameters.forEach((name, value) -> text.append(text.length() == 0 ? "" : ", ").append(name).append('=').append(value));
        return text.toString();
    }
}
