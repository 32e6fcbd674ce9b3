package io.condense.it;

import static io.condense.it.Jobs.step;
import static org.assertj.core.api.Assertions.assertThat;

import io.condense.proto.v1.CompressionServiceGrpc;
import io.condense.proto.v1.SubmitRequest;
import io.condense.proto.v1.events.BusEvent;
import io.condense.server.cli.CondenseClient;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.Callable;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Replicas under an orchestrator that restarts whatever exits: one Kafka broker process, 2 API and 3 worker processes
 * ({@code condense serve --role api|worker --kafka-bootstrap}, no --instance-id, one shared data folder). 4 clients
 * submit 200 jobs over both APIs, each with a client_request_id and retried with it on UNAVAILABLE / DEADLINE_EXCEEDED,
 * while a worker is kill -9'd every few seconds and the broker is restarted once. Judged from the events topic: every
 * job completed exactly once, none lost, one job per request id; every download's SHA-256 is its result id.
 */
class ChaosIT {
    private static final int JOBS = 200;
    private static final int CLIENTS = 4;
    private static final int WORKERS = 3;
    /** Each client submits one job this often, so that the submissions span the kills and the broker restart. */
    private static final Duration SUBMIT_INTERVAL = Duration.ofMillis(1000);
    private static final Duration KILL_INTERVAL = Duration.ofSeconds(4);
    private static final int MIN_KILLS = 4;
    private static final Duration BROKER_RESTART_AFTER = Duration.ofSeconds(20);
    private static final Duration CALL_DEADLINE = Duration.ofSeconds(15);
    /**
     * How long the broker stays away: longer than a Submit's deadline, so that Submits time out while their transaction
     * is open and are retried with the same client_request_id at the other API (the case that once made two jobs).
     */
    private static final Duration BROKER_DOWN = CALL_DEADLINE.plusSeconds(5);
    /** The whole test's limit (about 2.5 minutes on 2 quiet cores); past it, it fails saying what was still missing. */
    private static final Duration HARD_LIMIT = Duration.ofMinutes(8);
    private static final Set<Status.Code> RETRIABLE = Set.of(Status.Code.UNAVAILABLE, Status.Code.DEADLINE_EXCEEDED);

    private final long deadline = System.nanoTime() + HARD_LIMIT.toNanos();
    private final Path logs = Path.of("target", "chaos-logs").toAbsolutePath();
    private final AtomicInteger retries = new AtomicInteger();

    @Test
    void everyJobCompletesExactlyOnceThroughWorkerKillsAndABrokerRestart(@TempDir Path temp) throws Exception {
        long started = System.nanoTime();
        recreate(logs);
        Path data = Files.createDirectories(temp.resolve("data"));
        Path plugins = TestPlatform.quantizeAndSlowPlugins(temp.resolve("plugins"));
        int[] ports = freePorts(3);
        String bootstrap = "127.0.0.1:" + ports[0];
        List<SupervisedProcess> processes = new ArrayList<>();
        List<CondenseClient> apis = new ArrayList<>();
        try {
            SupervisedProcess broker = SupervisedProcess.start("broker",
                    () -> ServerProcess.broker(temp.resolve("kafka"), ports[0], logs.resolve("broker.log")));
            processes.add(broker);
            Map<String, Callable<ServerProcess>> replicas = new LinkedHashMap<>();
            for (int i = 1; i <= 2; i++) {
                List<String> arguments = List.of("--role", "api", "--kafka-bootstrap", bootstrap, "--grpc-port", Integer.toString(ports[i]));
                Path log = logs.resolve("api-" + i + ".log");
                replicas.put("api-" + i, () -> ServerProcess.start(data, plugins, log, ServerProcess.SMALL_JVM, arguments));
                apis.add(new CondenseClient("127.0.0.1:" + ports[i]));
            }
            for (int i = 1; i <= WORKERS; i++) {
                List<String> arguments = List.of("--role", "worker", "--kafka-bootstrap", bootstrap);
                Path log = logs.resolve("worker-" + i + ".log");
                // a kill -9 every 4 s can hit the rerun of a step it already killed: two such kills are not a poison job here
                // (the poison limit of 2 has its own tests, WorkerCrashIT and PoisonJobIT), so the workers allow three
                List<String> jvm = new java.util.ArrayList<>(ServerProcess.SMALL_JVM);
                jvm.add("-Dcondense.crash.limit=3");
                replicas.put("worker-" + i, () -> ServerProcess.start(data, plugins, log, jvm, arguments));
            }
            startTogether(replicas, processes);
            List<SupervisedProcess> workers = processes.stream().filter(p -> p.name().startsWith("worker-")).toList();
            System.out.printf("[ChaosIT] broker, 2 APIs and %d workers up after %d s%n", WORKERS, seconds(started));
            String model = apis.get(0).upload(TestEnvironment.mnist8()).getBlobId();

            Map<String, String> jobByRequest = new ConcurrentHashMap<>();
            ExecutorService clients = Executors.newFixedThreadPool(CLIENTS);
            List<Future<?>> submitting = new ArrayList<>();
            for (int c = 0; c < CLIENTS; c++) {
                int client = c;
                submitting.add(clients.submit(() -> {
                    submitJobs(client, model, apis, jobByRequest);
                    return null;
                }));
            }
            clients.shutdown();
            int kills = unleashChaos(clients, broker, workers);
            for (Future<?> future : submitting) {
                future.get(remaining(), TimeUnit.NANOSECONDS);
            }
            assertThat(jobByRequest).as("a job id for every request").hasSize(JOBS);
            System.out.printf("[ChaosIT] %d jobs submitted in %d s (%d retried calls), %d workers killed, broker restarted%n",
                    JOBS, seconds(started), retries.get(), kills);

            List<BusEvent> events = awaitTheEnd(bootstrap, jobByRequest);
            System.out.printf("[ChaosIT] all ended after %d s; %s%n", seconds(started),
                    processes.stream().map(p -> p.name() + " started " + p.starts() + "x").collect(Collectors.joining(", ")));
            processes.forEach(p -> p.exits().forEach(exit -> System.out.println("[ChaosIT] " + exit)));
            assertExactlyOnce(events, jobByRequest, apis);
            assertDownloadsMatchTheirResultIds(events, jobByRequest, apis, temp.resolve("downloads"));
        } finally {
            apis.forEach(CondenseClient::close);
            // the orchestrated processes first, the broker they use last
            for (int i = processes.size() - 1; i >= 0; i--) {
                processes.get(i).close();
            }
        }
    }

