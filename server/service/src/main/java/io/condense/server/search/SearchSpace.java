package io.condense.server.search;

import java.util.ArrayList;
import java.util.List;
import java.util.Set;

/**
 * The families of candidates a search tries, from what the spec allows and what data the job has. Each family leaves
 * the per-layer choices to the technique's own measured-sensitivity allocation: {@code lowrank}'s greedy rank selection
 * (on the job's calibration or evaluation data) and {@code prune}'s global magnitude threshold; the search chooses each
 * family's overall strength by real evaluation.
 */
final class SearchSpace {
    /**
     * The fine-tuning stage of the candidates that train: two passes over the search's training samples (the command
     * passes the first 10,000 by default), none held out (the search judges candidates on the evaluation data). One stage
     * per candidate: a process trains one model at a time.
     */
    static final String FINETUNE = "finetune(epochs=2, validation=0)";

    /**
     * The pruning stage of the trained size family: magnitude pruning reached gradually while fine-tuning (Zhu and Gupta's
     * schedule, one global threshold) instead of {@code prune | finetune}. Measured on the Fashion-MNIST LeNet-300-100 with
     * k-means 4 bits, codebook retraining and encode after it (server/service README, "Accuracy-aware search"): at
     * sparsity 0.85, 32.7x smaller, test drop 0.31 points on 55,000 training images against 0.89 on 10,000; pruning at
     * once then two epochs lost 1.30 points at 0.89 on 10,000, and 0.87 with four times the epochs.
     */
    static final String GRADUAL_PRUNING = "finetune(epochs=2, sparsity=%s, validation=0)";

    /**
     * Deep Compression's second retraining, after k-means weight sharing: the codebooks train with every index fixed. On
     * Caffe's LeNet-5 it took the k-means step's loss from 0.25 to 0.10 points (plugins/coding README); one pass here.
     */
    static final String CODEBOOK_FINETUNE = "finetune(epochs=1, validation=0)";

    /**
     * What the trained size family leaves in float32 (biases, the 16-entry codebooks) stored as float16 before the packed
     * coding, which compresses the Casts this adds to a few bytes each. On the Fashion-MNIST LeNet-5's search answer at
     * sparsity 0.89 (8,472 bytes, 1,030 of them float32 biases): 8,001 bytes, 31.05x instead of 29.33x (plugins/quantization
     * README, "Float32 initializers as float16").
     */
    static final String HALF_PRECISION_REST = "quantize(dtype=fp16, scope=initializers, min_elements=16)";

    /**
     * How the int4 families end when the objective is size and encode is allowed: their float32 block scales (one per 32
     * weights, about an eighth of the file) and biases stored as float16, then the packed coding, which entropy-codes the
     * 4-bit levels. The Fashion-MNIST LeNet-5 at {@code lowrank(ratio=0.806) | int4 GPTQ}: 34,995 bytes as ONNX, 32,157
     * with the float16 step, 28,100 packed (7.10x -> 8.84x smaller, the same accuracy).
     */
    static final String INT4_PACKED = HALF_PRECISION_REST + " | encode";

    private SearchSpace() {
    }

    /**
     * @param calibration the job has calibration data (static activations, GPTQ)
     * @param training the job has training data and labels (fine-tuning, QAT, then the packed encoding)
     */
    static List<Family> families(SearchSpec spec, boolean calibration, boolean training) {
        List<Family> families = new ArrayList<>();
        String finetune = FINETUNE;
        String int4 = "quantize(bits=4, granularity=block" + (calibration ? ", method=gptq" : "") + ")";
        switch (spec.objective()) {
            case SIZE, MACS -> {
                families.add(Family.single("int8", "quantize(bits=8)", Set.of("quantize")));
                boolean packed = spec.objective() == SearchSpec.Objective.SIZE && spec.techniques().contains("encode");
                String int4Stored = packed ? int4 + " | " + INT4_PACKED : int4;
                Set<String> int4Techniques = packed ? Set.of("quantize", "encode") : Set.of("quantize");
                families.add(Family.single("int4", int4Stored, int4Techniques));
                Set<String> lowrankTechniques = new java.util.HashSet<>(int4Techniques);
                lowrankTechniques.add("lowrank");
                families.add(new Family("lowrank+int4", "lowrank(ratio=%s) | " + int4Stored, 0.9, 0.05, lowrankTechniques));
                if (spec.objective() == SearchSpec.Objective.MACS) {
                    families.add(new Family("channels+int8", "prune(structure=channel, sparsity=%s) | quantize(bits=8)", 0.1, 0.8,
                            Set.of("prune", "quantize")));
                }
                if (training) {
                    // Deep Compression: magnitude pruning, retraining with the zeros kept, k-means weight sharing, retraining of
                    // the codebooks, packed coding; the pruning reached while training (GRADUAL_PRUNING), which holds accuracy
                    // with far less retraining than pruning at once and retraining after
                    families.add(new Family("gradual+kmeans4+finetune+encode", GRADUAL_PRUNING
                            + " | quantize(scheme=kmeans, bits=4) | " + CODEBOOK_FINETUNE + " | " + HALF_PRECISION_REST + " | encode", 0.8, 0.98,
                            Set.of("prune", "finetune", "quantize", "encode")));
                    if (!spec.techniques().contains("prune")) {
                        // low rank, then int4 blocks trained as fake quantization (QAT), packed coding: when pruning is not allowed
                        // (each trained candidate takes the process's one training slot, so one trained family at a time)
                        families.add(new Family("lowrank+qat4+encode", "lowrank(ratio=%s) | quantize(bits=4, granularity=block) | "
                                + finetune + " | encode", 0.9, 0.05, Set.of("lowrank", "finetune", "quantize", "encode")));
                    }
                }
            }
            case LATENCY -> {
                if (calibration) {
                    families.add(Family.single("int8-static", "quantize(bits=8, activations=true)", Set.of("quantize")));
                    families.add(new Family("channels+int8-static",
                            "prune(structure=channel, sparsity=%s) | quantize(bits=8, activations=true)", 0.1, 0.7,
                            Set.of("prune", "quantize")));
                }
                families.add(new Family("channels", "prune(structure=channel, sparsity=%s)", 0.1, 0.7, Set.of("prune")));
                families.add(new Family("tucker2", "lowrank(method=tucker2, ratio=%s)", 0.9, 0.1, Set.of("lowrank")));
                if (training) {
                    families.add(new Family("channels+finetune", "prune(structure=channel, sparsity=%s) | " + finetune, 0.1, 0.8,
                            Set.of("prune", "finetune")));
                }
            }
        }
        families.removeIf(family -> !spec.techniques().containsAll(family.techniques()));
        return families;
    }

    /** The one job that measures every layer's sensitivity to pruning, for the report's curves. */
    static Candidate sensitivity() {
        return new Candidate("sensitivity", Double.NaN, "prune(sparsity=0.5, sensitivity=true)");
    }
}
