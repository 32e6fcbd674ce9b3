package io.condense.plugin.quantization;

/**
 * A [rows, columns] weight matrix on an {@link AffineGrid}: levels row-major (one per byte, unsigned), the groups'
 * scales and zero points, and the dequantized values.
 */
record QuantizedMatrix(AffineGrid grid, int rows, int columns, byte[] levels, float[] scales, int[] zeros, float[] dequantized) {

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
        for (int row = 0; row < rows; row++) {
            for (int column = 0; column < columns; column++) {
                int index = row * columns + column;
                int group = grid.group(row, column, columns);
                int level = grid.level(weights[index], scales[group], zeros[group]);
                levels[index] = (byte) level;
                dequantized[index] = AffineGrid.dequantize(level, scales[group], zeros[group]);
            }
        }
        return new QuantizedMatrix(grid, rows, columns, levels, scales, zeros, dequantized);
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
