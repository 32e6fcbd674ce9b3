package io.condense.plugin.quantization;

import ai.onnx.proto.OnnxMl.AttributeProto;
import ai.onnx.proto.OnnxMl.NodeProto;
import ai.onnx.proto.OnnxMl.TensorProto;
import io.condense.sdk.error.CondenseException;
import io.condense.sdk.error.ErrorCode;
import io.condense.sdk.model.LayerSelection;
import io.condense.sdk.model.ModelEditor;
import io.condense.sdk.model.OnnxModel;
import io.condense.sdk.model.QdqWeights;
import io.condense.sdk.model.WeightLayer;
import io.condense.sdk.stats.ShapeInference;
import io.condense.sdk.tensor.DataType;
import io.condense.sdk.tensor.LargeTensor;
import io.condense.sdk.tensor.OffHeapBytes;
import java.nio.FloatBuffer;
import java.util.Arrays;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalInt;
import org.ejml.data.DMatrixRMaj;

/**
 * Blocked uniform weight-only quantization (round to nearest or GPTQ) of a MatMul weight W [K, N] (the second operand:
 * K input features, N outputs), one block of output columns at a time, so that a weight of any size costs the heap its
 * packed output plus a few megabytes: the float weight is read from its bytes (memory-mapped for models loaded with
 * external data), never copied whole, and the written tensors are {@link OffHeapBytes#spill spilled} out of the heap.
 *
 * <p>Two forms. {@code qdq}: uint4 (2 to 4 bits) or uint8 levels [K, N], float scales and zero points [K / block, N],
 * read by DequantizeLinear with {@code axis=0, block_size} (opset 21). {@code matmulnbits}: ONNX Runtime's contrib
 * operator {@code com.microsoft.MatMulNBits} replaces each MatMul: B uint8 [N, K / block, block * bits / 8] holds each
 * output column's levels block by block, packed from the low bits of each byte up; scales float [N, K / block]; zero
 * points uint8 [N, ceil(K / block * bits / 8)] packed the same way; attributes K, N, bits, block_size. ONNX Runtime has
 * 2, 4 and 8-bit kernels: 3-bit levels (0..7) are stored in the 4-bit form, and the report gives their size packed at 3.
 * A last block shorter than {@code block} is padded with the zero point (it dequantizes to 0 and is never read).
 */
final class BlockedMatMulWeights {
    /** Input features read together when a block of output columns is turned into rows (the transposing read). */
    private static final int FEATURE_TILE = 16;
    static final String MICROSOFT_DOMAIN = "com.microsoft";
    /** Doubles per block of rows: 16 MB of working memory whatever the weight's size. */
    private static final int CHUNK_ELEMENTS = 1 << 21;
    /**
     * GPTQ's report compares its output error with round to nearest's, {@code tr((W - Q) H (W - Q)^T)}, on weights up to
     * this many elements: both cost as much as GPTQ itself, which would triple the time on a large model.
     */
    static final long OUTPUT_ERROR_ELEMENTS = 1 << 22;
    /** Output columns the round-to-nearest path handles at a time: a block of rows of this width stays in the cache. */
    private static final int COLUMN_TILE = 1024;
    private static final float ROUNDING = SymmetricQuantizer.ROUNDING;
    /** Tensors at least this large are written out of the heap. */
    private static final long SPILL_BYTES = 1 << 20;

    private BlockedMatMulWeights() {
    }

    /** A weight's float values by flat index: a tensor in memory (or mapped), or one over 2 GiB read in place. */
    @FunctionalInterface
    interface WeightValues {
        float get(long index);

        /** {@code length} values from flat index {@code index} into {@code out} from {@code offset}. */
        default void read(long index, float[] out, int offset, int length) {
            for (int i = 0; i < length; i++) {
                out[offset + i] = get(index + i);
            }
        }

        /** The weight named, from wherever the model keeps it; runs of values are read in bulk. */
        static WeightValues of(OnnxModel model, String name) {
            Optional<LargeTensor> large = model.largeTensor(name);
            if (large.isPresent()) {
                LargeTensor tensor = large.get();
                return new WeightValues() {
                    @Override
                    public float get(long index) {
                        return tensor.getFloat(index);
                    }

                    @Override
                    public void read(long index, float[] out, int offset, int length) {
                        tensor.getFloats(index, out, offset, length);
                    }
                };
            }
            FloatBuffer values = model.tensor(name).floats();
            return new WeightValues() {
                @Override
                public float get(long index) {
                    return values.get(Math.toIntExact(index));
                }

                @Override
                public void read(long index, float[] out, int offset, int length) {
                    values.get(Math.toIntExact(index), out, offset, length);
                }
            };
        }
    }

