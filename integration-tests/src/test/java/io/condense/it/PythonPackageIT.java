package io.condense.it;

import static org.assertj.core.api.Assertions.assertThat;

import io.condense.sdk.testkit.LeNets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The Python package (clients/python, installed by ./run-tests into the fresh virtual environment build/python-venv)
 * against the embedded platform: its live tests (compress, a channel's numpy pushes, refusals, watch, download, delete; a
 * model with external data compressed as a bundle and its result received with its data file; a bundle refused as a
 * channel's base model by the package and by the server),
 * and the example training loop, which trains LeNet-300-100 in numpy on the shared digits and pushes every 100 steps while
 * its watcher receives the compressed versions.
 */
class PythonPackageIT {

    @Test
    void liveTestsPass(@TempDir Path folder) throws Exception {
        ForeignClient python = ForeignClient.pythonPackage();
        Path model = folder.resolve("lenet-300-100.onnx");
        Files.write(model, LeNets.leNet300100(1).toBytes());
        // the same network with every tensor of 1 KiB or more in lenet-bundle.onnx.data: sent and received as a bundle
        Path bundle = folder.resolve("bundle").resolve("lenet-bundle.onnx");
        Files.createDirectories(bundle.getParent());
        LeNets.leNet300100(1).save(bundle, 1024);
        ForeignClient.Run run = python.run(List.of("-m", "unittest", "discover", "-v", "-s", ForeignClient.pythonPackageFolder().resolve("tests").toString(),
                        "-p", "test_*.py"), folder,
                Duration.ofMinutes(5), Map.of("CONDENSE_TEST_SERVER", TestPlatform.get().grpcTarget(), "CONDENSE_TEST_MODEL", model.toString(),
                        "CONDENSE_TEST_BUNDLE", bundle.toString()));
        assertThat(run.exitCode()).as(run.toString()).isZero();
        assertThat(run.stderr()).contains("Ran 23 tests").contains("OK").doesNotContain("skipped");
    }

    @Test
    void theExampleTrainingLoopStreamsVersionsToItsWatcher(@TempDir Path folder) throws Exception {
        ForeignClient python = ForeignClient.pythonPackage();
        Path base = folder.resolve("lenet-300-100.onnx");
        Files.write(base, LeNets.leNet300100(1).toBytes());
        ForeignClient.Run run = python.run(List.of(ForeignClient.pythonPackageFolder().resolve("examples/train_mnist_mlp.py").toString(),
                        "--server", TestPlatform.get().grpcTarget(), "--base", base.toString(), "--data",
                        TestEnvironment.digitImages().getParent().toString(), "--channel", "py-example", "--steps", "400",
                        "--push-every", "100", "--policy", "every"),
                folder, Duration.ofMinutes(8));
        assertThat(run.exitCode()).as(run.toString()).isZero();
        Map<String, Object> summary = run.summary();
        assertThat(summary).containsEntry("pushed", 4L).containsEntry("all_received", true);
        assertThat((Double) summary.get("final_accuracy")).isGreaterThan(0.85);
        @SuppressWarnings("unchecked")
        List<Map<String, Object>> versions = (List<Map<String, Object>>) summary.get("versions");
        assertThat(versions).extracting(v -> v.get("version")).containsExactly(1L, 2L, 3L, 4L);
        assertThat(versions.get(3)).containsEntry("state", "COMPRESSED");
        assertThat(versions).allMatch(v -> List.of("COMPRESSED", "REJECTED").contains(v.get("state")));
    }
}
