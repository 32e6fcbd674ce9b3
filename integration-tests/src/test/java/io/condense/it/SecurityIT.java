package io.condense.it;

import static io.condense.it.Jobs.step;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.condense.proto.v1.JobState;
import io.condense.proto.v1.SubmitRequest;
import io.condense.server.bus.EmbeddedKafka;
import io.condense.server.cli.ClientSecurity;
import io.condense.server.cli.CondenseClient;
import io.condense.server.cli.CondenseCommand;
import io.condense.server.platform.CondensePlatform;
import io.condense.server.platform.PlatformConfig;
import io.condense.server.platform.Role;
import io.condense.server.security.ApiSecurity;
import io.condense.server.security.TokenAuthenticator;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.health.v1.HealthCheckRequest;
import io.grpc.health.v1.HealthCheckResponse.ServingStatus;
import io.grpc.health.v1.HealthGrpc;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The API behind mutual TLS and bearer tokens, with certificates made by openssl for this test: a plaintext client, a
 * TLS client without a certificate, a client without a token or with an unknown one are all refused; the right
 * certificate and token are served, through the Java client and the command line.
 */
class SecurityIT {
    private static final String TOKEN = "team-a-secret-" + System.nanoTime();
    private static final String TOKEN_B = "team-b-secret-" + System.nanoTime();
    private static final String TOKEN_C = "team-c-secret-" + System.nanoTime();

    private static Path folder;
    private static EmbeddedKafka kafka;
    private static CondensePlatform platform;

    @BeforeAll
    static void start() throws Exception {
        folder = Files.createTempDirectory("condense-security-");
        makeCertificates(folder);
        Path tokens = folder.resolve("tokens");
        Files.writeString(tokens, "# team A\nsha256:" + TokenAuthenticator.hash(TOKEN) + " team-a\n"
                + "sha256:" + TokenAuthenticator.hash(TOKEN_B) + " team-b\n"
                + "sha256:" + TokenAuthenticator.hash(TOKEN_C) + " team-c jobs=1 stored=40KiB blob=30KiB\n", StandardCharsets.UTF_8);
        Path plugins = Files.createDirectories(folder.resolve("plugins"));
        TestPlugins.build("slow", "slow", "1.0.0", ">=0.1.0", plugins.resolve("slow-plugin-1.0.0.jar"));
        kafka = EmbeddedKafka.start(folder.resolve("kafka"));
        platform = CondensePlatform.start(new PlatformConfig("127.0.0.1", 0, -1, Optional.of(kafka.bootstrapServers()),
                Files.createDirectories(folder.resolve("data")), plugins, Role.ALL, Optional.empty(), 64L << 20, 2, 1)
                .withSecurity(new ApiSecurity(Optional.of(folder.resolve("server.pem")), Optional.of(folder.resolve("server.key")),
                        Optional.of(folder.resolve("ca.pem")), Optional.of(tokens)).withoutReflection()));
    }

    @AfterAll
    static void stop() {
        if (platform != null) {
            platform.close();
        }
        if (kafka != null) {
            kafka.close();
        }
    }

    private static ClientSecurity mutualTls(Optional<String> token) {
        return new ClientSecurity(Optional.of(folder.resolve("ca.pem")), Optional.of(folder.resolve("client.pem")),
                Optional.of(folder.resolve("client.key")), token);
    }

    private static Status.Code refusal(ClientSecurity security) {
        try (CondenseClient client = new CondenseClient(platform.grpcTarget(), security)) {
            client.techniques();
            throw new AssertionError("the call was served");
        } catch (StatusRuntimeException e) {
            return e.getStatus().getCode();
        }
    }