    /** What the weight became: its signal and error energies, for the SQNR. */
    record Outcome(double signal, double noise) {
    }

    /**
     * Why a candidate cannot take the asked form, or null when it can: a 2-D weight read as the second operand of MatMul
     * only; with MatMulNBits also one read only as the first operand (W [M, K] x X [..., K, N], written as the transpose of
     * X^T W^T: Transpose, MatMulNBits, Transpose), when {@code shapes} knows that every such X has rank 2 or more, and in
     * both cases read by no other node of {@code model} (a Gather of a tied embedding table reads it as DequantizeLinear).
     */
    static String refusal(LayerSelection.Candidate candidate, boolean matMulNBits, OnnxModel model, ShapeInference shapes) {
        String right = refusal(candidate);
        if (matMulNBits && (right == null || leftOperand(candidate))) {
            for (NodeProto reader : model.consumers(candidate.weightName())) {
                if (candidate.layers().stream().noneMatch(layer -> layer.node().equals(reader))) {
                    return "it is also read by " + reader.getOpType() + " '" + reader.getName() + "', which MatMulNBits cannot feed";
                }
            }
        }
        if (right == null || !matMulNBits || candidate.shape().length != 2 || !leftOperand(candidate)) {
            return right;
        }
        for (WeightLayer layer : candidate.layers()) {
            String x = layer.node().getInput(1);
            if (shapes.shape(x).map(shape -> shape.length).orElse(0) < 2) {
                return "it is the first operand of MatMul '" + layer.displayName() + "', whose other operand '" + x
                        + "' has no known rank of 2 or more (MatMulNBits takes it transposed)";
            }
        }
        return null;
    }

    /** Whether every layer reads the weight as MatMul's first operand only: W [M, K] x X [..., K, N]. */
    static boolean leftOperand(LayerSelection.Candidate candidate) {
        for (WeightLayer layer : candidate.layers()) {
            NodeProto node = layer.node();
            if (!node.getOpType().equals("MatMul") || !node.getInput(0).equals(candidate.weightName())
                    || node.getInput(1).equals(candidate.weightName())) {
                return false;
            }
        }
        return true;
    }

    /** Why a candidate cannot be read in blocks of output columns, or null when it can: a 2-D weight read as the second operand of MatMul only. */
    static String refusal(LayerSelection.Candidate candidate) {
        if (candidate.shape().length != 2) {
            return "its weight has rank " + candidate.shape().length + ", not a [K, N] matrix";
        }
        for (WeightLayer layer : candidate.layers()) {
            NodeProto node = layer.node();
            if (!node.getOpType().equals("MatMul") || !node.getInput(1).equals(candidate.weightName())
                    || node.getInput(0).equals(candidate.weightName())) {
                return "it is read by " + node.getOpType() + " '" + layer.displayName() + "', not only as the second operand of MatMul";
            }
        }
        return null;
    }

    /** Bits per stored level: MatMulNBits runs 2, 4 and 8; 3-bit levels go in the 4-bit form. */
    static int storedBits(int bits, boolean matMulNBits) {
        if (!matMulNBits) {
            return bits <= 4 ? 4 : 8;
        }
        return bits == 3 ? 4 : bits;
    }

