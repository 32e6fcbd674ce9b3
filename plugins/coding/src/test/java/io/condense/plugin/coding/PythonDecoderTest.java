package io.condense.plugin.coding;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assumptions.assumeThat;

import io.condense.sdk.coding.PackedModelDecoder;
import io.condense.sdk.model.OnnxModel;
import io.condense.sdk.testkit.SharedData;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * The standalone Python decoder ({@code clients/python/cpk_decode.py}, numpy only) decodes the
 * files this encoder writes to exactly the bytes of the Java decoder, and refuses their truncations and flipped bits
 * ({@code test_cpk_decode.py}); files written with {@code entropy=zstd} decode the same when the interpreter has the
 * {@code zstandard} module, and are refused with a message naming it when not. Skipped when no {@code python3} has numpy.
 */
class PythonDecoderTest {
    static final Path SCRIPTS = Path.of("../../clients/python");
    /** Name, model, chain, encode's entropy. */
    static final String[][] CORPUS = {
            {"mnist8-float", "mnist8/model.onnx", "", "huffman"},
            {"cnn-pruned-sparse", "pytorch_cnn_mnist.onnx", "prune(sparsity=0.9)", "huffman"},
            {"cnn-pruned-coordinates", "mnist8/model.onnx", "prune(sparsity=0.8, scope=global)", "huffman"},
            {"cnn-kmeans", "pytorch_cnn_mnist.onnx", "prune(sparsity=0.9, storage=dense) | quantize(scheme=kmeans, bits=6)", "huffman"},
            {"cnn-int8", "pytorch_cnn_mnist.onnx", "prune(sparsity=0.8, storage=dense) | quantize(bits=8)", "huffman"},
            {"cnn-int4", "pytorch_cnn_mnist.onnx", "quantize(bits=4, granularity=block)", "huffman"},
            {"cnn-ternary", "pytorch_cnn_mnist.onnx", "ternarize", "huffman"},
            {"cnn-kmeans-zstd", "pytorch_cnn_mnist.onnx", "prune(sparsity=0.9, storage=dense) | quantize(scheme=kmeans, bits=6)", "zstd"},
            {"mnist8-pruned-zstd", "mnist8/model.onnx", "prune(sparsity=0.8, scope=global)", "zstd"},
            {"cnn-kmeans-arithmetic", "pytorch_cnn_mnist.onnx", "prune(sparsity=0.9, storage=dense) | quantize(scheme=kmeans, bits=6)", "arithmetic"},
            {"cnn-pruned-sparse-arithmetic", "pytorch_cnn_mnist.onnx", "prune(sparsity=0.9)", "arithmetic"},
            {"mnist8-pruned-coordinates-arithmetic", "mnist8/model.onnx", "prune(sparsity=0.8, scope=global)", "arithmetic"},
            {"cnn-int8-arithmetic", "pytorch_cnn_mnist.onnx", "prune(sparsity=0.8, storage=dense) | quantize(bits=8)", "arithmetic"},
            {"cnn-ternary-arithmetic", "pytorch_cnn_mnist.onnx", "ternarize", "arithmetic"},
    };
    /** The interpreters tried, in order: the first with numpy and zstandard, else the first with numpy. */
    private static final List<String> PYTHONS = List.of("python3", "/usr/bin/python3");

    /** Writes NAME.cpk and the Java decoder's NAME.onnx for each corpus case into {@code folder}. */
    static void writeCorpus(Path folder) throws IOException {
        Files.createDirectories(folder);
        for (String[] item : CORPUS) {
            OnnxModel model = Pipelines.run(OnnxModel.load(SharedData.model(item[1])), item[2]);
            byte[] packed = Pipelines.apply(new EncodeTechnique(), model, Map.of("entropy", item[3])).packed().orElseThrow().toByteArray();
            Files.write(folder.resolve(item[0] + ".cpk"), packed);
            Files.write(folder.resolve(item[0] + ".onnx"), new PackedModelDecoder().decode(packed));
        }
    }

    @Test
    void pythonDecoderAgreesWithTheJavaDecoderAndRefusesDamage() throws Exception {
        assumeThat(SharedData.isAvailable()).as("shared models folder").isTrue();
        Optional<String> python = PYTHONS.stream().filter(p -> run(p, "-c", "import numpy, zstandard").exitCode == 0).findFirst()
                .or(() -> PYTHONS.stream().filter(p -> run(p, "-c", "import numpy").exitCode == 0).findFirst());
        assumeThat(python).as("python3 with numpy").isPresent();
        Path corpus = Path.of("target/cpk-corpus");
        writeCorpus(corpus);
        Result result = run(python.get(), SCRIPTS.resolve("test_cpk_decode.py").toString(), corpus.toString());
        System.out.println(python.get() + ": " + result.output);
        assertThat(result.exitCode).as(result.output).isZero();
        // without zstandard, the zstd files must be refused with the message that says what to install
        assertThat(result.output).contains("ok cnn-kmeans:").contains("ok cnn-pruned-sparse:").contains("ok cnn-kmeans-zstd");
    }

    private record Result(int exitCode, String output) {
    }

    private static Result run(String... command) {
        Process process;
        try {
            process = new ProcessBuilder(command).redirectErrorStream(true).start();
            byte[] output = process.getInputStream().readAllBytes();
            if (!process.waitFor(10, TimeUnit.MINUTES)) {
                process.destroyForcibly();
                return new Result(124, "timed out");
            }
            return new Result(process.exitValue(), new String(output, StandardCharsets.UTF_8));
        } catch (IOException e) {
            return new Result(127, e.toString());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return new Result(130, "interrupted");
        }
    }
}
