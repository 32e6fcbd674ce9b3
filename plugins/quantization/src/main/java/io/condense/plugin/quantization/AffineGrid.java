package io.condense.plugin.quantization;

/**
 * Uniform (affine) levels 0..2^bits-1 over groups of a [rows, columns] weight matrix: a group is {@code groupColumns}
 * consecutive input features of one row (the last group of a row may be shorter), or the whole matrix when
 * {@code perTensor}. Each group has a float scale and an integer zero point; {@code w ~ (level - zero) * scale}, what
 * ONNX DequantizeLinear computes in float32.
 */
record AffineGrid(int bits, int groupColumns, boolean perTensor) {
    AffineGrid {
        if (bits < 2 || bits > 8) {
            throw new IllegalArgumentException("bits must be in [2, 8], got " + bits);
        }
        if (groupColumns < 1) {
            throw new IllegalArgumentException("groupColumns must be positive, got " + groupColumns);
        }
    }

    int maxLevel() {
        return (1 << bits) - 1;
    }

    int groupsPerRow(int columns) {
        return perTensor ? 1 : (columns + groupColumns - 1) / groupColumns;
    }

    int groups(int rows, int columns) {
        return perTensor ? 1 : rows * groupsPerRow(columns);
    }

    /** Index of the parameters of the group holding (row, column). */
    int group(int row, int column, int columns) {
        return perTensor ? 0 : row * groupsPerRow(columns) + column / groupColumns;
    }

    /**
     * Sets group {@code index}'s scale and zero point so that [min, max], widened to hold 0 (which then stays exact),
     * spans the levels; a group of zeros gets scale 1 and zero point 0.
     */
    void fit(double min, double max, float[] scales, int[] zeros, int index) {
        double low = Math.min(min, 0);
        double high = Math.max(max, 0);
        float scale = (float) ((high - low) / maxLevel());
        if (!(scale > 0f) || !Float.isFinite(scale)) {
            scales[index] = 1f;
            zeros[index] = 0;
            return;
        }
        scales[index] = scale;
        zeros[index] = (int) Math.max(0, Math.min(maxLevel(), Math.rint(-low / scale)));
    }

    /** The level of {@code weight} in a group of that scale and zero point (round half to even, clamped). */
    int level(double weight, float scale, int zero) {
        double level = Math.rint(weight / scale) + zero;
        return (int) Math.max(0, Math.min(maxLevel(), level));
    }

    /**
     * {@link #level(double, float, int)} in float arithmetic, as a float: the quotient divided in float (within an ulp of a
     * half it may round the other way) and rounded half to even by adding and subtracting 1.5 x 2^23
     * ({@link SymmetricQuantizer#ROUNDING}), so that the loops calling it stay ones Java 17's C2 vectorizes.
     */
    static float level(float weight, float scale, float zero, float maxLevel) {
        return Math.min(Math.max((weight / scale + SymmetricQuantizer.ROUNDING) - SymmetricQuantizer.ROUNDING + zero, 0f), maxLevel);
    }

    /** What DequantizeLinear gives back for a level. */
    static float dequantize(int level, float scale, int zero) {
        return (level - zero) * scale;
    }
}