    /**
     * @param factor GPTQ's factor of the layer inputs' Hessian (shared by the weights that read the same input), or null to
     *     round to nearest
     * @param hessian that Hessian, for the report's output errors, or null
     */
    static Outcome write(ModelEditor editor, LayerSelection.Candidate candidate, WeightValues stored, LowBitSettings settings,
            Gptq.Factor factor, DMatrixRMaj hessian, String gptqRefusal, Map<String, Object> layer, ShapeInference shapes) {
        long[] shape = candidate.shape();
        boolean nbits = settings.matMulNBits();
        // a first operand W [M, K] is read as its transpose [K, M]: the second operand of X^T W^T
        boolean left = nbits && leftOperand(candidate);
        int features = Math.toIntExact(shape[left ? 1 : 0]);
        int outputs = Math.toIntExact(shape[left ? 0 : 1]);
        WeightValues values = left ? index -> stored.get(index % outputs * features + index / outputs) : stored;
        int block = settings.block();
        int blocks = (features + block - 1) / block;
        if (factor == null && !left) {
            return finish(editor, candidate, roundToNearest(candidate, stored, settings), settings, gptqRefusal, layer, shapes);
        }
        int storedBits = storedBits(settings.bits(), nbits);
        AffineGrid grid = new AffineGrid(settings.bits(), block, false);
        Layout layout = layout(features, outputs, blocks, storedBits, settings, left);
        int chunkRows = Math.max(1, Math.min(outputs, CHUNK_ELEMENTS / features));
        double[] data = new double[chunkRows * features];
        byte[] levels = new byte[chunkRows * features];
        float[] dequantized = new float[chunkRows * features];
        float[] scales = new float[chunkRows * blocks];
        int[] zeros = new int[chunkRows * blocks];
        double signal = 0;
        double noise = 0;
        // round to nearest's and GPTQ's output errors, summed over the blocks of rows
        double[] errors = factor != null && hessian != null && candidate.elements() <= OUTPUT_ERROR_ELEMENTS ? new double[2] : null;
        for (int first = 0; first < outputs; first += chunkRows) {
            int rows = Math.min(chunkRows, outputs - first);
            // output columns first..first+rows of W [K, N] as rows of [rows, K], a tile of features at a time: each
            // feature's row read in order, and each row of data written a tile's run of elements at once (feature by
            // feature, every write went to another cache line)
            for (int tile = 0; tile < features; tile += FEATURE_TILE) {
                int tileEnd = Math.min(features, tile + FEATURE_TILE);
                for (int row = 0; row < rows; row++) {
                    int at = row * features;
                    for (int feature = tile; feature < tileEnd; feature++) {
                        float value = values.get((long) feature * outputs + first + row);
                        if (!Float.isFinite(value)) {
                            throw new CondenseException(ErrorCode.UNSUPPORTED_MODEL, "cannot quantize layer " + candidate.layerNames()
                                    + ": its weight '" + candidate.weightName() + "' holds " + value + " at [" + feature + ", "
                                    + (first + row) + "]; exclude the layer or fix the model");
                        }
                        data[at + feature] = value;
                        signal += (double) value * value;
                    }
                }
            }
            if (factor != null) {
                if (errors != null) {
                    double[] original = data.clone();
                    roundToNearest(original, rows, features, grid, new byte[levels.length], new float[scales.length],
                            new int[zeros.length], dequantized);
                    errors[0] += outputError(original, dequantized, rows, features, hessian);
                }
                double[] original = errors != null ? data.clone() : null;
                Gptq.quantizeRows(data, rows, factor, grid, levels, scales, zeros, dequantized);
                if (errors != null) {
                    errors[1] += outputError(original, dequantized, rows, features, hessian);
                }
            } else {
                roundToNearest(data, rows, features, grid, levels, scales, zeros, dequantized);
            }
            // the weight read again (GPTQ has changed the working copy), by tiles of features as above
            for (int tile = 0; tile < features; tile += FEATURE_TILE) {
                int tileEnd = Math.min(features, tile + FEATURE_TILE);
                for (int row = 0; row < rows; row++) {
                    int at = row * features;
                    for (int feature = tile; feature < tileEnd; feature++) {
                        double error = values.get((long) feature * outputs + first + row) - dequantized[at + feature];
                        noise += error * error;
                    }
                }
            }
            for (int row = 0; row < rows; row++) {
                layout.put(first + row, levels, row * features, scales, zeros, row * blocks);
            }
        }

        describe(layer, candidate, settings, layout, features, outputs, blocks, storedBits, factor, gptqRefusal, errors, left, editor,
                shapes);
        return new Outcome(signal, noise);
    }

    /** Whether {@link #roundToNearest} can take the candidate: round to nearest of a weight that is not MatMulNBits' first operand. */
    static boolean roundsByRows(LayerSelection.Candidate candidate, LowBitSettings settings) {
        return !(settings.matMulNBits() && leftOperand(candidate));
    }

    /** A weight rounded to nearest, its tensors filled but not yet in the model. */
    record Rounded(Layout layout, Outcome outcome, int features, int outputs, int blocks, int storedBits) {
    }

