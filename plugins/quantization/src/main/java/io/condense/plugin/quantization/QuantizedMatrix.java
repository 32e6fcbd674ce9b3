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
