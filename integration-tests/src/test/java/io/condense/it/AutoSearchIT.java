package io.condense.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.protobuf.Struct;
import com.google.protobuf.util.JsonFormat;
import io.condense.proto.v1.PipelineStep;
import io.condense.proto.v1.SubmitRequest;
import io.condense.sdk.data.Dataset;
import io.condense.sdk.data.Idx;
import io.condense.sdk.data.Npy;
import io.condense.sdk.eval.EvaluationRequest;
import io.condense.sdk.eval.EvaluationResult;
import io.condense.sdk.model.OnnxModel;
import io.condense.sdk.testkit.Evaluators;
import io.condense.server.cli.CondenseClient;
import io.condense.server.report.Structs;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.logging.Level;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.openqa.selenium.By;
import org.openqa.selenium.WebElement;
import org.openqa.selenium.chrome.ChromeDriver;
import org.openqa.selenium.chrome.ChromeDriverService;
import org.openqa.selenium.chrome.ChromeOptions;
import org.openqa.selenium.logging.LogEntry;
import org.openqa.selenium.logging.LogType;
import org.openqa.selenium.logging.LoggingPreferences;

/**
 * {@code condense compress --auto} end to end (a search job) on the embedded platform and the real plugin archives: pytorch_cnn_mnist on
 * 2,000 of the shared MNIST digits, the search restricted to quantize so that it runs in seconds. The best model runs in ONNX
 * Runtime within the drop, the JSON report has the table and the Pareto front, the HTML page renders its charts and
 * tables in Debian's chromium without errors, and an unreachable constraint answers exit code 4 with the best found.
 */
class AutoSearchIT {
    private static final String CHROMIUM = "/usr/bin/chromium";
    private static final String CHROMEDRIVER = "/usr/bin/chromedriver";
    /** Digits every candidate is evaluated on: enough to see half a point (10 digits), few enough to keep the test short. */
    private static final int DIGITS = 2_000;

    @Test
    void searchFindsTheSmallestQuantizationWithinTheDropAndItsPageRenders(@TempDir Path folder) throws Exception {
        Path model = TestEnvironment.sharedFolder().resolve("models/pytorch_cnn_mnist.onnx");
        Path output = folder.resolve("best.onnx");
        Path report = folder.resolve("best.json");
        Path html = folder.resolve("best.html");
        InProcessCli.Run run = search(model, "max_drop=0.005, objective=size, techniques=quantize", output, report, html);
        assertThat(run.exitCode()).as("exit code; stdout:%n%s%nstderr:%n%s", run.out(), run.err()).isZero();
        assertThat(run.out()).contains("Search met the constraints");

        Map<String, Object> written = readJson(report);
        Map<String, Object> search = map(written.get("search"));
        List<Object> candidates = list(search.get("candidates"));
        assertThat(candidates).hasSize(2);
        assertThat(list(search.get("pareto"))).isNotEmpty();
        Map<String, Object> best = map(search.get("best"));
        assertThat(best.get("meets")).isEqualTo(true);
        // int4 blocks are smaller than int8 and lose less than half a point on these digits
        assertThat(best.get("pipeline")).isEqualTo("quantize(bits=4, granularity=block)");
        assertThat(((Number) best.get("bytes")).longValue()).isEqualTo(Files.size(output));

        // measured again here, in ONNX Runtime, on the same digits
        Dataset digits = Dataset.of(Idx.read(TestEnvironment.digitImages()).slice(0, DIGITS),
                Idx.read(TestEnvironment.digitLabels()).slice(0, DIGITS));
        EvaluationResult measured = Evaluators.fromServiceLoader().compare(OnnxModel.load(model), OnnxModel.load(output),
                EvaluationRequest.of(digits, digits.size()));
        assertThat(measured.accuracyBefore().orElseThrow() - measured.accuracyAfter().orElseThrow()).isLessThanOrEqualTo(0.005);

        rendersInChromium(html, 2);
    }

