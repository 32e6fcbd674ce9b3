package io.condense.sdk.testkit;

import io.condense.sdk.data.Dataset;
import io.condense.sdk.data.Idx;
import io.condense.sdk.data.NdArray;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Assumptions;

/** Fashion-MNIST from Debian's dataset-fashion-mnist (gzipped IDX), as float pixels in [0, 1] of shape [N, 28, 28]. */
public final class FashionMnist {
    private FashionMnist() {
    }

    public static Path directory() {
        Path directory = Path.of(System.getProperty("condense.fashion.dir", "/usr/share/datasets/fashion-mnist"));
        Assumptions.assumeTrue(Files.isRegularFile(directory.resolve("train-images-idx3-ubyte.gz")),
                () -> "Skipped: Fashion-MNIST is not in " + directory + " (apt-get install dataset-fashion-mnist)");
        return directory;
    }

    /** The first {@code count} samples of a split ({@code train} or {@code t10k}), pixels scaled by 1/255. */
    public static Dataset split(String split, int count) {
        Path directory = directory();
        Dataset raw = Dataset.of(Idx.read(directory.resolve(split + "-images-idx3-ubyte.gz")),
                Idx.read(directory.resolve(split + "-labels-idx1-ubyte.gz"))).head(count);
        float[] pixels = raw.inputs().toFloatArray();
        for (int i = 0; i < pixels.length; i++) {
            pixels[i] /= 255f;
        }
        return Dataset.of(NdArray.ofFloats(raw.inputs().shape(), pixels), raw.labels().orElseThrow());
    }
}
