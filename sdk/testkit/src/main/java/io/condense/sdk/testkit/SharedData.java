package io.condense.sdk.testkit;

import static java.util.Objects.requireNonNull;

import io.condense.sdk.data.Dataset;
import io.condense.sdk.data.Idx;
import io.condense.sdk.data.NdArray;
import io.condense.sdk.tensor.DataType;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import org.junit.jupiter.api.Assumptions;

/**
 * The shared, read-only test material beside the checkout: real ONNX models ({@code models/...}) and real
 * MNIST digits ({@code data/mnist-digits/...}). It is never copied into the repository.
 *
 * <p>The folder is the system property {@code condense.shared.dir} (the root pom sets it for surefire and
 * failsafe); without it, {@code ../shared} beside the project root (the highest folder above the working
 * folder that holds a {@code pom.xml}). When a file is absent the calling test is skipped (a JUnit
 * assumption) with a message that says what was looked for and where.
 */
public final class SharedData {
    /** The system property naming the shared folder. */
    public static final String DIRECTORY_PROPERTY = "condense.shared.dir";

    private static final String DIGIT_IMAGES = "data/mnist-digits/images-idx3-ubyte";
    private static final String DIGIT_LABELS = "data/mnist-digits/labels-idx1-ubyte";
    private static final int DIGIT_SIDE = 28;

    private static volatile NdArray digitImages;
    private static volatile NdArray digitLabels;

    private SharedData() {
    }

    /** The shared folder (it may not exist: see {@link #isAvailable()}). */
    public static Path directory() {
        String configured = System.getProperty(DIRECTORY_PROPERTY);
        if (configured != null && !configured.isBlank()) {
            return Paths.get(configured).toAbsolutePath().normalize();
        }
        return projectRoot().resolve("../shared").normalize();
    }

    /** Whether the shared folder exists. */
    public static boolean isAvailable() {
        return Files.isDirectory(directory());
    }

    /** A model under {@code models/}, for example {@code model("mnist8/model.onnx")}; skips the test when absent. */
    public static Path model(String relativePath) {
        return file("models/" + requireNonNull(relativePath, "relativePath is null"));
    }

    /** Any file under the shared folder, for example {@code file("data/README.md")}; skips the test when absent. */
    public static Path file(String relativePath) {
        requireNonNull(relativePath, "relativePath is null");
        Path path = directory().resolve(relativePath).normalize();
        Assumptions.assumeTrue(Files.isRegularFile(path), () -> "Skipped: the shared test file " + relativePath
                + " is not at " + path + ". Tests on real models and data need the shared folder beside the checkout "
                + "(CI has it); point -D" + DIRECTORY_PROPERTY + " at it if it lives elsewhere.");
        return path;
    }

    /**
     * The first {@code count} shared MNIST digits (real handwriting, shuffled, from the MNIST training split) as
     * float32 {@code [count, 1, 28, 28]} pixels times {@code scale}, with int64 labels {@code [count]}. Use
     * {@code 1f / 255} for mnist8 and {@code 1f} for pytorch_cnn_mnist (raw 0..255 pixels).
     */
    public static Dataset mnistDigits(int count, float scale) {
        NdArray images = digitImages();
        int total = Math.toIntExact(images.shape()[0]);
        checkCount(count, total);
        int pixels = DIGIT_SIDE * DIGIT_SIDE;
        byte[] source = (byte[]) images.data();
        float[] values = new float[count * pixels];
        for (int i = 0; i < values.length; i++) {
            values[i] = (source[i] & 0xFF) * scale;
        }
        return Dataset.of(NdArray.ofFloats(new long[] {count, 1, DIGIT_SIDE, DIGIT_SIDE}, values), labels(count));
    }

    /** The first {@code count} shared MNIST digits as raw uint8 {@code [count, 28, 28]}, with int64 labels. */
    public static Dataset mnistDigitsAsBytes(int count) {
        NdArray images = digitImages();
        checkCount(count, Math.toIntExact(images.shape()[0]));
        byte[] values = java.util.Arrays.copyOf((byte[]) images.data(), count * DIGIT_SIDE * DIGIT_SIDE);
        return Dataset.of(NdArray.ofUint8(new long[] {count, DIGIT_SIDE, DIGIT_SIDE}, values), labels(count));
    }

    private static NdArray labels(int count) {
        byte[] source = (byte[]) digitLabels().data();
        long[] labels = new long[count];
        for (int i = 0; i < count; i++) {
            labels[i] = source[i] & 0xFF;
        }
        return NdArray.ofLongs(new long[] {count}, labels);
    }

    private static void checkCount(int count, int total) {
        if (count <= 0 || count > total) {
            throw new IllegalArgumentException("count must be in [1, " + total + "] (the shared digits hold " + total
                    + "), got " + count);
        }
    }

    private static NdArray digitImages() {
        NdArray current = digitImages;
        if (current == null) {
            current = Idx.read(file(DIGIT_IMAGES));
            long[] shape = current.shape();
            if (current.dataType() != DataType.UINT8 || shape.length != 3 || shape[1] != DIGIT_SIDE || shape[2] != DIGIT_SIDE) {
                throw new IllegalStateException(DIGIT_IMAGES + " should hold uint8 [N, 28, 28] images but holds "
                        + current);
            }
            digitImages = current;
        }
        return current;
    }

    private static NdArray digitLabels() {
        NdArray current = digitLabels;
        if (current == null) {
            current = Idx.read(file(DIGIT_LABELS));
            if (current.dataType() != DataType.UINT8 || current.shape().length != 1
                    || current.shape()[0] != digitImages().shape()[0]) {
                throw new IllegalStateException(DIGIT_LABELS + " should hold one uint8 label per image but holds "
                        + current);
            }
            digitLabels = current;
        }
        return current;
    }

    /** The highest folder at or above the working folder that holds a pom.xml (the reactor root). */
    static Path projectRoot() {
        Path start = Paths.get(System.getProperty("user.dir")).toAbsolutePath().normalize();
        Path root = start;
        for (Path folder = start; folder != null; folder = folder.getParent()) {
            if (Files.isRegularFile(folder.resolve("pom.xml"))) {
                root = folder;
            }
            if (Files.isDirectory(folder.resolve(".git"))) {
                break;
            }
        }
        return root;
    }
}