    /** Starts the replicas at once (each takes seconds to start); every one that started is in {@code processes}. */
    private static void startTogether(Map<String, Callable<ServerProcess>> replicas, List<SupervisedProcess> processes) throws Exception {
        ExecutorService starting = Executors.newFixedThreadPool(replicas.size());
        try {
            List<Future<SupervisedProcess>> started = new ArrayList<>();
            replicas.forEach((name, launcher) -> started.add(starting.submit(() -> SupervisedProcess.start(name, launcher))));
            Exception failure = null;
            for (Future<SupervisedProcess> future : started) {
                try {
                    processes.add(future.get());
                } catch (ExecutionException e) {
                    failure = e.getCause() instanceof Exception cause ? cause : e;
                }
            }
            if (failure != null) {
                throw failure;
            }
        } finally {
            starting.shutdown();
        }
    }

    /** One client: its share of the jobs, spread over both APIs, one every SUBMIT_INTERVAL. */
    private void submitJobs(int client, String model, List<CondenseClient> apis, Map<String, String> jobByRequest) throws InterruptedException {
        for (int i = client; i < JOBS; i += CLIENTS) {
            String requestId = "chaos-" + i;
            SubmitRequest request = SubmitRequest.newBuilder().setModelId(model)
                    .addSteps(step("slow", Map.of("seconds", "0.2")))
                    .addSteps(step("quantize", Map.of("bits", "8")))
                    .setSkipEvaluation(true)
                    .setClientRequestId(requestId)
                    .build();
            jobByRequest.put(requestId, submitWithRetries(request, apis, i));
            Thread.sleep(SUBMIT_INTERVAL.toMillis());
        }
    }

    /** As a real client does: the same request (and request id) again on UNAVAILABLE or DEADLINE_EXCEEDED, at the other API. */
    private String submitWithRetries(SubmitRequest request, List<CondenseClient> apis, int first) throws InterruptedException {
        long backoff = 100;
        for (int attempt = first; ; attempt++) {
            CondenseClient api = apis.get(attempt % apis.size());
            try {
                return CompressionServiceGrpc.newBlockingStub(api.channel())
                        .withDeadlineAfter(CALL_DEADLINE.toMillis(), TimeUnit.MILLISECONDS).submit(request).getJobId();
            } catch (StatusRuntimeException e) {
                if (!RETRIABLE.contains(e.getStatus().getCode()) || remaining() <= 0) {
                    throw new AssertionError("Submit of " + request.getClientRequestId() + " failed: " + e.getStatus() + " (logs: " + logs + ")", e);
                }
                retries.incrementAndGet();
                api.channel().resetConnectBackoff();
                Thread.sleep(backoff);
                backoff = Math.min(2000, backoff * 2);
            }
        }
    }