    /**
     * Rounds a weight ({@link #roundsByRows}) to nearest without touching the model being written, so that several weights
     * can be rounded in parallel; {@link #finish} then writes each, in order.
     */
    static Rounded roundToNearest(LayerSelection.Candidate candidate, WeightValues stored, LowBitSettings settings) {
        int features = Math.toIntExact(candidate.shape()[0]);
        int outputs = Math.toIntExact(candidate.shape()[1]);
        int block = settings.block();
        int blocks = (features + block - 1) / block;
        int storedBits = storedBits(settings.bits(), settings.matMulNBits());
        Layout layout = layout(features, outputs, blocks, storedBits, settings, false);
        Outcome outcome = roundToNearestByRows(candidate, stored, features, outputs, new AffineGrid(settings.bits(), block, false), layout);
        return new Rounded(layout, outcome, features, outputs, blocks, storedBits);
    }

    /** The written form's tensors for a weight read as [features, outputs]: MatMulNBits' or DequantizeLinear's. */
    private static Layout layout(int features, int outputs, int blocks, int storedBits, LowBitSettings settings, boolean left) {
        return settings.matMulNBits() ? new NBitsLayout(features, outputs, settings.block(), blocks, storedBits, left)
                : new QdqLayout(features, outputs, settings.block(), blocks, storedBits);
    }

    /** Writes a rounded weight into the model (its tensors, the nodes that read them) and its report entries. */
    static Outcome finish(ModelEditor editor, LayerSelection.Candidate candidate, Rounded rounded, LowBitSettings settings,
            String gptqRefusal, Map<String, Object> layer, ShapeInference shapes) {
        describe(layer, candidate, settings, rounded.layout(), rounded.features(), rounded.outputs(), rounded.blocks(),
                rounded.storedBits(), null, gptqRefusal, null, false, editor, shapes);
        return rounded.outcome();
    }

    /** Writes the layout's tensors and nodes, and the layer's report entries. */
    private static void describe(Map<String, Object> layer, LayerSelection.Candidate candidate, LowBitSettings settings, Layout layout,
            int features, int outputs, int blocks, int storedBits, Gptq.Factor factor, String gptqRefusal, double[] errors, boolean left,
            ModelEditor editor, ShapeInference shapes) {
        boolean nbits = settings.matMulNBits();
        int block = settings.block();
        String weightName = candidate.weightName();
        layer.put("granularity", "block");
        layer.put("block", block);
        layer.put("blocks_per_row", blocks);
        if (features % block != 0) {
            layer.put("last_block", features % block);
        }
        layer.put("input_features", features);
        if (factor != null) {
            layer.put("method", "gptq");
            layer.put("damping", factor.damping());
            layer.put("dead_features", factor.deadFeatures());
            if (errors != null) {
                layer.put("output_error_rtn", errors[0]);
                layer.put("output_error_gptq", errors[1]);
            }
        } else {
            layer.put("method", "rtn");
            if (gptqRefusal != null) {
                layer.put("gptq_fallback", gptqRefusal + "; rounded to nearest instead");
            }
        }
        layout.write(editor, candidate, weightName, settings, shapes);
        long elements = candidate.elements();
        long groups = (long) blocks * outputs;
        layer.put("format", nbits ? LowBitSettings.MATMULNBITS : "qdq");
        layer.put("levels_type", nbits ? "uint8 (" + storedBits + "-bit packed)" : storedBits == 4 ? "uint4" : "uint8");
        if (left) {
            layer.put("matmulnbits_operand", "first (Transpose, MatMulNBits, Transpose)");
        }
        layer.put("scales", groups);
        layer.put("bytes_after", layout.bytes());
        layer.put("bytes_packed", LowBitQuantization.packedBytes(elements, settings.bits()) + 4L * groups
                + LowBitQuantization.packedBytes(groups, settings.bits()));
    }