    @Test
    void withoutTheRightCertificateAndTokenNothingIsServed() {
        assertThat(refusal(ClientSecurity.NONE)).as("plaintext").isEqualTo(Status.Code.UNAVAILABLE);
        assertThat(refusal(ClientSecurity.token(TOKEN))).as("plaintext with the token").isEqualTo(Status.Code.UNAVAILABLE);
        assertThat(refusal(new ClientSecurity(Optional.of(folder.resolve("ca.pem")), Optional.empty(), Optional.empty(), Optional.of(TOKEN))))
                .as("TLS without a client certificate").isEqualTo(Status.Code.UNAVAILABLE);
        assertThat(refusal(mutualTls(Optional.empty()))).as("no token").isEqualTo(Status.Code.UNAUTHENTICATED);
        assertThat(refusal(mutualTls(Optional.of("guessed")))).as("an unknown token").isEqualTo(Status.Code.UNAUTHENTICATED);
    }

    @Test
    void theRightCertificateAndTokenAreServed() throws Exception {
        try (CondenseClient client = new CondenseClient(platform.grpcTarget(), mutualTls(Optional.of(TOKEN)))) {
            assertThat(client.techniques().getTechniquesList()).extracting(info -> info.getId()).contains("slow");
            String model = client.upload(TestEnvironment.mnist8()).getBlobId();
            String jobId = client.submit(SubmitRequest.newBuilder().setModelId(model).addSteps(step("slow", Map.of("seconds", "0"))).build())
                    .getJobId();
            assertThat(client.jobs(10, JobState.JOB_STATE_UNSPECIFIED)).extracting(job -> job.getJobId()).contains(jobId);
        }
        // reflection was turned off (--no-reflection)
        try (CondenseClient client = new CondenseClient(platform.grpcTarget(), mutualTls(Optional.of(TOKEN)))) {
            java.util.concurrent.CompletableFuture<Throwable> failure = new java.util.concurrent.CompletableFuture<>();
            io.grpc.stub.StreamObserver<io.grpc.reflection.v1.ServerReflectionRequest> requests = io.grpc.reflection.v1.ServerReflectionGrpc
                    .newStub(client.channel()).serverReflectionInfo(new io.grpc.stub.StreamObserver<>() {
                        @Override
                        public void onNext(io.grpc.reflection.v1.ServerReflectionResponse value) {
                            failure.complete(null);
                        }

                        @Override
                        public void onError(Throwable t) {
                            failure.complete(t);
                        }

                        @Override
                        public void onCompleted() {
                            failure.complete(null);
                        }
                    });
            requests.onNext(io.grpc.reflection.v1.ServerReflectionRequest.newBuilder().setListServices("").build());
            assertThat(Status.fromThrowable(failure.get(30, TimeUnit.SECONDS)).getCode()).isEqualTo(Status.Code.UNIMPLEMENTED);
            requests.onCompleted();
        }
        // health answers probes without a token (still over mutual TLS)
        try (CondenseClient client = new CondenseClient(platform.grpcTarget(), mutualTls(Optional.empty()))) {
            assertThat(HealthGrpc.newBlockingStub(client.channel()).withDeadlineAfter(10, TimeUnit.SECONDS)
                    .check(HealthCheckRequest.getDefaultInstance()).getStatus()).isEqualTo(ServingStatus.SERVING);
        }
    }