    @Test
    void anUnreachableConstraintExitsFourWithTheBestFound(@TempDir Path folder) throws Exception {
        Path model = TestEnvironment.sharedFolder().resolve("models/pytorch_cnn_mnist.onnx");
        Path output = folder.resolve("best.onnx");
        Path report = folder.resolve("best.json");
        InProcessCli.Run run = search(model, "max_drop=0.005, max_size=1000, techniques=quantize", output, report, null);
        assertThat(run.exitCode()).as("stderr:%n%s", run.err()).isEqualTo(4);
        assertThat(run.err()).contains("no candidate meets the constraints").contains("size");
        assertThat(output).exists();
        Map<String, Object> search = map(readJson(report).get("search"));
        assertThat(search.get("met")).isEqualTo(false);
        assertThat(list(search.get("candidates"))).allSatisfy(row -> assertThat(map(row).get("meets")).isEqualTo(false));
    }

    @Test
    void theSameCommandAgainstTheServerAnswersTheSameSearchJob(@TempDir Path folder) throws Exception {
        Path model = TestEnvironment.sharedFolder().resolve("models/pytorch_cnn_mnist.onnx");
        String requestId = "auto-search-it-" + System.nanoTime();
        List<String> server = List.of("--server", TestPlatform.get().grpcTarget(), "--request-id", requestId);
        InProcessCli.Run first = search(model, "max_drop=0.005, techniques=quantize", folder.resolve("first.onnx"),
                folder.resolve("first.json"), null, server);
        assertThat(first.exitCode()).as("stderr:%n%s", first.err()).isZero();
        // the server ran the search: its progress came back as the job's events
        assertThat(first.err()).contains("Search job ").contains("round 1: 2 candidates").contains("submitted ").contains("best so far: ");
        // the server serves the search job's page: the same report with its search parts
        java.util.regex.Matcher id = java.util.regex.Pattern.compile("Search job (\\S+)").matcher(first.err());
        assertThat(id.find()).isTrue();
        java.net.http.HttpResponse<String> page = java.net.http.HttpClient.newHttpClient().send(java.net.http.HttpRequest.newBuilder(
                java.net.URI.create("http://127.0.0.1:" + TestPlatform.get().metricsPort().orElseThrow() + "/jobs/" + id.group(1) + "/report"))
                .build(), java.net.http.HttpResponse.BodyHandlers.ofString());
        assertThat(page.statusCode()).isEqualTo(200);
        assertThat(page.body()).contains("<title>Condense search report</title>").contains("id=\"pareto\"");

        // a command run again (the same request id) follows the same search job instead of starting another
        InProcessCli.Run again = search(model, "max_drop=0.005, techniques=quantize", folder.resolve("again.onnx"),
                folder.resolve("again.json"), null, server);
        assertThat(again.exitCode()).as("stderr:%n%s", again.err()).isZero();
        assertThat(again.err()).contains("Following the search job already submitted with this request id");
        Map<String, Object> firstBest = map(map(readJson(folder.resolve("first.json")).get("search")).get("best"));
        Map<String, Object> againBest = map(map(readJson(folder.resolve("again.json")).get("search")).get("best"));
        assertThat(againBest.get("job_id")).isEqualTo(firstBest.get("job_id"));
        assertThat(Files.readAllBytes(folder.resolve("again.onnx"))).isEqualTo(Files.readAllBytes(folder.resolve("first.onnx")));
    }