    /**
     * While the clients submit (and until there were MIN_KILLS kills and the broker restart): every KILL_INTERVAL, kill -9
     * a worker that is up, in turn, unless it is the last one up (its supervisor restarts it); the broker is stopped once,
     * BROKER_RESTART_AFTER in, and started again by its supervisor.
     */
    private int unleashChaos(ExecutorService clients, SupervisedProcess broker, List<SupervisedProcess> workers) throws InterruptedException {
        long chaosStarted = System.nanoTime();
        boolean brokerRestarted = false;
        int kills = 0;
        int next = 0;
        while (!(clients.awaitTermination(KILL_INTERVAL.toMillis(), TimeUnit.MILLISECONDS) && brokerRestarted && kills >= MIN_KILLS)) {
            if (remaining() <= 0) {
                throw new AssertionError("the chaos did not end within " + HARD_LIMIT + " (" + kills + " kills, broker restarted: "
                        + brokerRestarted + "); server logs in " + logs);
            }
            if (!brokerRestarted && System.nanoTime() - chaosStarted > BROKER_RESTART_AFTER.toNanos()) {
                broker.stop(BROKER_DOWN);
                brokerRestarted = true;
                System.out.printf("[ChaosIT] broker stopped after %d s of chaos; its supervisor starts it again %d s later%n",
                        seconds(chaosStarted), BROKER_DOWN.toSeconds());
            }
            // no kill while the broker is away: every step then waits in its commit, and killing those would count as a
            // crash of each of them (two crashes of one step fail its job as poison, StepAttempts.CRASH_LIMIT)
            if (broker.alive() && workers.stream().filter(SupervisedProcess::alive).count() > 1) {
                // the next worker in turn that is up
                for (int tried = 0; tried < workers.size(); tried++) {
                    SupervisedProcess worker = workers.get(next);
                    next = (next + 1) % workers.size();
                    if (worker.kill()) {
                        kills++;
                        break;
                    }
                }
            }
        }
        return kills;
    }

    /** The events topic once the job of every request id (its first JobSubmitted) has its final event, or the hard limit says what is missing. */
    private List<BusEvent> awaitTheEnd(String bootstrap, Map<String, String> jobByRequest) throws Exception {
        while (true) {
            List<BusEvent> events = new ArrayList<>();
            for (ConsumerRecord<String, byte[]> record : TopicRecords.read(bootstrap, "condense.events")) {
                events.add(BusEvent.parseFrom(record.value()));
            }
            Map<String, List<String>> submitted = jobsByRequest(events);
            Set<String> ended = events.stream().filter(e -> e.hasJobCompleted() || e.hasJobFailed() || e.hasJobCancelled())
                    .map(BusEvent::getJobId).collect(Collectors.toSet());
            List<String> open = jobByRequest.keySet().stream()
                    .filter(request -> !submitted.containsKey(request) || !ended.contains(submitted.get(request).get(0))).sorted().toList();
            if (open.isEmpty()) {
                return events;
            }
            if (remaining() <= 0) {
                throw new AssertionError("the jobs of " + open.size() + " request ids did not end within " + HARD_LIMIT + ", e.g. "
                        + open.subList(0, Math.min(5, open.size())) + "; server logs in " + logs + ": " + logFiles());
            }
            Thread.sleep(2000);
        }
    }

    /** The job ids of each request id's JobSubmitted events, in the topic's order: the first is the request's job. */
    private static Map<String, List<String>> jobsByRequest(List<BusEvent> events) {
        Map<String, List<String>> jobs = new HashMap<>();
        for (BusEvent event : events) {
            if (event.hasJobSubmitted()) {
                jobs.computeIfAbsent(event.getJobSubmitted().getSpec().getClientRequestId(), k -> new ArrayList<>()).add(event.getJobId());
            }
        }
        return jobs;
    }