    @Test
    void anotherTenantSeesNothingOfTeamAs(@org.junit.jupiter.api.io.TempDir Path temp) throws Exception {
        try (CondenseClient teamA = new CondenseClient(platform.grpcTarget(), mutualTls(Optional.of(TOKEN)));
                CondenseClient teamB = new CondenseClient(platform.grpcTarget(), mutualTls(Optional.of(TOKEN_B)))) {
            String model = teamA.upload(TestEnvironment.mnist8()).getBlobId();
            SubmitRequest request = SubmitRequest.newBuilder().setModelId(model).addSteps(step("slow", Map.of("seconds", "0")))
                    .setSkipEvaluation(true).setClientRequestId("nightly-build-1").build();
            String jobA = teamA.submit(request).getJobId();
            org.awaitility.Awaitility.await().atMost(java.time.Duration.ofSeconds(120))
                    .until(() -> teamA.job(jobA).getState() == JobState.JOB_STATE_COMPLETED);
            String resultId = teamA.job(jobA).getResultModelId();
            assertThat(teamA.downloadBlob(resultId)).isNotEmpty();

            // B knows A's job id, model id and result id, and still gets NOT_FOUND for each
            for (org.assertj.core.api.ThrowableAssert.ThrowingCallable call : List.<org.assertj.core.api.ThrowableAssert.ThrowingCallable>of(
                    () -> teamB.job(jobA), () -> teamB.cancel(jobA), () -> teamB.watch(jobA, event -> { }),
                    () -> teamB.downloadResult(jobA, temp.resolve("stolen.onnx")), () -> teamB.downloadBlob(model),
                    () -> teamB.downloadBlob(resultId),
                    () -> teamB.submit(request.toBuilder().setClientRequestId("").build()))) {
                assertThatThrownBy(call).isInstanceOfSatisfying(StatusRuntimeException.class,
                        e -> assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.NOT_FOUND));
            }
            assertThat(temp.resolve("stolen.onnx")).doesNotExist();
            assertThat(teamB.jobs(100, JobState.JOB_STATE_UNSPECIFIED)).extracting(job -> job.getJobId()).doesNotContain(jobA);

            // B's own upload of the same bytes is B's; the same request id names another job, B's own
            assertThat(teamB.upload(TestEnvironment.mnist8()).getBlobId()).isEqualTo(model);
            assertThat(teamB.downloadBlob(model)).hasSize((int) Files.size(TestEnvironment.mnist8()));
            String jobB = teamB.submit(request).getJobId();
            assertThat(jobB).isNotEqualTo(jobA);
            assertThat(teamA.job(jobA).getState()).as("A's job untouched").isEqualTo(JobState.JOB_STATE_COMPLETED);
            assertThat(teamB.jobs(100, JobState.JOB_STATE_UNSPECIFIED)).extracting(job -> job.getJobId()).containsExactly(jobB);
        }
    }

    @Test
    void aTenantStaysWithinTheLimitsOfItsTokensLine() throws Exception {
        try (CondenseClient teamC = new CondenseClient(platform.grpcTarget(), mutualTls(Optional.of(TOKEN_C)))) {
            String model = teamC.upload(TestEnvironment.mnist8()).getBlobId(); // 26,454 bytes of the 40 KiB
            assertThatThrownBy(() -> teamC.upload(new byte[20_000])).isInstanceOfSatisfying(StatusRuntimeException.class, e -> {
                assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.RESOURCE_EXHAUSTED);
                assertThat(e.getStatus().getDescription()).contains("tenant team-c holds").contains("limit of 40960 bytes");
            });
            assertThat(teamC.upload(new byte[1_000]).getBlobId()).as("a small one still fits").isNotEmpty();
            assertThatThrownBy(() -> teamC.upload(new byte[35_000])).isInstanceOfSatisfying(StatusRuntimeException.class, e -> {
                assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.RESOURCE_EXHAUSTED);
                assertThat(e.getStatus().getDescription()).contains("larger than the 30720 bytes tenant team-c may send in one upload");
            });

            SubmitRequest slow = SubmitRequest.newBuilder().setModelId(model).addSteps(step("slow", Map.of("seconds", "60")))
                    .setSkipEvaluation(true).build();
            String first = teamC.submit(slow).getJobId();
            assertThatThrownBy(() -> teamC.submit(slow)).isInstanceOfSatisfying(StatusRuntimeException.class, e -> {
                assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.RESOURCE_EXHAUSTED);
                assertThat(e.getStatus().getDescription()).contains("tenant team-c has 1 jobs queued or running");
            });
            teamC.cancel(first);
            org.awaitility.Awaitility.await().atMost(java.time.Duration.ofSeconds(120))
                    .until(() -> teamC.job(first).getState() == JobState.JOB_STATE_CANCELLED);
            String second = teamC.submit(slow.toBuilder().setSteps(0, step("slow", Map.of("seconds", "0"))).build()).getJobId();
            assertThat(second).isNotEqualTo(first);
        }
        // another tenant's limits are its own
        try (CondenseClient teamA = new CondenseClient(platform.grpcTarget(), mutualTls(Optional.of(TOKEN)))) {
            assertThat(teamA.upload(new byte[50_000]).getBlobId()).isNotEmpty();
        }
    }

    @Test
    void theCommandLineTakesTheCaTheClientCertificateAndTheToken() {
        List<String> tls = List.of("--server", platform.grpcTarget(), "--tls-ca", folder.resolve("ca.pem").toString(),
                "--tls-cert", folder.resolve("client.pem").toString(), "--tls-key", folder.resolve("client.key").toString());
        String[] withToken = concat(List.of("techniques"), tls, List.of("--token", TOKEN));
        assertThat(run(withToken)).isZero();
        assertThat(run(concat(List.of("jobs"), tls, List.of("--token", TOKEN)))).isZero();
        assertThat(run(concat(List.of("jobs"), tls, List.of("--token", "wrong"))))
                .as("a wrong token is bad input, not an unavailable server").isEqualTo(2);
    }

    @Test
    void thePythonAndNodeClientsTakeTheCaTheClientCertificateAndTheToken(@org.junit.jupiter.api.io.TempDir Path temp) {
        for (ForeignClient foreign : List.of(ForeignClient.python(), ForeignClient.node())) {
            foreign.checkInstalled(temp);
            List<String> arguments = new java.util.ArrayList<>(List.of("--server", platform.grpcTarget(),
                    "--proto-dir", ForeignClient.protoFolder().toString(), "--model", TestEnvironment.mnist8().toAbsolutePath().toString(),
                    "--output", temp.resolve(foreign.language() + ".onnx").toString(), "--timeout", "120",
                    "--tls-ca", folder.resolve("ca.pem").toString(), "--tls-cert", folder.resolve("client.pem").toString(),
                    "--tls-key", folder.resolve("client.key").toString(), "--step", "slow", "seconds=0"));
            ForeignClient.Run refused = foreign.run(arguments, temp, java.time.Duration.ofMinutes(3));
            assertThat(refused.exitCode()).as("without a token: %s", refused).isNotZero();
            assertThat(refused.stderr()).as(refused.toString()).contains("UNAUTHENTICATED");

            arguments.addAll(List.of("--token", TOKEN));
            ForeignClient.Run served = foreign.run(arguments, temp, java.time.Duration.ofMinutes(3));
            assertThat(served.exitCode()).as("with the token: %s", served).isZero();
            assertThat(served.summary()).as(served.toString()).containsEntry("state", "JOB_STATE_COMPLETED");
            assertThat(temp.resolve(foreign.language() + ".onnx")).isRegularFile();
        }
    }

    private static int run(String... arguments) {
        return CondenseCommand.commandLine(arguments).execute(arguments);
    }

    private static String[] concat(List<String> first, List<String> second, List<String> third) {
        return java.util.stream.Stream.of(first, second, third).flatMap(List::stream).toArray(String[]::new);
    }

    /** A CA, a server certificate for 127.0.0.1 and a client certificate, both signed by the CA (PKCS#8 keys). */
    private static void makeCertificates(Path folder) throws IOException, InterruptedException {
        Files.writeString(folder.resolve("san.ext"), "subjectAltName=IP:127.0.0.1,DNS:localhost\n");
        openssl(folder, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=condense-test-ca");
        openssl(folder, "req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=localhost");
        openssl(folder, "x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-out", "server.pem",
                "-days", "2", "-extfile", "san.ext");
        openssl(folder, "req", "-newkey", "rsa:2048", "-nodes", "-keyout", "client.key", "-out", "client.csr", "-subj", "/CN=condense-client");
        openssl(folder, "x509", "-req", "-in", "client.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-out", "client.pem",
                "-days", "2");
    }

    private static void openssl(Path folder, String... arguments) throws IOException, InterruptedException {
        List<String> command = new java.util.ArrayList<>(List.of("openssl"));
        command.addAll(List.of(arguments));
        Process process = new ProcessBuilder(command).directory(folder.toFile()).redirectErrorStream(true).start();
        String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (!process.waitFor(60, TimeUnit.SECONDS) || process.exitValue() != 0) {
            throw new IllegalStateException("openssl " + String.join(" ", arguments) + " failed (install openssl): " + output);
        }
    }
}