    @Test
    void aSearchSubmitIsRefusedWithEveryProblemAtOnce() throws Exception {
        try (CondenseClient client = new CondenseClient(TestPlatform.get().grpcTarget())) {
            SubmitRequest request = SubmitRequest.newBuilder()
                    .setModelId(client.upload(TestEnvironment.sharedFolder().resolve("models/pytorch_cnn_mnist.onnx")).getBlobId())
                    .addSteps(PipelineStep.newBuilder().setTechnique("quantize"))
                    .setSearch(io.condense.proto.v1.SearchSpec.newBuilder().setObjective("smallest").setMaxDrop(5).addTechniques("magic"))
                    .build();
            assertThatThrownBy(() -> client.submit(request)).isInstanceOfSatisfying(StatusRuntimeException.class, e -> {
                assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT);
                assertThat(e.getStatus().getDescription()).contains("give either steps or search, not both")
                        .contains("set evaluation_data_id").contains("objective 'smallest' is not one of size, macs, latency")
                        .contains("max_drop 5.0 must be a fraction in [0, 1)").contains("technique 'magic' is not one the search combines");
            });
        }
    }

    private static InProcessCli.Run search(Path model, String spec, Path output, Path report, Path html) {
        return search(model, spec, output, report, html, List.of("--plugins", TestPlatform.pluginsFolder().toString()));
    }

    private static InProcessCli.Run search(Path model, String spec, Path output, Path report, Path html, List<String> where) {
        Path images = output.resolveSibling("digits.npy");
        Path labels = output.resolveSibling("digit-labels.npy");
        if (!Files.exists(images)) {
            Npy.write(images, Idx.read(TestEnvironment.digitImages()).slice(0, DIGITS));
            Npy.write(labels, Idx.read(TestEnvironment.digitLabels()).slice(0, DIGITS));
        }
        List<String> arguments = new java.util.ArrayList<>(List.of("compress", model.toString(), "--auto", spec, "--budget", "5m",
                "--eval-data", images.toString(), "--eval-labels", labels.toString(),
                "-o", output.toString(), "--report", report.toString()));
        arguments.addAll(where);
        if (html != null) {
            arguments.addAll(List.of("--html", html.toString()));
        }
        return InProcessCli.condense(arguments.toArray(String[]::new));
    }

    /** Opens the page in headless chromium: no console errors, every chart drawn with a size, the candidates' table filled. */
    static void rendersInChromium(Path html, int candidates) {
        Assumptions.assumeTrue(Files.isExecutable(Path.of(CHROMIUM)) && Files.isExecutable(Path.of(CHROMEDRIVER)),
                "Skipped: Debian's chromium and chromium-driver are not installed (run-tests installs them)");
        ChromeOptions options = new ChromeOptions().setBinary(CHROMIUM)
                .addArguments("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage");
        LoggingPreferences logging = new LoggingPreferences();
        logging.enable(LogType.BROWSER, Level.ALL);
        options.setCapability("goog:loggingPrefs", logging);
        ChromeDriverService service = new ChromeDriverService.Builder().usingDriverExecutable(Path.of(CHROMEDRIVER).toFile())
                .usingAnyFreePort().build();
        ChromeDriver browser = new ChromeDriver(service, options);
        try {
            browser.get(html.toUri().toString());
            assertThat(browser.getTitle()).isEqualTo("Condense search report");
            List<WebElement> charts = browser.findElements(By.cssSelector("svg.chart"));
            assertThat(charts).extracting(chart -> chart.getAttribute("id")).contains("pareto", "size-breakdown");
            assertThat(charts).allSatisfy(chart -> assertThat(chart.getRect().getWidth()).isGreaterThan(100));
            assertThat(browser.findElements(By.cssSelector("#pareto circle.point"))).hasSize(candidates);
            assertThat(browser.findElements(By.cssSelector("#pareto circle.best"))).hasSize(1);
            assertThat(browser.findElements(By.cssSelector("#candidates tr"))).hasSize(candidates + 1);
            assertThat(browser.findElements(By.cssSelector("#summary tr"))).hasSizeGreaterThan(4);
            List<LogEntry> errors = browser.manage().logs().get(LogType.BROWSER).getAll().stream()
                    .filter(entry -> entry.getLevel().intValue() >= Level.WARNING.intValue()).toList();
            assertThat(errors).as("browser console").isEmpty();
        } finally {
            browser.quit();
        }
    }

    private static Map<String, Object> readJson(Path file) throws Exception {
        Struct.Builder struct = Struct.newBuilder();
        JsonFormat.parser().merge(Files.readString(file), struct);
        return Structs.toMap(struct.build());
    }

    @SuppressWarnings("unchecked")
    private static Map<String, Object> map(Object value) {
        return (Map<String, Object>) value;
    }

    @SuppressWarnings("unchecked")
    private static List<Object> list(Object value) {
        return (List<Object>) value;
    }
}
