package io.condense.plugin.quantization;

import io.condense.sdk.data.Dataset;
import io.condense.sdk.data.NdArray;
import java.util.Random;

/**
 * Random but plausible 3x224x224 images, ImageNet-normalised ((x - mean) / std per channel, x in [0, 1]): a random background
 * colour with a random linear gradient, 2 to 5 filled ellipses of random colour, and Gaussian pixel noise (sigma 0.03), clamped
 * to [0, 1] before normalisation. Not photos: enough to give every layer activations of a realistic range for calibration.
 */
final class SyntheticImages {
    static final int SIZE = 224;
    private static final float[] MEAN = {0.485f, 0.456f, 0.406f};
    private static final float[] STD = {0.229f, 0.224f, 0.225f};

    private SyntheticImages() {
    }

    /** {@code count} images in the heap, seed {@code seed}. */
    static Dataset dataset(int count, long seed) {
        Random random = new Random(seed);
        int size = 3 * SIZE * SIZE;
        float[] values = new float[count * size];
        float[] one = new float[size];
        for (int i = 0; i < count; i++) {
            fill(i, random, one);
            System.arraycopy(one, 0, values, i * size, size);
        }
        return Dataset.of(NdArray.ofFloats(new long[] {count, 3, SIZE, SIZE}, values));
    }

    /** One image into {@code out} (3 x 224 x 224, CHW). */
    static void fill(int index, Random random, float[] out) {
        int plane = SIZE * SIZE;
        float[][] image = new float[3][plane];
        float gx = (random.nextFloat() - 0.5f) * 0.6f;
        float gy = (random.nextFloat() - 0.5f) * 0.6f;
        for (int c = 0; c < 3; c++) {
            float base = 0.2f + 0.6f * random.nextFloat();
            for (int y = 0; y < SIZE; y++) {
                for (int x = 0; x < SIZE; x++) {
                    image[c][y * SIZE + x] = base + gx * (x / (float) SIZE - 0.5f) + gy * (y / (float) SIZE - 0.5f);
                }
            }
        }
        int ellipses = 2 + random.nextInt(4);
        for (int e = 0; e < ellipses; e++) {
            float cx = random.nextFloat() * SIZE;
            float cy = random.nextFloat() * SIZE;
            float rx = 10 + random.nextFloat() * 70;
            float ry = 10 + random.nextFloat() * 70;
            float[] colour = {random.nextFloat(), random.nextFloat(), random.nextFloat()};
            for (int y = Math.max(0, (int) (cy - ry)); y < Math.min(SIZE, (int) (cy + ry) + 1); y++) {
                for (int x = Math.max(0, (int) (cx - rx)); x < Math.min(SIZE, (int) (cx + rx) + 1); x++) {
                    float dx = (x - cx) / rx;
                    float dy = (y - cy) / ry;
                    if (dx * dx + dy * dy <= 1) {
                        for (int c = 0; c < 3; c++) {
                            image[c][y * SIZE + x] = colour[c];
                        }
                    }
                }
            }
        }
        for (int c = 0; c < 3; c++) {
            for (int j = 0; j < plane; j++) {
                float v = Math.max(0f, Math.min(1f, image[c][j] + 0.03f * (float) random.nextGaussian()));
                out[c * plane + j] = (v - MEAN[c]) / STD[c];
            }
        }
    }
}
