package io.condense.plugin.quantization;

import java.util.stream.IntStream;

/**
 * A [rows, columns] weight matrix on an {@link AffineGrid}: levels row-major (one per byte, unsigned), the groups'
 * scales and zero points, and the dequantized values.
 */
record QuantizedMatrix(AffineGrid grid, int rows, int columns, byte[] levels, float[] scales, int[] zeros, float[] dequantized) {
    private static final float ROUNDING = SymmetricQuantizer.ROUNDING;
    /** A matrix of at least this many weights is rounded a tile of rows per processor (as quantize's int8 layers). */
    private static final long PARALLEL_ELEMENTS = QuantizeTechnique.PARALLEL_ELEMENTS;

    /** Round to nearest: each group's scale and zero point from its own minimum and maximum. */
    static QuantizedMatrix roundToNearest(double[] weights, int rows, int columns, AffineGrid grid) {
        int groups = grid.groups(rows, columns);
        float[] scales = new float[groups];
        int[] zeros = new int[groups];
        if (grid.perTensor()) {
            fitRange(weights, 0, weights.length, grid, scales, zeros, 0);
        } else {
            int perRow = grid.groupsPerRow(columns);
            for (int row = 0; row < rows; row++) {
                for (int group = 0; group < perRow; group++) {
                    int from = row * columns + group * grid.groupColumns();
                    int to = row * columns + Math.min(columns, (group + 1) * grid.groupColumns());
                    fitRange(weights, from, to, grid, scales, zeros, row * perRow + group);
                }
            }
        }
        byte[] levels = new byte[rows * columns];
        float[] dequantized = new float[rows * columns];
        // group by group along each row: the group's scale and zero point are loop constants, no index arithmetic per weight;
        // the same double division and rounding as AffineGrid.level, so the same levels
        int groupColumns = grid.perTensor() ? columns : grid.groupColumns();
        int perRow = grid.groupsPerRow(columns);
        int maxLevel = grid.maxLevel();
        for (int row = 0; row < rows; row++) {
            int rowStart = row * columns;
            for (int group = 0; group < perRow; group++) {
                int parameters = grid.perTensor() ? 0 : row * perRow + group;
                double scale = scales[parameters];
                float floatScale = scales[parameters];
                int zero = zeros[parameters];
                int end = rowStart + Math.min(columns, (group + 1) * groupColumns);
                for (int index = rowStart + group * groupColumns; index < end; index++) {
                    double level = Math.rint(weights[index] / scale) + zero;
                    int clamped = (int) Math.max(0, Math.min(maxLevel, level));
                    levels[index] = (byte) clamped;
                    dequantized[index] = (clamped - zero) * floatScale;
                }
            }
        }
        return new QuantizedMatrix(grid, rows, columns, levels, scales, zeros, dequantized);
    }

    /**
     * Round to nearest of a float matrix, as {@link #roundToNearest(double[], int, int, AffineGrid)} but dividing in float:
     * a quotient within an ulp of a half may round the other way. A row at a time through arrays indexed by the loop variable
     * alone (each group's scale and zero point spread over its columns), the loops Java 17's C2 compiler vectorizes; the
     * level is the low byte of {@code level + 1.5 x 2^23}'s bit pattern, not a float-to-int conversion (not vectorized).
     */
    static QuantizedMatrix roundToNearest(float[] weights, int rows, int columns, AffineGrid grid) {
        int groups = grid.groups(rows, columns);
        float[] scales = new float[groups];
        int[] zeros = new int[groups];
        if (grid.perTensor()) {
            fitRange(weights, 0, weights.length, grid, scales, zeros, 0);
        }
        byte[] levels = new byte[rows * columns];
        float[] dequantized = new float[rows * columns];
        // rows in tiles, the tiles of a large matrix in parallel (each its own work arrays; rows independent)
        int tileRows = Math.max(1, Math.min(rows, (1 << 18) / Math.max(1, columns)));
        int tiles = (rows + tileRows - 1) / tileRows;
        IntStream range = IntStream.range(0, tiles);
        if ((long) rows * columns >= PARALLEL_ELEMENTS && Runtime.getRuntime().availableProcessors() > 1) {
            range = range.parallel();
        }
        range.forEach(tile -> roundRows(weights, tile * tileRows, Math.min(rows, (tile + 1) * tileRows), columns, grid, scales, zeros,
                levels, dequantized));
        return new QuantizedMatrix(grid, rows, columns, levels, scales, zeros, dequantized);
    }

