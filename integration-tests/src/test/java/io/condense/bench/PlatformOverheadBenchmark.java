package io.condense.bench;

import static io.condense.bench.BenchSupport.copyArchives;
import static io.condense.bench.BenchSupport.loadAverage;
import static io.condense.bench.BenchSupport.millisSince;
import static io.condense.bench.BenchSupport.option;
import static io.condense.bench.BenchSupport.textOption;

import static java.util.Objects.requireNonNull;

import io.condense.proto.v1.JobEvent;
import io.condense.proto.v1.PipelineStep;
import io.condense.proto.v1.SubmitRequest;
import io.condense.sdk.eval.EvaluationRequest;
import io.condense.sdk.eval.Evaluator;
import io.condense.sdk.model.OnnxModel;
import io.condense.sdk.stats.ModelStats;
import io.condense.sdk.technique.Parameters;
import io.condense.sdk.testkit.TestStepContext;
import io.condense.server.Folders;
import io.condense.server.cli.CondenseClient;
import io.condense.server.platform.CondensePlatform;
import io.condense.server.platform.PlatformConfig;
import io.condense.server.plugin.LoadedTechnique;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.ServiceLoader;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The platform's overhead on a tiny model: {@code prune(sparsity=0.5) | quantize(bits=8)} on mnist-8,
 * submit to completed over gRPC -> Kafka -> plugins, one client at a time and from several concurrent
 * clients, beside the same two techniques called in-process in the same JVM and the same run (the machine
 * is shared and noisy, so the figures that matter are the ratios to that baseline).
 *
 * <p>Not a test: run it with {@code mvn -q -pl integration-tests test-compile exec:exec@benchmark} (see the
 * README). Options, as system properties: {@code benchmark.jobs} (200), {@code benchmark.clients} (4),
 * {@code benchmark.warmup} (300 rounds of a bare job, an evaluated job and an in-process job-work run, then 20
 * times as many in-process technique runs: "a running server" is one the JIT has compiled; after 10 rounds a bare
 * job still took 46-64 ms, after 100 rounds 26-46 ms, after 300 rounds 26-28 ms, measured 2026-12-07), {@code condense.plugins.dir}, {@code condense.shared.dir}.
 *
 * <p>Latency of a platform job runs from the Submit call to the JobCompleted event seen on WatchJob (the
 * watch is opened right after Submit answers; it replays the job's events from the start, so none is
 * missed). The in-process pipeline is what the worker's steps do to the model: parse the bytes, validate
 * the parameters, apply prune, apply quantize, serialize. Platform jobs run twice over: "bare"
 * ({@code skip_evaluation}), like for like with that pipeline, and "evaluated" (the default job, which adds
 * statistics and an ONNX Runtime comparison on 32 generated inputs with 10 latency runs per model in the
 * worker's {@code JobFinisher}), against a second baseline, "in-process job work", that adds the same.
 */
public final class PlatformOverheadBenchmark {
    private static final Map<String, String> PRUNE_PARAMETERS = Map.of("sparsity", "0.5");
    private static final Map<String, String> QUANTIZE_PARAMETERS = Map.of("bits", "8");
    private static final int EVALUATION_SAMPLES = 32;
    private static final int EVALUATION_LATENCY_RUNS = 10;
    /** The in-process pipeline takes a few ms: warm it up this many times more often than the platform. */
    private static final int IN_PROCESS_WARMUP_FACTOR = 20;
    /** Between successive events of a job, as seen on WatchJob. */
    private static final String[] PHASES = {"submit -> accepted", "accepted -> step 1 started", "step 1", "step 1 -> step 2 started", "step 2",
            "step 2 -> job completed", "completed -> seen by the client"};

    private PlatformOverheadBenchmark() {
    }

    public static void main(String[] args) throws Exception {
        int jobs = option("benchmark.jobs", 200);
        int clients = option("benchmark.clients", 4);
        int warmup = option("benchmark.warmup", 300);
        Path pluginArchives = Path.of(textOption("condense.plugins.dir", "../build/plugins"));
        Path shared = Path.of(textOption("condense.shared.dir", "../../shared"));
        Path modelFile = shared.resolve("models/mnist8/model.onnx");
        if (!Files.isRegularFile(modelFile)) {
            throw new IllegalStateException("the tiny model is missing: " + modelFile.toAbsolutePath() + " (set -Dcondense.shared.dir)");
        }
        byte[] modelBytes = Files.readAllBytes(modelFile);

        Path workFolder = Files.createTempDirectory("condense-bench-");
        AtomicBoolean cleaned = new AtomicBoolean();
        CondensePlatform[] running = new CondensePlatform[1];
        Runnable cleanUp = () -> {
            if (cleaned.compareAndSet(false, true)) {
                if (running[0] != null) {
                    running[0].close();
                }
                Folders.deleteRecursively(workFolder);
            }
        };
        Runtime.getRuntime().addShutdownHook(new Thread(cleanUp, "benchmark-cleanup"));
        try {
            String loadAtStart = loadAverage();
            Instant startedAt = Instant.now();
            long platformStart = System.nanoTime();
            // a copy of the archives, so a concurrent build rewriting build/plugins cannot touch the loaded jars
            running[0] = CondensePlatform.start(PlatformConfig.embedded(workFolder.resolve("data"), copyArchives(pluginArchives, workFolder.resolve("plugins"))));
            CondensePlatform platform = running[0];
            double platformStartMs = millisSince(platformStart);
            LoadedTechnique prune = platform.plugins().technique("prune")
                    .orElseThrow(() -> new IllegalStateException("no 'prune' technique in " + pluginArchives.toAbsolutePath()));
            LoadedTechnique quantize = platform.plugins().technique("quantize")
                    .orElseThrow(() -> new IllegalStateException("no 'quantize' technique in " + pluginArchives.toAbsolutePath()));
            Optional<Evaluator> evaluator = ServiceLoader.load(Evaluator.class, PlatformOverheadBenchmark.class.getClassLoader()).findFirst();
            InProcessPipeline inProcess = new InProcessPipeline(modelBytes, prune, quantize, evaluator, workFolder.resolve("scratch"));

            try (CondenseClient client = new CondenseClient(platform.grpcTarget())) {
                long uploadStart = System.nanoTime();
                String modelId = client.upload(modelBytes).getBlobId();
                double firstUploadMs = millisSince(uploadStart);
                SubmitRequest evaluated = SubmitRequest.newBuilder()
                        .setModelId(modelId)
                        .addSteps(PipelineStep.newBuilder().setTechnique("prune").putAllParameters(PRUNE_PARAMETERS))
                        .addSteps(PipelineStep.newBuilder().setTechnique("quantize").putAllParameters(QUANTIZE_PARAMETERS))
                        .build();
                SubmitRequest bare = evaluated.toBuilder().setSkipEvaluation(true).build();

                // warm-up: both paths, so the JIT, the connections and the consumers settle before anything is timed
                for (int i = 0; i < warmup; i++) {
                    runJob(client, bare);
                    runJob(client, evaluated);
                    inProcess.jobWork();
                }
                for (int i = 0; i < IN_PROCESS_WARMUP_FACTOR * warmup; i++) {
                    inProcess.techniques();
                }
                double[] repeatUploads = new double[20];
                for (int i = 0; i < repeatUploads.length; i++) {
                    long start = System.nanoTime();
                    client.upload(modelBytes);
                    repeatUploads[i] = millisSince(start);
                }

                // in-process first and last, platform between, so drift in the machine's load shows on both sides
                Sample techniques = timeSequential(jobs, inProcess::techniques);
                Sample jobWork = timeSequential(jobs, inProcess::jobWork);
                JobTimes sequential = platformSequential(client, bare, jobs);
                JobTimes sequentialEvaluated = platformSequential(client, evaluated, jobs);
                JobTimes concurrent = platformConcurrent(platform.grpcTarget(), bare, jobs, clients);
                JobTimes concurrentEvaluated = platformConcurrent(platform.grpcTarget(), evaluated, jobs, clients);
                Sample techniquesConcurrent = timeConcurrent(jobs, clients, inProcess::techniques);
                Sample techniquesAgain = timeSequential(jobs, inProcess::techniques);

                print(new Figures(startedAt, loadAtStart, loadAverage(), platformStartMs, modelBytes.length, inProcess.outputBytes(), jobs, clients,
                        warmup, firstUploadMs, Sample.of(repeatUploads, 0), techniques, techniquesAgain, jobWork, sequential, sequentialEvaluated,
                        concurrent, concurrentEvaluated, techniquesConcurrent, evaluator.isPresent()));
            }
        } finally {
            cleanUp.run();
        }
    }

    private static JobTimes platformSequential(CondenseClient client, SubmitRequest request, int jobs) {
        JobRun[] runs = new JobRun[jobs];
        long start = System.nanoTime();
        for (int i = 0; i < jobs; i++) {
            runs[i] = runJob(client, request);
        }
        return JobTimes.of(runs, millisSince(start));
    }

    private static JobTimes platformConcurrent(String target, SubmitRequest request, int jobs, int clients) throws Exception {
        JobRun[] runs = new JobRun[jobs];
        AtomicInteger next = new AtomicInteger();
        ExecutorService pool = Executors.newFixedThreadPool(clients);
        try {
            // one client (one channel) per thread, connected and used once before the clock starts
            CondenseClient[] connected = new CondenseClient[clients];
            for (int c = 0; c < clients; c++) {
                connected[c] = new CondenseClient(target);
                runJob(connected[c], request);
            }
            long start = System.nanoTime();
            Future<?>[] running = new Future<?>[clients];
            for (int c = 0; c < clients; c++) {
                CondenseClient client = connected[c];
                running[c] = pool.submit(() -> {
                    for (int i = next.getAndIncrement(); i < jobs; i = next.getAndIncrement()) {
                        runs[i] = runJob(client, request);
                    }
                    return null;
                });
            }
            for (Future<?> future : running) {
                future.get();
            }
            double wallMs = millisSince(start);
            for (CondenseClient client : connected) {
                client.close();
            }
            return JobTimes.of(runs, wallMs);
        } finally {
            pool.shutdownNow();
        }
    }

    /** Submit, then watch until the final event; fails loudly on anything but completed. */
    private static JobRun runJob(CondenseClient client, SubmitRequest request) {
        long submittedAtMs = System.currentTimeMillis();
        long start = System.nanoTime();
        // a new client_request_id per job, as the Python client and `condense compress --request-id` send: Submit then
        // checks that no earlier job has it (issue 16 measured 2 s per job for that check)
        String jobId = client.submit(request.toBuilder().setClientRequestId("bench-" + java.util.UUID.randomUUID()).build()).getJobId();
        long[] completedAt = {0};
        double[] stepMillis = {0};
        // wall-clock marks (ms, one clock: everything runs in this process): submit, accepted, step 1 started,
        // step 1 completed, step 2 started, step 2 completed, job completed (server), job completed seen here
        long[] marks = new long[PHASES.length + 1];
        marks[0] = submittedAtMs;
        JobEvent[] last = new JobEvent[1];
        client.watch(jobId, event -> {
            switch (event.getEventCase()) {
                case ACCEPTED -> marks[1] = event.getTimeMs();
                case STEP_STARTED -> marks[event.getStepStarted().getStep() == 1 ? 2 : 4] = event.getTimeMs();
                case STEP_COMPLETED -> {
                    stepMillis[0] += event.getStepCompleted().getResult().getDurationMs();
                    marks[event.getStepCompleted().getResult().getStep() == 1 ? 3 : 5] = event.getTimeMs();
                }
                case COMPLETED -> {
                    completedAt[0] = System.nanoTime();
                    marks[6] = event.getTimeMs();
                    marks[7] = System.currentTimeMillis();
                }
                default -> {
                }
            }
            last[0] = event;
        });
        if (completedAt[0] == 0) {
            throw new IllegalStateException("job " + jobId + " did not complete; its last event: " + last[0]);
        }
        double[] phases = new double[PHASES.length];
        for (int i = 0; i < phases.length; i++) {
            phases[i] = marks[i + 1] - marks[i];
        }
        return new JobRun((completedAt[0] - start) / 1e6, stepMillis[0], phases);
    }

    private static Sample timeSequential(int count, Runnable work) {
        double[] latencies = new double[count];
        long start = System.nanoTime();
        for (int i = 0; i < count; i++) {
            long one = System.nanoTime();
            work.run();
            latencies[i] = millisSince(one);
        }
        return Sample.of(latencies, millisSince(start));
    }

    private static Sample timeConcurrent(int count, int threads, Runnable work) throws Exception {
        double[] latencies = new double[count];
        AtomicInteger next = new AtomicInteger();
        ExecutorService pool = Executors.newFixedThreadPool(threads);
        try {
            long start = System.nanoTime();
            Future<?>[] running = new Future<?>[threads];
            for (int t = 0; t < threads; t++) {
                running[t] = pool.submit(() -> {
                    for (int i = next.getAndIncrement(); i < count; i = next.getAndIncrement()) {
                        long one = System.nanoTime();
                        work.run();
                        latencies[i] = millisSince(one);
                    }
                    return null;
                });
            }
            for (Future<?> future : running) {
                future.get();
            }
            return Sample.of(latencies, millisSince(start));
        } finally {
            pool.shutdownNow();
        }
    }

    private static void print(Figures figures) {
        Sample baseline = figures.techniques();
        Sample platform = figures.sequential().latency();
        Sample platformEvaluated = figures.sequentialEvaluated().latency();
        System.out.printf(Locale.ROOT, "%nCondense platform overhead benchmark, %s%n", figures.startedAt().truncatedTo(ChronoUnit.SECONDS));
        System.out.printf(Locale.ROOT, "machine: %d CPUs, Java %s, load average %s at start, %s at end (shared machine: other builds may run)%n",
                Runtime.getRuntime().availableProcessors(), System.getProperty("java.version"), figures.loadAtStart(), figures.loadAtEnd());
        System.out.printf(Locale.ROOT, "pipeline: prune(sparsity=0.5) | quantize(bits=8) on mnist8 (%,d bytes -> %,d bytes); %d jobs per row, %d concurrent clients, %d warm-up rounds%n",
                figures.modelBytes(), figures.outputBytes(), figures.jobs(), figures.clients(), figures.warmup());
        System.out.printf(Locale.ROOT, "platform start (embedded Kafka, plugins, API, worker): %.0f ms%n", figures.platformStartMs());
        System.out.printf(Locale.ROOT, "upload of the model: %.1f ms the first time, p50 %.1f ms over %d repeat uploads (content-addressed, model id reused by every job)%n",
                figures.firstUploadMs(), figures.repeatUploads().percentile(50), figures.repeatUploads().count());
        System.out.printf(Locale.ROOT, "platform latency = Submit call to the JobCompleted event on WatchJob; \"bare\" = skip_evaluation, \"evaluated\" = the default job%n");
        System.out.printf(Locale.ROOT, "(statistics + ONNX Runtime comparison on %d generated inputs, %d latency runs per model)%n%n", EVALUATION_SAMPLES, EVALUATION_LATENCY_RUNS);
        System.out.printf(Locale.ROOT, "%-50s %5s %8s %8s %8s %8s %10s%n", "", "n", "p50 ms", "p95 ms", "max ms", "mean ms", "per second");
        row("in-process techniques, 1 thread", baseline);
        row("in-process job work" + (figures.evaluated() ? " (+ stats, ORT compare), 1 thread" : " (no evaluator!)"), figures.jobWork());
        row("platform bare, 1 client", platform);
        row("  of which the 2 steps (worker's duration_ms)", figures.sequential().steps());
        row("platform evaluated, 1 client", platformEvaluated);
        row("platform bare, " + figures.clients() + " clients", figures.concurrent().latency());
        row("platform evaluated, " + figures.clients() + " clients", figures.concurrentEvaluated().latency());
        row("in-process techniques, " + figures.clients() + " threads", figures.concurrentTechniques());
        row("in-process techniques, 1 thread (again, last)", figures.techniquesAgain());
        System.out.println();
        StringBuilder phases = new StringBuilder();
        for (int p = 0; p < PHASES.length; p++) {
            phases.append(p == 0 ? "" : ", ").append(PHASES[p]).append(' ')
                    .append(String.format(Locale.ROOT, "%.0f", figures.sequential().phases()[p].percentile(50)));
        }
        System.out.printf(Locale.ROOT, "where a bare job's time goes, 1 client, p50 ms between its events: %s%n", phases);
        double baselineP50 = (baseline.percentile(50) + figures.techniquesAgain().percentile(50)) / 2;
        double baselineP95 = (baseline.percentile(95) + figures.techniquesAgain().percentile(95)) / 2;
        System.out.printf(Locale.ROOT, "overhead, 1 client: platform bare p50 / in-process techniques p50 = %.1fx (%.1f ms vs %.2f ms: +%.1f ms per job); p95 %.1fx (+%.1f ms)%n",
                platform.percentile(50) / baselineP50, platform.percentile(50), baselineP50, platform.percentile(50) - baselineP50,
                platform.percentile(95) / baselineP95, platform.percentile(95) - baselineP95);
        System.out.printf(Locale.ROOT, "overhead, 1 client: platform evaluated p50 / in-process job work p50 = %.1fx (%.1f ms vs %.2f ms: +%.1f ms per job)%n",
                platformEvaluated.percentile(50) / figures.jobWork().percentile(50), platformEvaluated.percentile(50), figures.jobWork().percentile(50),
                platformEvaluated.percentile(50) - figures.jobWork().percentile(50));
        System.out.printf(Locale.ROOT, "throughput, %d clients: bare %.1f jobs/s (%.2fx one client's %.1f), evaluated %.1f jobs/s; in-process techniques on %d threads %.1f pipelines/s = %.1fx platform bare%n",
                figures.clients(), figures.concurrent().latency().perSecond(), figures.concurrent().latency().perSecond() / platform.perSecond(),
                platform.perSecond(), figures.concurrentEvaluated().latency().perSecond(), figures.clients(), figures.concurrentTechniques().perSecond(),
                figures.concurrentTechniques().perSecond() / figures.concurrent().latency().perSecond());
        System.out.printf(Locale.ROOT, "in-process baseline drift, first run to last: p50 %.2f ms -> %.2f ms (the ratios use their mean)%n",
                baseline.percentile(50), figures.techniquesAgain().percentile(50));
    }

    private static void row(String name, Sample sample) {
        System.out.printf(Locale.ROOT, "%-50s %5d %8.2f %8.2f %8.2f %8.2f %10s%n", name, sample.count(), sample.percentile(50), sample.percentile(95),
                sample.max(), sample.mean(), sample.wallMs() > 0 ? String.format(Locale.ROOT, "%.1f", sample.perSecond()) : "");
    }

    /**
     * The same two techniques the worker runs, from the same loaded plugins, called directly: no gRPC, no
     * Kafka, no blob store.
     */
    private static final class InProcessPipeline {
        private final byte[] modelBytes;
        private final LoadedTechnique prune;
        private final LoadedTechnique quantize;
        private final Optional<Evaluator> evaluator;
        private final Path scratch;
        private volatile int outputBytes;

        InProcessPipeline(byte[] modelBytes, LoadedTechnique prune, LoadedTechnique quantize, Optional<Evaluator> evaluator, Path scratch) throws IOException {
            this.modelBytes = requireNonNull(modelBytes, "modelBytes is null");
            this.prune = requireNonNull(prune, "prune is null");
            this.quantize = requireNonNull(quantize, "quantize is null");
            this.evaluator = requireNonNull(evaluator, "evaluator is null");
            this.scratch = Files.createDirectories(scratch);
        }

        /** Bytes in, prune, quantize, bytes out; parameters validated per call as the worker does. */
        void techniques() {
            run();
        }

        /** The techniques plus what the worker adds to every job: statistics of both models and the ORT comparison. */
        void jobWork() {
            OnnxModel[] models = run();
            ModelStats.of(models[0]);
            ModelStats.of(models[1]);
            evaluator.ifPresent(runtime -> runtime.compare(models[0], models[1],
                    EvaluationRequest.generated(EVALUATION_SAMPLES).withLatencyRuns(EVALUATION_LATENCY_RUNS)));
        }

        int outputBytes() {
            return outputBytes;
        }

        /** The test kit's step context: never cancelled, no data sets, the host's evaluator. */
        private TestStepContext context(String techniqueId, Parameters parameters) {
            TestStepContext.Builder builder = TestStepContext.builder().techniqueId(techniqueId).parameters(parameters)
                    .scratchDirectory(scratch);
            return (evaluator.isPresent() ? builder.evaluator(evaluator.get()) : builder.withoutEvaluator()).build();
        }

        private OnnxModel[] run() {
            OnnxModel original = OnnxModel.fromBytes(modelBytes);
            Parameters pruning = Parameters.validate(prune.descriptor().parameters(), PRUNE_PARAMETERS);
            OnnxModel pruned = prune.apply(original, pruning, context(prune.id(), pruning)).model();
            Parameters quantizing = Parameters.validate(quantize.descriptor().parameters(), QUANTIZE_PARAMETERS);
            OnnxModel quantized = quantize.apply(pruned, quantizing, context(quantize.id(), quantizing)).model();
            byte[] bytes = quantized.toBytes();
            outputBytes = bytes.length;
            return new OnnxModel[] {original, quantized};
        }
    }

    private record JobRun(double latencyMs, double stepMillis, double[] phases) {
    }

    /** Latency, the steps' own duration, and the time between successive events (PHASES), per job. */
    private record JobTimes(Sample latency, Sample steps, Sample[] phases) {
        static JobTimes of(JobRun[] runs, double wallMs) {
            double[] latencies = new double[runs.length];
            double[] steps = new double[runs.length];
            double[][] phases = new double[PHASES.length][runs.length];
            for (int i = 0; i < runs.length; i++) {
                latencies[i] = runs[i].latencyMs();
                steps[i] = runs[i].stepMillis();
                for (int p = 0; p < PHASES.length; p++) {
                    phases[p][i] = runs[i].phases()[p];
                }
            }
            Sample[] phaseSamples = new Sample[PHASES.length];
            for (int p = 0; p < PHASES.length; p++) {
                phaseSamples[p] = Sample.of(phases[p], 0);
            }
            return new JobTimes(Sample.of(latencies, wallMs), Sample.of(steps, 0), phaseSamples);
        }
    }

    private record Figures(Instant startedAt, String loadAtStart, String loadAtEnd, double platformStartMs, int modelBytes, int outputBytes,
            int jobs, int clients, int warmup, double firstUploadMs, Sample repeatUploads, Sample techniques, Sample techniquesAgain,
            Sample jobWork, JobTimes sequential, JobTimes sequentialEvaluated, JobTimes concurrent, JobTimes concurrentEvaluated,
            Sample concurrentTechniques, boolean evaluated) {
    }
}
