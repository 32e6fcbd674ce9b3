package io.condense.it;

import static io.condense.it.Jobs.step;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtSession;
import io.condense.proto.v1.ResolvedStep;
import io.condense.proto.v1.SubmitRequest;
import io.condense.proto.v1.ValidateResponse;
import io.condense.server.cli.CondenseClient;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * One validation at Submit: the rules across a technique's parameters (Technique.validate) refuse a pipeline before it
 * is queued, every problem of every step in one answer; the Validate RPC and {@code condense compress --dry-run} show
 * the resolved parameters without running; recipe files; the one-shot local command without a broker.
 */
class PipelineValidationIT {
    private static CondenseClient client;
    private static String model;

    @BeforeAll
    static void start() throws Exception {
        client = new CondenseClient(TestPlatform.get().grpcTarget());
        model = client.upload(TestEnvironment.mnist8()).getBlobId();
    }

    @AfterAll
    static void stop() {
        client.close();
    }

    @Test
    void rulesAcrossParametersOfEveryStepAreRefusedAtSubmitBeforeAnythingIsQueued() {
        String requestId = "never-queued-" + System.nanoTime();
        SubmitRequest request = SubmitRequest.newBuilder().setModelId(model).setClientRequestId(requestId)
                .addSteps(step("prune", Map.of("pattern", "2:4", "sparsity", "0.7")))
                .addSteps(step("lowrank", Map.of("rank", "4", "ratio", "0.5")))
                .addSteps(step("quantize", Map.of("exclude", "regex:[conv", "bits", "4", "granularity", "per_channel", "block", "64")))
                .addSteps(step("prune", Map.of("pattern", "4:2")))
                .build();
        assertThatThrownBy(() -> client.submit(request))
                .isInstanceOfSatisfying(StatusRuntimeException.class, e -> {
                    assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT);
                    assertThat(e.getStatus().getDescription())
                            .contains("parameter 'sparsity' of step 1 (prune)").contains("excludes pattern")
                            .contains("of step 2 (lowrank)").contains("give only one of rank, energy and ratio")
                            .contains("parameter 'exclude' of step 3 (quantize)").contains("not a valid regular expression")
                            .contains("Invalid value 4:2 for parameter 'pattern' of step 4 (prune)")
                            .doesNotContain("\tat ");
                });
        // nothing was queued: a valid Submit with the same request id makes a new job instead of answering an earlier one
        assertThat(client.submit(request.toBuilder().clearSteps().addSteps(step("prune")).setSkipEvaluation(true).build()).getExisting())
                .isFalse();
    }

    @Test
    void validateAnswersEveryParameterResolvedAndWhichWereGiven() {
        ValidateResponse response = client.validate(List.of(step("prune", Map.of("sparsity", "0.7")), step("quantize")));
        assertThat(response.getStepsList()).extracting(ResolvedStep::getTechnique).containsExactly("prune", "quantize");
        ResolvedStep prune = response.getSteps(0);
        assertThat(prune.getStep()).isEqualTo(1);
        assertThat(prune.getParametersMap()).containsEntry("sparsity", "0.7").containsKey("scope").containsKey("min_elements");
        assertThat(prune.getExplicitParametersList()).containsExactly("sparsity");
        assertThat(response.getSteps(1).getParametersMap()).containsEntry("bits", "8");
        assertThat(response.getSteps(1).getExplicitParametersList()).isEmpty();

        // a default that depends on the other parameters is shown as it will run: channel pruning by the l1 filter
        // criterion prunes per layer (scores do not compare across layers), not with the descriptor's global scope
        ResolvedStep channels = client.validate(List.of(step("prune", Map.of("structure", "channel")))).getSteps(0);
        assertThat(channels.getParametersMap()).containsEntry("scope", "layer").containsEntry("criterion", "l1");
        assertThat(channels.getExplicitParametersList()).containsExactly("structure");
        assertThat(client.validate(List.of(step("prune", Map.of("structure", "channel", "criterion", "bn_scale")))).getSteps(0)
                .getParametersMap()).containsEntry("scope", "global");
        // lowrank without rank, energy or ratio spends ratio=0.5
        assertThat(client.validate(List.of(step("lowrank"))).getSteps(0).getParametersMap()).containsEntry("ratio", "0.5")
                .containsEntry("method", "auto");

        assertThatThrownBy(() -> client.validate(List.of(step("quantize", Map.of("dtype", "fp16", "activations", "true")))))
                .isInstanceOfSatisfying(StatusRuntimeException.class, e -> {
                    assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT);
                    assertThat(e.getStatus().getDescription()).contains("step 1 (quantize)").contains("keep float activations");
                });
    }

    @Test
    void dryRunPrintsTheResolvedPipelineAndRunsNothing(@TempDir Path folder) throws Exception {
        Path recipe = folder.resolve("pipeline.yaml");
        Files.writeString(recipe, """
                # the pipeline a team keeps in version control
                steps:
                  - prune: {sparsity: 0.6}
                  - quantize:
                      bits: 8
                      exclude_ops: [Gemm]   # a list becomes the comma-separated text
                """);
        InProcessCli.Run run = cli("compress", TestEnvironment.mnist8().toString(), "--recipe", recipe.toString(), "--dry-run",
                "--server", TestPlatform.get().grpcTarget());
        assertThat(run.exitCode()).as(run.err()).isZero();
        assertThat(run.out()).contains("The pipeline is valid (2 steps); nothing was run")
                .containsPattern("1\\. prune")
                .containsPattern("\\* sparsity\\s+= 0.6")
                .containsPattern("\\* exclude_ops\\s+= Gemm")
                .containsPattern("  scope\\s+= ");

        InProcessCli.Run broken = cli("compress", TestEnvironment.mnist8().toString(), "--pipeline", "prune(pattern=2:4, sparsity=0.3)",
                "--dry-run", "--server", TestPlatform.get().grpcTarget());
        assertThat(broken.exitCode()).isEqualTo(2);
        assertThat(broken.err()).contains("step 1 (prune)").contains("excludes pattern");

        Files.writeString(recipe, "steps:\n  - prune: [0.5]\n");
        InProcessCli.Run badRecipe = cli("compress", TestEnvironment.mnist8().toString(), "--recipe", recipe.toString(), "--dry-run");
        assertThat(badRecipe.exitCode()).isEqualTo(2);
        assertThat(badRecipe.err()).contains("the recipe " + recipe).contains("step 1 (prune) must be a mapping");
    }

    @Test
    void everyRecipeTheRepositoryShipsIsValidAgainstTheRealPlugins() throws Exception {
        // the tests run in the integration-tests module folder; the recipes sit at the repository's top
        Path recipes = Path.of("..", "recipes");
        List<Path> files;
        try (var listing = Files.list(recipes)) {
            files = listing.filter(file -> file.toString().endsWith(".yaml")).sorted().toList();
        }
        assertThat(files).as("recipes in " + recipes).isNotEmpty();
        for (Path recipe : files) {
            InProcessCli.Run run = cli("compress", TestEnvironment.mnist8().toString(), "--recipe", recipe.toString(), "--dry-run",
                    "--plugins", TestPlatform.pluginsFolder().toString());
            assertThat(run.exitCode()).as(recipe + ": " + run.err()).isZero();
        }
    }

    @Test
    void theLocalCommandRunsTheJobInProcessWithoutABroker(@TempDir Path folder) throws Exception {
        Path output = folder.resolve("mnist8-int8.onnx");
        Path report = folder.resolve("report.json");
        InProcessCli.Run run = cli("compress", TestEnvironment.mnist8().toString(), "--pipeline", "prune(sparsity=0.5) | quantize(bits=8)",
                "-o", output.toString(), "--report", report.toString(), "--plugins", TestPlatform.pluginsFolder().toString(),
                "--eval-data", TestEnvironment.digitImages().toString(), "--eval-labels", TestEnvironment.digitLabels().toString());
        assertThat(run.exitCode()).as(run.err()).isZero();
        assertThat(run.err()).doesNotContain("Kafka");
        assertThat(run.out()).contains("completed").contains("Wrote " + output);
        assertThat(Files.readString(report)).contains("accuracy_after").contains("\"quantize\"");
        try (OrtEnvironment environment = OrtEnvironment.getEnvironment();
                OrtSession session = environment.createSession(output.toString(), new OrtSession.SessionOptions())) {
            assertThat(session.getInputNames()).hasSize(1);
        }

        // a step that fails on the worker fails the local job too, with its step and code (missing data: bad input, exit 2)
        InProcessCli.Run failed = cli("compress", TestEnvironment.mnist8().toString(), "--pipeline", "distill(epochs=1)", "-o",
                folder.resolve("never.onnx").toString(), "--plugins", TestPlatform.pluginsFolder().toString(), "--no-evaluation");
        assertThat(failed.exitCode()).as(failed.out() + failed.err()).isEqualTo(2);
        assertThat(failed.err()).contains("FAILED at step 1 (distill)").contains("DATA_REQUIRED");
        assertThat(folder.resolve("never.onnx")).doesNotExist();
    }

    private static InProcessCli.Run cli(String... arguments) {
        return InProcessCli.condense(arguments);
    }
}