    /** {@link #roundToNearest(float[], int, int, AffineGrid)} of rows {@code first..end}: their groups' ranges (per group), levels. */
    private static void roundRows(float[] weights, int first, int end, int columns, AffineGrid grid, float[] scales, int[] zeros,
            byte[] levels, float[] dequantized) {
        int perRow = grid.groupsPerRow(columns);
        int groupColumns = grid.perTensor() ? columns : grid.groupColumns();
        float[] values = new float[columns];
        float[] rowScales = new float[columns];
        float[] rowZeros = new float[columns];
        float[] shifted = new float[columns];
        float[] rowDequantized = new float[columns];
        byte[] rowLevels = new byte[columns];
        float maxLevel = grid.maxLevel();
        for (int row = first; row < end; row++) {
            if (row == first || !grid.perTensor()) {
                for (int group = 0; group < perRow; group++) {
                    int parameters = grid.perTensor() ? 0 : row * perRow + group;
                    int from = group * groupColumns;
                    int to = Math.min(columns, from + groupColumns);
                    if (!grid.perTensor()) {
                        fitRange(weights, row * columns + from, row * columns + to, grid, scales, zeros, parameters);
                    }
                    float scale = scales[parameters];
                    float zero = zeros[parameters];
                    // a plain loop: Arrays.fill's call and range checks cost more than filling a block of 32
                    for (int j = from; j < to; j++) {
                        rowScales[j] = scale;
                        rowZeros[j] = zero;
                    }
                }
            }
            System.arraycopy(weights, row * columns, values, 0, columns);
            for (int j = 0; j < columns; j++) {
                float scale = rowScales[j];
                float zero = rowZeros[j];
                float level = AffineGrid.level(values[j], scale, zero, maxLevel);
                shifted[j] = level + ROUNDING;
                rowDequantized[j] = (level - zero) * scale;
            }
            SymmetricQuantizer.lowBytes(shifted, rowLevels, columns);
            System.arraycopy(rowLevels, 0, levels, row * columns, columns);
            System.arraycopy(rowDequantized, 0, dequantized, row * columns, columns);
        }
    }

    static void fitRange(float[] weights, int from, int to, AffineGrid grid, float[] scales, int[] zeros, int index) {
        float min = Float.POSITIVE_INFINITY;
        float max = Float.NEGATIVE_INFINITY;
        for (int i = from; i < to; i++) {
            min = Math.min(min, weights[i]);
            max = Math.max(max, weights[i]);
        }
        grid.fit(min, max, scales, zeros, index);
    }

    static void fitRange(double[] weights, int from, int to, AffineGrid grid, float[] scales, int[] zeros, int index) {
        double min = Double.POSITIVE_INFINITY;
        double max = Double.NEGATIVE_INFINITY;
        for (int i = from; i < to; i++) {
            min = Math.min(min, weights[i]);
            max = Math.max(max, weights[i]);
        }
        grid.fit(min, max, scales, zeros, index);
    }

    int groupsPerRow() {
        return grid.groupsPerRow(columns);
    }

    /** The zero points as one unsigned byte each, in the same order as the scales. */
    byte[] zeroPointBytes() {
        byte[] bytes = new byte[zeros.length];
        for (int i = 0; i < zeros.length; i++) {
            bytes[i] = (byte) zeros[i];
        }
        return bytes;
    }
}
