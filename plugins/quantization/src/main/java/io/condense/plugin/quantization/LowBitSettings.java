package io.condense.plugin.quantization;

import static java.util.Objects.requireNonNull;

import io.condense.sdk.quantization.IncrementalPowerOfTwo;
import io.condense.sdk.technique.ParameterProblem;
import io.condense.sdk.technique.ParameterSpec;
import io.condense.sdk.technique.Parameters;
import io.condense.sdk.technique.Range;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * The low-bit side of {@code quantize}: which parameters choose it ({@code bits} below 8, {@code granularity=block},
 * {@code method=gptq}, {@code scheme=kmeans|pow2}), their specs, and the combinations it refuses. With
 * {@code activations=true} it keeps static int8/uint8 activations (W4A8 in QDQ form) for uniform levels and for pow2 up
 * to 4 bits.
 *
 * @param scheme uniform (affine levels with scales and zero points), kmeans (shared values from a codebook) or pow2
 * @param bits bits per weight: 2, 3, 4 or 8; 5 to 7 too with schemes kmeans and pow2
 * @param granularity per_channel, per_tensor or block
 * @param block columns (input features) per block with granularity=block
 * @param method rtn (round to nearest) or gptq (error feedback through the layer inputs' Hessian)
 * @param calibrationSamples calibration samples GPTQ runs
 * @param format qdq (DequantizeLinear before the layer) or matmulnbits (ONNX Runtime's com.microsoft.MatMulNBits for
 *     MatMul weights, see {@link MatMulNBitsWeights})
 * @param incremental INQ's cumulative shares (scheme=pow2), empty for all weights at once
 * @param clustering scheme=kmeans: linear (Lloyd from centroids evenly spaced over the weights' range, the paper's) or
 *     optimal (the minimum squared error partition)
 */
record LowBitSettings(String scheme, int bits, String granularity, int block, String method, int calibrationSamples, String format,
        List<Double> incremental, String clustering) {
    static final String FORMAT = "format";
    static final String MATMULNBITS = "matmulnbits";
    static final String BLOCK = "block";
    static final String INCREMENTAL = "incremental";
    static final String METHOD = "method";
    static final String SCHEME = "scheme";
    static final String CLUSTERING = "clustering";
    static final int DEFAULT_BLOCK = 32;
    static final List<Integer> SUPPORTED_BITS = List.of(2, 3, 4, 8);

    LowBitSettings {
        requireNonNull(scheme, "scheme is null");
        requireNonNull(granularity, "granularity is null");
        requireNonNull(method, "method is null");
        requireNonNull(format, "format is null");
        incremental = List.copyOf(requireNonNull(incremental, "incremental is null"));
        requireNonNull(clustering, "clustering is null");
    }

    LowBitSettings(String scheme, int bits, String granularity, int block, String method, int calibrationSamples, String format,
            List<Double> incremental) {
        this(scheme, bits, granularity, block, method, calibrationSamples, format, incremental, "linear");
    }

    /** INQ: {@code incremental} given (scheme=pow2). */
    boolean incrementalSchedule() {
        return !incremental.isEmpty();
    }

    /** The shares of {@code incremental} ("0.5,0.75,0.875,1"; blank: none); a problem added for text that is not numbers. */
    static List<Double> incrementalShares(Parameters parameters, List<ParameterProblem> problems) {
        String text = parameters.getString(INCREMENTAL).trim();
        Optional<List<Double>> parsed = IncrementalPowerOfTwo.parseShares(text);
        if (parsed.isEmpty()) {
            problems.add(new ParameterProblem(INCREMENTAL, text, "must be increasing shares separated by commas, ending at 1, "
                    + "such as 0.5,0.75,0.875,1 (INQ's schedule)"));
            return List.of();
        }
        List<Double> shares = parsed.get();
        if (shares.isEmpty()) {
            return List.of();
        }
        IncrementalPowerOfTwo.scheduleProblem(shares).ifPresent(problem -> problems.add(new ParameterProblem(INCREMENTAL, text,
                problem + "; INQ's schedule is 0.5,0.75,0.875,1")));
        return shares;
    }

    static List<ParameterSpec> specs() {
        return List.of(
                ParameterSpec.integerParameter(BLOCK, DEFAULT_BLOCK, Range.closed(2, 1 << 20),
                        "With granularity=block: input features (the layer's reduction dimension) sharing one scale and zero point; "
                                + "a block size that does not divide a layer's input features leaves a shorter last block."),
                ParameterSpec.choiceParameter(METHOD, "rtn", List.of("rtn", "gptq"),
                        "rtn: round each weight to the nearest level; gptq: quantize input features in order and spread each "
                                + "rounding error over the features not yet quantized through the layer inputs' Hessian (needs "
                                + "--calibration-data; scheme=uniform)."),
                ParameterSpec.choiceParameter(SCHEME, "uniform", List.of("uniform", "kmeans", "pow2"),
                        "uniform: evenly spaced levels with a scale and zero point; kmeans: 2^bits shared values per layer found "
                                + "by k-means (Deep Compression), stored as indices into a codebook; pow2: zero or signed powers of "
                                + "two (INQ, log quantization)."),
                ParameterSpec.choiceParameter(CLUSTERING, "linear", List.of("linear", "optimal"),
                        "scheme=kmeans: linear: Lloyd's k-means from centroids evenly spaced over each layer's range, as Deep "
                                + "Compression does (it keeps centroids for the rare large weights, and the indices' skewed use "
                                + "makes them cheaper to Huffman-code: 4.9 instead of 5.7 bits on a 92% pruned LeNet-300-100 "
                                + "layer at 6 bits); optimal: the partition with the least squared error (exact 1-D k-means)."),
                ParameterSpec.choiceParameter(FORMAT, "qdq", List.of("qdq", MATMULNBITS),
                        "qdq: levels read by DequantizeLinear before the layer (any ONNX runtime); matmulnbits: each MatMul with a "
                                + "2-D weight as second operand becomes ONNX Runtime's com.microsoft.MatMulNBits, its fastest CPU "
                                + "kernel for weight-only 2/4/8-bit blocks (needs granularity=block, scheme=uniform, no activations; "
                                + "other layers stay QDQ)."),
                ParameterSpec.stringParameter(INCREMENTAL, "",
                        "scheme=pow2 only: INQ's schedule as cumulative shares, e.g. 0.5,0.75,0.875,1: quantize rounds the largest "
                                + "first share of each layer's weights to powers of two (one window per layer) and leaves the rest float; "
                                + "a following finetune retrains the rest and rounds the next shares in turn, ending with every "
                                + "weight a power of two or zero. Blank: all at once."));
    }

    static LowBitSettings of(Parameters parameters) {
        return new LowBitSettings(parameters.getString(SCHEME), parameters.getInt(QuantizeTechnique.BITS),
                parameters.getString(QuantizeTechnique.GRANULARITY), parameters.getInt(BLOCK), parameters.getString(METHOD),
                parameters.getInt(QuantizeTechnique.CALIBRATION_SAMPLES), parameters.getString(FORMAT),
                incrementalShares(parameters, new ArrayList<>()), parameters.getString(CLUSTERING));
    }

    /** Whether these values leave the 8-bit symmetric path: fewer bits, blocks, GPTQ or a non-uniform scheme. */
    static boolean applies(Parameters parameters) {
        return parameters.getInt(QuantizeTechnique.BITS) < 8 || parameters.getString(QuantizeTechnique.GRANULARITY).equals("block")
                || parameters.getString(METHOD).equals("gptq") || !parameters.getString(SCHEME).equals("uniform")
                || parameters.getString(FORMAT).equals(MATMULNBITS) || !parameters.getString(INCREMENTAL).isBlank();
    }

    boolean matMulNBits() {
        return format.equals(MATMULNBITS);
    }

    boolean blocked() {
        return granularity.equals("block");
    }

    boolean perTensor() {
        return granularity.equals("per_tensor");
    }

    boolean gptq() {
        return method.equals("gptq");
    }

    /** Every problem with the bits and the low-bit parameters, together with the rest of quantize's values. */
    static List<ParameterProblem> problems(Parameters parameters) {
        List<ParameterProblem> problems = new ArrayList<>();
        int bits = parameters.getInt(QuantizeTechnique.BITS);
        String bitsText = Integer.toString(bits);
        if (bits == 1) {
            problems.add(new ParameterProblem(QuantizeTechnique.BITS, bitsText, "1-bit weights are the binarize technique "
                    + "(binarize, or ternarize for -1/0/+1): use that step instead; quantize takes bits 2, 3, 4 or 8"));
        } else if (bits > 4 && bits < 8) {
            if (parameters.getString(SCHEME).equals("uniform")) {
                problems.add(new ParameterProblem(QuantizeTechnique.BITS, bitsText, bits + "-bit levels are for scheme=kmeans "
                        + "(2^" + bits + " shared values, uint8 indices) and scheme=pow2 (float values); uniform weights take bits 2, 3, 4 or 8"));
            }
        } else if (!SUPPORTED_BITS.contains(bits)) {
            problems.add(new ParameterProblem(QuantizeTechnique.BITS, bitsText, "quantize takes bits 2, 3, 4 or 8 (and 5 to 7 with "
                    + "scheme=kmeans)"));
        }
        if (!applies(parameters)) {
            for (String name : List.of(BLOCK)) {
                if (parameters.isExplicit(name)) {
                    problems.add(new ParameterProblem(name, parameters.getString(name), "block applies only with granularity=block"));
                }
            }
            return problems;
        }
        String granularity = parameters.getString(QuantizeTechnique.GRANULARITY);
        String scheme = parameters.getString(SCHEME);
        String method = parameters.getString(METHOD);
        String mode = bits < 8 ? bits + "-bit weights" : scheme.equals("uniform") ? granularity + "/" + method + " weights"
                : scheme + " weights";
        if (parameters.getBoolean(QuantizeTechnique.ACTIVATIONS)) {
            problems.addAll(activationProblems(parameters, scheme, bits, mode));
        }
        String dtype = parameters.getString(QuantizeTechnique.DTYPE);
        if (!dtype.equals("int")) {
            problems.add(new ParameterProblem(QuantizeTechnique.DTYPE, dtype, "dtype=" + dtype + " stores 16-bit floats, not "
                    + mode + ": leave dtype at int"));
        }
        if (parameters.isExplicit(BLOCK) && !granularity.equals("block")) {
            problems.add(new ParameterProblem(BLOCK, parameters.getString(BLOCK), "block applies only with granularity=block "
                    + "(granularity is " + granularity + ")"));
        }
        if (scheme.equals("kmeans") && parameters.isExplicit(QuantizeTechnique.GRANULARITY)) {
            problems.add(new ParameterProblem(QuantizeTechnique.GRANULARITY, granularity, "scheme=kmeans shares one codebook per "
                    + "layer and has no scales: leave granularity out"));
        }
        if (scheme.equals("pow2") && granularity.equals("block")) {
            problems.add(new ParameterProblem(QuantizeTechnique.GRANULARITY, granularity, "scheme=pow2 scales by a power of two "
                    + "per channel or per tensor: use granularity=per_channel or per_tensor"));
        }
        if (parameters.getString(FORMAT).equals(MATMULNBITS)) {
            problems.addAll(matMulNBitsProblems(parameters, scheme, granularity, bits));
        }
        List<Double> shares = incrementalShares(parameters, problems);
        if (!shares.isEmpty() || !parameters.getString(INCREMENTAL).isBlank()) {
            if (!scheme.equals("pow2")) {
                problems.add(new ParameterProblem(INCREMENTAL, parameters.getString(INCREMENTAL), "INQ's schedule rounds onto powers "
                        + "of two: set scheme=pow2, or drop incremental"));
            }
            if (parameters.isExplicit(QuantizeTechnique.GRANULARITY)) {
                problems.add(new ParameterProblem(QuantizeTechnique.GRANULARITY, granularity, "with incremental each layer has one "
                        + "power-of-two window (INQ's n1 and n2): leave granularity out"));
            }
            if (parameters.getBoolean(QuantizeTechnique.ACTIVATIONS)) {
                problems.add(new ParameterProblem(QuantizeTechnique.ACTIVATIONS, "true", "with incremental the weights stay partly "
                        + "float until finetune has run the schedule: quantize the activations afterwards, or drop incremental"));
            }
        }
        if (method.equals("gptq") && !scheme.equals("uniform")) {
            problems.add(new ParameterProblem(METHOD, method, "method=gptq rounds onto uniform levels: use scheme=uniform, or "
                    + "method=rtn with scheme=" + scheme));
        }
        return problems;
    }

    /** What MatMulNBits cannot hold: blocks of a power of two from 16 (ONNX Runtime's kernels), uniform weight-only levels. */
    private static List<ParameterProblem> matMulNBitsProblems(Parameters parameters, String scheme, String granularity, int bits) {
        List<ParameterProblem> problems = new ArrayList<>();
        String what = "format=matmulnbits writes ONNX Runtime's MatMulNBits, blocks of uniform weight-only levels";
        if (!granularity.equals("block")) {
            problems.add(new ParameterProblem(QuantizeTechnique.GRANULARITY, granularity, what + ": use granularity=block"));
        }
        if (!scheme.equals("uniform")) {
            problems.add(new ParameterProblem(SCHEME, scheme, what + ": use scheme=uniform, or format=qdq"));
        }
        if (parameters.getBoolean(QuantizeTechnique.ACTIVATIONS)) {
            problems.add(new ParameterProblem(QuantizeTechnique.ACTIVATIONS, "true", what + " (its float inputs stay float): drop "
                    + "activations=true, or use format=qdq"));
        }
        int block = parameters.getInt(BLOCK);
        if (Integer.bitCount(block) != 1 || block < 16) {
            problems.add(new ParameterProblem(BLOCK, Integer.toString(block), "MatMulNBits takes blocks of a power of two from 16 "
                    + "(16, 32, 64, 128, ...)"));
        }
        return problems;
    }

    /**
     * What refuses static activations (W4A8): they go with weights read through DequantizeLinear, uniform levels below 8
     * bits or pow2 up to 4 bits. K-means codebooks (Gather) and 8-bit pow2 (float values) have no weight scale; 8-bit
     * uniform levels with zero points per block or channel are fused by ONNX Runtime 1.29 into integer kernels that reject
     * them (QLinearMatMul: "weight zero point must be a scalar"); int8 activations in the opset-21 graph of 4-bit levels
     * are rejected when the session is created (pytorch_cnn_mnist: "output_dtype INT8 does not match y_zero_point type
     * UINT8" on a QuantizeLinear of its own rewrite).
     */
    private static List<ParameterProblem> activationProblems(Parameters parameters, String scheme, int bits, String mode) {
        String uniform = "scheme=uniform with bits 2 to 4 (rtn or gptq, per_channel, per_tensor or block)";
        if (scheme.equals("kmeans") || scheme.equals("pow2") && bits > 4) {
            return List.of(new ParameterProblem(QuantizeTechnique.ACTIVATIONS, "true", "static activations go with weights read "
                    + "through DequantizeLinear (levels times a scale); " + mode + " are " + (scheme.equals("kmeans")
                            ? "codebook values read through Gather" : "stored as float values") + ", with no scale to quantize the "
                    + "bias with nor a QDQ layer to form: drop activations=true, or use " + uniform
                    + (scheme.equals("pow2") ? " or scheme=pow2 with bits 2 to 4" : "")));
        }
        if (scheme.equals("uniform") && bits == 8) {
            return List.of(new ParameterProblem(QuantizeTechnique.ACTIVATIONS, "true", "with static activations ONNX Runtime fuses "
                    + "8-bit uint8 levels with a zero point per block or per channel into integer kernels that reject them: for 8-bit "
                    + "weights with activations use the int8 path (granularity per_channel or per_tensor, method=rtn), or " + uniform));
        }
        if (scheme.equals("uniform") && parameters.getBoolean(QuantizeTechnique.SYMMETRIC)) {
            return List.of(new ParameterProblem(QuantizeTechnique.SYMMETRIC, "true", "int8 activations (symmetric=true) in the opset-21 "
                    + "graph that " + mode + " need are rejected by ONNX Runtime 1.29 when it loads some models (its int8 rewrite "
                    + "leaves a QuantizeLinear whose output_dtype INT8 does not match its uint8 zero point): use symmetric=false "
                    + "(uint8 activations), or scheme=pow2 with bits 2 to 4 (opset 13) for int8 activations"));
        }
        return List.of();
    }
}