    /**
     * Round to nearest without turning columns into rows: W [K, N] is read a block of input features (rows of W, each read in
     * bulk) by a tile of output columns at a time, which is exactly one group (a block of one column) per column of the tile.
     * Each group's range, its levels and their errors are computed column by column with arrays indexed by the loop variable
     * alone, the loops Java 17's C2 compiler vectorizes; levels are the low byte of {@code level + 1.5 x 2^23}'s bit pattern,
     * not a float-to-int conversion (which it does not vectorize). The levels are {@link #roundToNearest}'s but for
     * {@code w / scale} divided in float (it divides in double): a quotient within an ulp of a half may round the other way.
     * Written by hand because no library quantizes a Java array.
     */
    private static Outcome roundToNearestByRows(LayerSelection.Candidate candidate, WeightValues values, int features, int outputs,
            AffineGrid grid, Layout layout) {
        int block = grid.groupColumns();
        int tile = Math.min(outputs, COLUMN_TILE);
        float[][] rows = new float[block][tile];
        byte[][] levels = new byte[block][tile];
        float[] low = new float[tile];
        float[] high = new float[tile];
        float[] scales = new float[tile];
        int[] zeros = new int[tile];
        float[] zeroLevels = new float[tile];
        float[] shifted = new float[tile];
        float[] signal = new float[tile];
        float[] noise = new float[tile];
        float maxLevel = grid.maxLevel();
        for (int first = 0; first < features; first += block) {
            int count = Math.min(block, features - first);
            for (int column = 0; column < outputs; column += tile) {
                int width = Math.min(tile, outputs - column);
                // each group's range, widened to hold 0 as AffineGrid.fit does (Math.min and max keep a NaN)
                Arrays.fill(low, 0f);
                Arrays.fill(high, 0f);
                for (int r = 0; r < count; r++) {
                    float[] row = rows[r];
                    values.read((long) (first + r) * outputs + column, row, 0, width);
                    for (int j = 0; j < width; j++) {
                        low[j] = Math.min(low[j], row[j]);
                        high[j] = Math.max(high[j], row[j]);
                    }
                }
                for (int j = 0; j < width; j++) {
                    if (!Float.isFinite(low[j]) || !Float.isFinite(high[j])) {
                        throw nonFinite(candidate, rows, count, first, column + j, j);
                    }
                    grid.fit(low[j], high[j], scales, zeros, j);
                    zeroLevels[j] = zeros[j];
                }
                for (int r = 0; r < count; r++) {
                    float[] row = rows[r];
                    for (int j = 0; j < width; j++) {
                        float weight = row[j];
                        float scale = scales[j];
                        float zero = zeroLevels[j];
                        float level = AffineGrid.level(weight, scale, zero, maxLevel);
                        shifted[j] = level + ROUNDING;
                        float error = weight - (level - zero) * scale;
                        signal[j] += weight * weight;
                        noise[j] += error * error;
                    }
                    SymmetricQuantizer.lowBytes(shifted, levels[r], width);
                }
                layout.putTile(first, count, column, width, levels, scales, zeros);
            }
        }
        SymmetricQuantizer.Energies energies = SymmetricQuantizer.Energies.sum(signal, noise);
        return new Outcome(energies.signal(), energies.noise());
    }

    /** The error for the first NaN or infinite weight among the rows of a tile, in column {@code j} of the tile. */
    private static CondenseException nonFinite(LayerSelection.Candidate candidate, float[][] rows, int count, int first, int output,
            int j) {
        for (int r = 0; r < count; r++) {
            float value = rows[r][j];
            if (!Float.isFinite(value)) {
                return new CondenseException(ErrorCode.UNSUPPORTED_MODEL, "cannot quantize layer " + candidate.layerNames()
                        + ": its weight '" + candidate.weightName() + "' holds " + value + " at [" + (first + r) + ", " + output
                        + "]; exclude the layer or fix the model");
            }
        }
        throw new IllegalStateException("no non-finite value in column " + output);
    }

    /** Round to nearest, each block's scale and zero point from its own range (the same levels as {@link QuantizedMatrix}). */
    private static void roundToNearest(double[] data, int rows, int features, AffineGrid grid, byte[] levels, float[] scales,
            int[] zeros, float[] dequantized) {
        int perRow = grid.groupsPerRow(features);
        int block = grid.groupColumns();
        int maxLevel = grid.maxLevel();
        for (int row = 0; row < rows; row++) {
            int rowStart = row * features;
            for (int group = 0; group < perRow; group++) {
                int from = rowStart + group * block;
                int to = rowStart + Math.min(features, (group + 1) * block);
                int parameters = row * perRow + group;
                QuantizedMatrix.fitRange(data, from, to, grid, scales, zeros, parameters);
                double scale = scales[parameters];
                float floatScale = scales[parameters];
                int zero = zeros[parameters];
                for (int index = from; index < to; index++) {
                    double level = Math.rint(data[index] / scale) + zero;
                    int clamped = (int) Math.max(0, Math.min(maxLevel, level));
                    levels[index] = (byte) clamped;
                    dequantized[index] = (clamped - zero) * floatScale;
                }
            }
        }
    }

