package io.condense.server.training;

import io.condense.sdk.data.Dataset;
import io.condense.sdk.data.Idx;
import io.condense.sdk.data.NdArray;
import io.condense.sdk.error.CondenseException;
import io.condense.sdk.error.ErrorCode;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Assumptions;

/** Fashion-MNIST from Debian's dataset-fashion-mnist (IDX, gzip), read with the SDK's IDX reader. */
public final class Fixtures {
    public static final String FASHION_PROPERTY = "condense.fashion.dir";
    public static final String DEFAULT_FASHION_DIR = "/usr/share/datasets/fashion-mnist";

    private Fixtures() {
    }

    public static Path fashionDirectory() {
        return Path.of(System.getProperty(FASHION_PROPERTY, DEFAULT_FASHION_DIR));
    }

    /** For tests: skips with a message when the data set is not installed. */
    static Path requireFashion() {
        Path directory = fashionDirectory();
        Assumptions.assumeTrue(Files.isRegularFile(directory.resolve("train-images-idx3-ubyte.gz")),
                () -> "Skipped: Fashion-MNIST is not in " + directory + " (apt-get install dataset-fashion-mnist)");
        return directory;
    }

    /** The training split ({@code train}) or the test split ({@code t10k}): uint8 [N,28,28] images, labels. */
    public static Dataset fashion(Path directory, String split) {
        Path images = directory.resolve(split + "-images-idx3-ubyte.gz");
        Path labels = directory.resolve(split + "-labels-idx1-ubyte.gz");
        if (!Files.isRegularFile(images) || !Files.isRegularFile(labels)) {
            throw new CondenseException(ErrorCode.INVALID_DATA, "Fashion-MNIST is not in " + directory
                    + ": install Debian's dataset-fashion-mnist or pass the folder holding " + images.getFileName());
        }
        NdArray imageArray = Idx.read(images);
        NdArray labelArray = Idx.read(labels);
        return Dataset.of(imageArray, labelArray);
    }
}