    /**
     * Exactly once: the first JobSubmitted of each request id completed once, nothing failed or was cancelled; a later
     * JobSubmitted of the same request id (a retry whose first attempt's transaction was still open) never ran a step;
     * the id Submit answered is one of the request's; it answers as the first job through either API.
     */
    private static void assertExactlyOnce(List<BusEvent> events, Map<String, String> jobByRequest, List<CondenseClient> apis) {
        Map<String, List<String>> jobsByRequest = jobsByRequest(events);
        Map<String, Long> completions = new HashMap<>();
        Set<String> started = new java.util.HashSet<>();
        List<String> failedOrCancelled = new ArrayList<>();
        for (BusEvent event : events) {
            if (event.hasJobCompleted()) {
                completions.merge(event.getJobId(), 1L, Long::sum);
            } else if (event.hasStepStarted()) {
                started.add(event.getJobId());
            } else if (event.hasJobFailed() || event.hasJobCancelled()) {
                failedOrCancelled.add(event.getJobId() + ": " + (event.hasJobFailed() ? event.getJobFailed().getError() : "cancelled"));
            }
        }
        assertThat(failedOrCancelled).as("jobs failed or cancelled").isEmpty();
        assertThat(jobsByRequest.keySet()).as("request ids with a JobSubmitted").isEqualTo(jobByRequest.keySet());
        Map<String, String> firstJobs = jobsByRequest.entrySet().stream().collect(Collectors.toMap(Map.Entry::getKey, e -> e.getValue().get(0)));
        List<String> duplicates = jobsByRequest.values().stream().flatMap(ids -> ids.stream().skip(1)).toList();
        System.out.printf("[ChaosIT] %d later JobSubmitted of a request id already submitted (retries of a Submit whose transaction was "
                + "still open): %s%n", duplicates.size(), duplicates);
        assertThat(completions).as("a JobCompleted for the job of every request id, none for a duplicate").containsOnlyKeys(firstJobs.values());
        assertThat(completions.values()).as("JobCompleted events per job").containsOnly(1L);
        assertThat(duplicates.stream().filter(started::contains).toList()).as("duplicates that ran a step").isEmpty();
        int n = 0;
        for (Map.Entry<String, String> answered : jobByRequest.entrySet()) {
            assertThat(jobsByRequest.get(answered.getKey())).as("the id Submit answered for %s is one of its jobs", answered.getKey())
                    .contains(answered.getValue());
            String jobId = apis.get(n++ % apis.size()).job(answered.getValue()).getJobId();
            assertThat(jobId).as("the job %s answers as", answered.getValue()).isEqualTo(firstJobs.get(answered.getKey()));
        }
    }

    /** Each request's download, by the job id Submit answered and through either API, is its job's result. */
    private static void assertDownloadsMatchTheirResultIds(List<BusEvent> events, Map<String, String> jobByRequest, List<CondenseClient> apis,
            Path folder) throws Exception {
        Files.createDirectories(folder);
        Map<String, String> firstJobs = jobsByRequest(events).entrySet().stream().collect(Collectors.toMap(Map.Entry::getKey, e -> e.getValue().get(0)));
        Map<String, String> results = events.stream().filter(BusEvent::hasJobCompleted)
                .collect(Collectors.toMap(BusEvent::getJobId, e -> e.getJobCompleted().getResultModelId()));
        int n = 0;
        for (Map.Entry<String, String> answered : jobByRequest.entrySet()) {
            Path file = folder.resolve(answered.getValue() + ".onnx");
            apis.get(n++ % apis.size()).downloadResult(answered.getValue(), file);
            String sha256 = HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(Files.readAllBytes(file)));
            assertThat(sha256).as("SHA-256 of the download of %s (job %s)", answered.getKey(), answered.getValue())
                    .isEqualTo(results.get(firstJobs.get(answered.getKey())));
            Files.delete(file);
        }
        assertThat(n).isEqualTo(JOBS);
    }

    private long remaining() {
        return deadline - System.nanoTime();
    }

    private static long seconds(long since) {
        return (System.nanoTime() - since) / 1_000_000_000L;
    }

    private String logFiles() throws IOException {
        try (Stream<Path> files = Files.list(logs)) {
            return files.map(Path::toString).sorted().collect(Collectors.joining(", "));
        }
    }

    private static void recreate(Path folder) throws IOException {
        if (Files.isDirectory(folder)) {
            try (Stream<Path> files = Files.list(folder)) {
                for (Path file : files.toList()) {
                    Files.delete(file);
                }
            }
        }
        Files.createDirectories(folder);
    }

    /** Distinct free loopback ports, all held open together so none is handed out twice. */
    private static int[] freePorts(int count) throws IOException {
        List<ServerSocket> sockets = new ArrayList<>();
        try {
            int[] ports = new int[count];
            for (int i = 0; i < count; i++) {
                ServerSocket socket = new ServerSocket();
                sockets.add(socket);
                socket.bind(new InetSocketAddress("127.0.0.1", 0));
                ports[i] = socket.getLocalPort();
            }
            return ports;
        } finally {
            for (ServerSocket socket : sockets) {
                socket.close();
            }
        }
    }
}