    /** {@link Gptq#outputError} of the first {@code rows} rows of a block. */
    private static double outputError(double[] weights, float[] dequantized, int rows, int features, DMatrixRMaj hessian) {
        int count = rows * features;
        double[] exact = weights.length == count ? weights : Arrays.copyOf(weights, count);
        float[] values = dequantized.length == count ? dequantized : Arrays.copyOf(dequantized, count);
        return Gptq.outputError(exact, values, rows, features, hessian);
    }

    /** {@code pairs} bytes from {@code to}: each the levels {@code 2i} (low nibble) and {@code 2i + 1} (high nibble) of {@code levels}. */
    private static void packPairs(byte[] levels, byte[] packed, int to, int pairs) {
        for (int i = 0; i < pairs; i++) {
            packed[to + i] = (byte) ((levels[2 * i] & 0x0F) | (levels[2 * i + 1] << 4));
        }
    }

    /** Sets {@code bits} bits of a packed array at a bit position (low bits of each byte first). */
    static void pack(byte[] packed, long bitPosition, int bits, int value) {
        int index = (int) (bitPosition >>> 3);
        int shift = (int) (bitPosition & 7);
        packed[index] |= (byte) ((value & ((1 << bits) - 1)) << shift);
    }

    private static TensorProto tensor(String name, DataType type, long[] shape, byte[] bytes) {
        TensorProto.Builder tensor = TensorProto.newBuilder().setName(name).setDataType(type.onnxCode());
        for (long dim : shape) {
            tensor.addDims(dim);
        }
        return tensor.setRawData(OffHeapBytes.spillIfLarge(bytes, SPILL_BYTES)).build();
    }

    private static byte[] floatBytes(float[] values) {
        byte[] bytes = new byte[values.length * 4];
        for (int i = 0; i < values.length; i++) {
            int bitsValue = Float.floatToRawIntBits(values[i]);
            bytes[4 * i] = (byte) bitsValue;
            bytes[4 * i + 1] = (byte) (bitsValue >>> 8);
            bytes[4 * i + 2] = (byte) (bitsValue >>> 16);
            bytes[4 * i + 3] = (byte) (bitsValue >>> 24);
        }
        return bytes;
    }

    /** Where one output column's levels, scales and zero points go in the written tensors. */
    interface Layout {
        void put(int output, byte[] levels, int levelsFrom, float[] scales, int[] zeros, int groupsFrom);

        /**
         * One block of input features ({@code count} rows from feature {@code first}, a whole block but perhaps the last) of
         * the output columns {@code column..column + width}: {@code levels[r][j]} is feature first + r of output column + j,
         * {@code scales[j]} and {@code zeros[j]} the group's parameters.
         */
        void putTile(int first, int count, int column, int width, byte[][] levels, float[] scales, int[] zeros);

        void write(ModelEditor editor, LayerSelection.Candidate candidate, String weightName, LowBitSettings settings,
                ShapeInference shapes);

        long bytes();
    }

    /** MatMulNBits: B [N, blocks, block * bits / 8], scales [N, blocks], zero points [N, ceil(blocks * bits / 8)]. */
    private static final class NBitsLayout implements Layout {
        private final int features;
        private final int outputs;
        private final int block;
        private final int blocks;
        private final int bits;
        private final int blobBytes;
        private final int zeroBytes;
        private final byte[] packed;
        private final float[] scales;
        private final byte[] zeros;
        private final boolean left;

        NBitsLayout(int features, int outputs, int block, int blocks, int bits, boolean left) {
            this.left = left;
            this.features = features;
            this.outputs = outputs;
            this.block = block;
            this.blocks = blocks;
            this.bits = bits;
            this.blobBytes = block * bits / 8;
            this.zeroBytes = (blocks * bits + 7) / 8;
            this.packed = new byte[Math.toIntExact((long) outputs * blocks * blobBytes)];
            this.scales = new float[Math.toIntExact((long) outputs * blocks)];
            this.zeros = new byte[Math.toIntExact((long) outputs * zeroBytes)];
        }

