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
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * The standalone Python decoder ({@code clients/python/cpk_decode.py}, numpy only) decodes the
 * files this encoder writes to exactly the bytes of the Java decoder, and refuses their truncations and flipped bits
 * ({@code test_cpk_decode.py}). Skipped when {@code python3} with numpy is not installed.
 */
class PythonDecoderTest {
    static final Path SCRIPTS = Path.of("../../clients/python");
    static final String[][] CORPUS = {
            {"mnist8-float", "mnist8/model.onnx", ""},
            {"cnn-pruned-sparse", "pytorch_cnn_mnist.onnx", "prune(sparsity=0.9)"},
            {"cnn-pruned-coordinates", "mnist8/model.onnx", "prune(sparsity=0.8, scope=global)"},
            {"cnn-kmeans", "pytorch_cnn_mnist.onnx", "prune(sparsity=0.9, storage=dense) | quantize(scheme=kmeans, bits=6)"},
            {"cnn-int8", "pytorch_cnn_mnist.onnx", "prune(sparsity=0.8, storage=dense) | quantize(bits=8)"},
            {"cnn-int4", "pytorch_cnn_mnist.onnx", "quantize(bits=4, granularity=block)"},
            {"cnn-ternary", "pytorch_cnn_mnist.onnx", "ternarize"},
    };

    /** Writes NAME.cpk and the Java decoder's NAME.onnx for each corpus case into {@code folder}. */
    static void writeCorpus(Path folder) throws IOException {
        Files.createDirectories(folder);
        for (String[] item : CORPUS) {
            OnnxModel model = Pipelines.run(OnnxModel.load(SharedData.model(item[1])), item[2]);
            byte[] packed = Pipelines.apply(new EncodeTechnique(), model, Map.of()).packed().orElseThrow().toByteArray();
            Files.write(folder.resolve(item[0] + ".cpk"), packed);
            Files.write(folder.resolve(item[0] + ".onnx"), new PackedModelDecoder().decode(packed));
        }
    }

    @Test
    void pythonDecoderAgreesWithTheJavaDecoderAndRefusesDamage() throws Exception {
        assumeThat(SharedData.isAvailable()).as("shared models folder").isTrue();
        assumeThat(run("python3", "-c", "import numpy").exitCode).as("python3 with numpy").isZero();
        Path corpus = Path.of("target/cpk-corpus");
        writeCorpus(corpus);
        Result result = run("python3", SCRIPTS.resolve("test_cpk_decode.py").toString(), corpus.toString());
        System.out.println(result.output);
        assertThat(result.exitCode).as(result.output).isZero();
        assertThat(result.output).contains("ok cnn-kmeans").contains("ok cnn-pruned-sparse");
    }

    private record Result(int exitCode, String output) {
    }

    private static Result run(String... command) throws IOException, InterruptedException {
        Process process;
        try {
            process = new ProcessBuilder(command).redirectErrorStream(true).start();
        } catch (IOException e) {
            return new Result(127, e.toString());
        }
        byte[] output = process.getInputStream().readAllBytes();
        if (!process.waitFor(10, TimeUnit.MINUTES)) {
            process.destroyForcibly();
            return new Result(124, "timed out");
        }
        return new Result(process.exitValue(), new String(output, StandardCharsets.UTF_8));
    }
}