        @Override
        public void put(int output, byte[] levels, int levelsFrom, float[] groupScales, int[] groupZeros, int groupsFrom) {
            for (int group = 0; group < blocks; group++) {
                int zero = groupZeros[groupsFrom + group];
                scales[output * blocks + group] = groupScales[groupsFrom + group];
                pack(zeros, (long) output * zeroBytes * 8 + (long) group * bits, bits, zero);
                long blob = ((long) output * blocks + group) * blobBytes * 8;
                for (int j = 0; j < block; j++) {
                    int feature = group * block + j;
                    int level = feature < features ? levels[levelsFrom + feature] & 0xFF : zero;
                    pack(packed, blob + (long) j * bits, bits, level);
                }
            }
        }

        @Override
        public void putTile(int first, int count, int column, int width, byte[][] levels, float[] groupScales, int[] groupZeros) {
            int group = first / block;
            for (int j = 0; j < width; j++) {
                int output = column + j;
                int zero = groupZeros[j];
                scales[output * blocks + group] = groupScales[j];
                pack(zeros, (long) output * zeroBytes * 8 + (long) group * bits, bits, zero);
                int blob = (output * blocks + group) * blobBytes;
                if (bits == 4 && count == block) {
                    for (int r = 0; r < block; r += 2) {
                        packed[blob + (r >> 1)] = (byte) ((levels[r][j] & 0x0F) | (levels[r + 1][j] << 4));
                    }
                } else {
                    for (int r = 0; r < block; r++) {
                        pack(packed, (long) blob * 8 + (long) r * bits, bits, r < count ? levels[r][j] & 0xFF : zero);
                    }
                }
            }
        }

        @Override
        public void write(ModelEditor editor, LayerSelection.Candidate candidate, String weightName, LowBitSettings settings,
                ShapeInference shapes) {
            String packedName = editor.uniqueName(weightName + "_Q" + bits);
            String scalesName = editor.uniqueName(weightName + "_scales");
            String zerosName = editor.uniqueName(weightName + "_zero_points");
            editor.putInitializer(tensor(packedName, DataType.UINT8, new long[] {outputs, blocks, blobBytes}, packed));
            editor.putInitializer(tensor(scalesName, DataType.FLOAT, new long[] {outputs, blocks}, floatBytes(scales)));
            editor.putInitializer(tensor(zerosName, DataType.UINT8, new long[] {outputs, zeroBytes}, zeros));
            editor.requireOpset(MICROSOFT_DOMAIN, 1);
            for (WeightLayer weightLayer : candidate.layers()) {
                NodeProto node = editor.node(weightLayer.nodeIndex());
                String name = node.getName().isEmpty() ? editor.uniqueName(weightLayer.displayName() + "_MatMulNBits") : node.getName();
                String a = node.getInput(0);
                String y = node.getOutput(0);
                if (left) {
                    // W X = (X^T W^T)^T: X [..., K, N] with its last two axes swapped is MatMulNBits' A, and its output back
                    int rank = shapes.shape(node.getInput(1)).orElseThrow().length;
                    a = transpose(editor, node.getInput(1), editor.uniqueName(node.getInput(1) + "_transposed"), rank, name);
                    y = editor.uniqueName(y + "_transposed");
                    transpose(editor, y, node.getOutput(0), rank, name + "_output");
                }
                NodeProto.Builder replacement = NodeProto.newBuilder().setOpType("MatMulNBits").setDomain(MICROSOFT_DOMAIN).setName(name)
                        .addInput(a).addInput(packedName).addInput(scalesName).addInput(zerosName).addOutput(y);
                replacement.addAttribute(integer("K", features)).addAttribute(integer("N", outputs))
                        .addAttribute(integer("bits", bits)).addAttribute(integer("block_size", block));
                editor.replaceNode(weightLayer.nodeIndex(), replacement.build());
            }
        }

        @Override
        public long bytes() {
            return packed.length + 4L * scales.length + zeros.length;
        }
    }

    /** DequantizeLinear: levels [K, N], scales and zero points [blocks, N], axis 0. */
    private static final class QdqLayout implements Layout {
        private final int block;
        private final int features;
        private final int outputs;
        private final int blocks;
        private final int bits;
        private final byte[] levels;
        private final float[] scales;
        private final byte[] zeros;

        QdqLayout(int features, int outputs, int block, int blocks, int bits) {
            this.block = block;
            this.features = features;
            this.outputs = outputs;
            this.blocks = blocks;
            this.bits = bits;
            this.levels = new byte[Math.toIntExact(((long) features * outputs * bits + 7) / 8)];
            this.scales = new float[Math.toIntExact((long) blocks * outputs)];
            this.zeros = new byte[Math.toIntExact(((long) blocks * outputs * bits + 7) / 8)];
        }

        @Override
        public void put(int output, byte[] rowLevels, int levelsFrom, float[] groupScales, int[] groupZeros, int groupsFrom) {
            for (int feature = 0; feature < features; feature++) {
                pack(levels, ((long) feature * outputs + output) * bits, bits, rowLevels[levelsFrom + feature] & 0xFF);
            }
            for (int group = 0; group < blocks; group++) {
                scales[group * outputs + output] = groupScales[groupsFrom + group];
                pack(zeros, ((long) group * outputs + output) * bits, bits, groupZeros[groupsFrom + group]);
            }
        }

        @Override
        public void putTile(int first, int count, int column, int width, byte[][] rowLevels, float[] groupScales, int[] groupZeros) {
            int group = first / block;
            for (int r = 0; r < count; r++) {
                byte[] row = rowLevels[r];
                long at = (long) (first + r) * outputs + column;
                if (bits == 8) {
                    System.arraycopy(row, 0, levels, Math.toIntExact(at), width);
                } else if ((at & 1) == 0 && (width & 1) == 0) {
                    // two levels a byte, the even element in the low nibble
                    packPairs(row, levels, Math.toIntExact(at >> 1), width >> 1);
                } else {
                    for (int j = 0; j < width; j++) {
                        pack(levels, (at + j) * bits, bits, row[j] & 0xFF);
                    }
                }
            }
            for (int j = 0; j < width; j++) {
                scales[group * outputs + column + j] = groupScales[j];
                pack(zeros, ((long) group * outputs + column + j) * bits, bits, groupZeros[j]);
            }
        }

        @Override
        public void write(ModelEditor editor, LayerSelection.Candidate candidate, String weightName, LowBitSettings settings,
                ShapeInference shapes) {
            DataType type = bits == 4 ? DataType.UINT4 : DataType.UINT8;
            String levelsName = editor.uniqueName(weightName + "_quantized");
            String scaleName = editor.uniqueName(weightName + "_scale");
            String zeroPointName = editor.uniqueName(weightName + "_zero_point");
            String output = editor.uniqueName(weightName + "_dequantized");
            editor.putInitializer(tensor(levelsName, type, new long[] {features, outputs}, levels));
            editor.putInitializer(tensor(scaleName, DataType.FLOAT, new long[] {blocks, outputs}, floatBytes(scales)));
            editor.putInitializer(tensor(zeroPointName, type, new long[] {blocks, outputs}, zeros));
            NodeProto dequantize = QdqWeights.dequantizeLinear(editor.uniqueName(weightName + "_DequantizeLinear"), levelsName, scaleName,
                    zeroPointName, output, OptionalInt.of(0)).toBuilder().addAttribute(integer("block_size", settings.block())).build();
            editor.addNode(dequantize);
            QdqWeights.rewire(editor, candidate.layers(), weightName, output);
        }

        @Override
        public long bytes() {
            return levels.length + 4L * scales.length + zeros.length;
        }
    }

    /** Adds {@code Transpose(input) -> output} swapping the last two of {@code rank} axes; returns {@code output}. */
    private static String transpose(ModelEditor editor, String input, String output, int rank, String name) {
        AttributeProto.Builder perm = AttributeProto.newBuilder().setName("perm").setType(AttributeProto.AttributeType.INTS);
        for (int axis = 0; axis < rank; axis++) {
            perm.addInts(axis < rank - 2 ? axis : 2 * rank - 3 - axis);
        }
        editor.addNode(NodeProto.newBuilder().setOpType("Transpose").setName(editor.uniqueName(name + "_Transpose")).addInput(input)
                .addOutput(output).addAttribute(perm).build());
        return output;
    }

    private static AttributeProto integer(String name, long value) {
        return AttributeProto.newBuilder().setName(name).setType(AttributeProto.AttributeType.INT).setI(value).build();
    }

}
