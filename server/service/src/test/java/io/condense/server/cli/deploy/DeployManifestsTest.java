package io.condense.server.cli.deploy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assertions.fail;

import io.condense.server.cli.ServeSettings;
import io.condense.server.platform.Role;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Checks every manifest in deploy/ against the real options of {@code condense serve} and what running it for a team
 * needs: TLS and tokens from Secrets, probes, resources, restarts, no shared instance id.
 */
class DeployManifestsTest {
    private static final Path DEPLOY = Path.of(System.getProperty("condense.deploy.dir", "../../deploy"));

    @Test
    void composeFileRunsApiAndWorkersAsATeamWould() throws IOException {
        List<ServeContainer> containers = ComposeManifest.containers(read("docker-compose.yml"), line -> "deploy/docker-compose.yml:" + line);

        assertThat(roles(containers)).containsExactlyInAnyOrder(Role.API, Role.WORKER);
        assertThat(ManifestCheck.problems(containers)).isEmpty();
    }

    @Test
    void kubernetesManifestRunsApiAndWorkersAsATeamWould() throws IOException {
        List<ServeContainer> containers = KubernetesManifests.containers(read("kubernetes/condense.yaml"),
                line -> "deploy/kubernetes/condense.yaml:" + line);

        assertThat(roles(containers)).containsExactlyInAnyOrder(Role.API, Role.WORKER);
        assertThat(ManifestCheck.problems(containers)).isEmpty();
    }

    @Test
    void imageDefaultCommandIsAcceptedAndKeepsToLoopback() throws IOException {
        List<String> lines = Files.readAllLines(DEPLOY.resolve("Dockerfile"));
        List<ServeContainer> containers = new ArrayList<>();
        for (int i = 0; i < lines.size(); i++) {
            if (lines.get(i).startsWith("CMD ")) {
                int line = i + 1;
                // the exec form of CMD is a JSON array, which YAML reads too
                List<ServeContainer.Argument> command = YamlNode.documents(lines.get(i).substring(4)).get(0).items().stream()
                        .map(word -> new ServeContainer.Argument(word.text(), line)).toList();
                assertThat(command).first().extracting(ServeContainer.Argument::value).isEqualTo("serve");
                containers.add(new ServeContainer("condense", line, at -> "deploy/Dockerfile:" + at, command.subList(1, command.size()),
                        new ServeContainer.Workload("image", "condense:dev", 1, false, false, List.of()), List.of(), List.of(), false));
            }
        }

        assertThat(containers).hasSize(1);
        assertThat(ManifestCheck.problems(containers)).isEmpty();
    }

    static Stream<Arguments> chartValues() {
        return Stream.of(
                Arguments.of(Map.of()),
                Arguments.of(Map.of("tls.clientCaSecret", "condense-client-ca", "kafka.clientConfigSecret", "condense-kafka-client",
                        "api.replicas", "3", "worker.replicas", "4", "api.reflection", "true", "image.pullSecrets[0]", "registry",
                        "worker.nodeSelector.pool", "large")));
    }

    @ParameterizedTest
    @MethodSource("chartValues")
    void helmChartRendersApiAndWorkersAsATeamWould(Map<String, String> values) {
        HelmChart.Rendered rendered = chart().render(values);
        List<ServeContainer> containers = KubernetesManifests.containers(rendered.yaml(), rendered.where());

        assertThat(roles(containers)).containsExactlyInAnyOrder(Role.API, Role.WORKER);
        assertThat(ManifestCheck.problems(containers)).isEmpty();
        assertThat(YamlNode.documents(rendered.yaml())).extracting(document -> document.text("kind")).contains("Service", "PersistentVolumeClaim");
    }

    @Test
    void helmChartWithoutTlsProbesGrpcHealthAndIsOnlyRefusedForPlaintext() {
        // tls.enabled=false is for a service mesh that terminates TLS in front of the pods: the check still says so
        HelmChart.Rendered rendered = chart().render(Map.of("tls.enabled", "false"));
        List<ServeContainer> containers = KubernetesManifests.containers(rendered.yaml(), rendered.where());

        assertThat(containers).filteredOn(container -> container.workload().name().endsWith("-api")).singleElement()
                .extracting(ServeContainer::probes).asList().hasSize(3)
                .allSatisfy(probe -> assertThat(((ServeContainer.Probe) probe).type()).isEqualTo("grpc"));
        assertThat(ManifestCheck.problems(containers)).singleElement().asString()
                .contains("deploy/helm/condense/templates/api-deployment.yaml", "in plaintext");
    }

    @Test
    void helmChartPassesStrictLint() {
        assertThat(chart().lint()).contains("0 chart(s) failed");
    }

    @Test
    void helmChartRefusesTlsWithoutASecret() {
        assertThat(org.assertj.core.api.Assertions.catchThrowable(() -> chart().render(Map.of("tls.secretName", ""))))
                .hasMessageContaining("tls.secretName");
    }

    // what the check catches: each of these is a mistake a manifest could make

    @Test
    void unknownOptionIsNamedWithItsLine() {
        assertThat(problems(deployment(1, "\"--role\", \"worker\", \"--tls-certificate\", \"/etc/x.pem\"", "", WORKER_PROBES, RESOURCES)))
                .singleElement().asString().contains("snippet.yaml:20", "Unknown options: '--tls-certificate', '/etc/x.pem'");
    }

    @Test
    void optionWithoutItsValueIsRefused() {
        assertThat(problems(deployment(1, "\"--role\", \"worker\", \"--metrics-port\"", "", WORKER_PROBES, RESOURCES)))
                .singleElement().asString().contains("snippet.yaml:20", "Missing required parameter for option '--metrics-port'");
    }

    @Test
    void valueTheOptionRefusesIsNamed() {
        assertThat(problems(deployment(1, "\"--role\", \"worker\", \"--worker-threads\", \"two\"", "", WORKER_PROBES, RESOURCES)))
                .singleElement().asString().contains("snippet.yaml:20", "Invalid value for option '--worker-threads': 'two' is not an int");
        assertThat(problems(deployment(1, "\"--role\", \"workers\"", "", WORKER_PROBES, RESOURCES)))
                .singleElement().asString().contains("snippet.yaml:20", "Unknown role 'workers'");
    }

    @Test
    void combinationsServeRefusesAtStartAreRefused() {
        assertThat(problems(deployment(1, "\"--role\", \"worker\", \"--kafka-port\", \"9092\"", "", WORKER_PROBES, RESOURCES)))
                .singleElement().asString().contains("snippet.yaml:20", "--kafka-port sets the embedded broker's port");
        assertThat(problems(deployment(1, "\"--role\", \"api\", \"--tls-client-ca\", \"/t/ca.crt\"", "", API_GRPC_PROBES, RESOURCES)))
                .singleElement().asString().contains("snippet.yaml:20", "--tls-client-ca (mutual TLS) needs --tls-cert and --tls-key");
    }

    @Test
    void processesThatShouldShareAClusterWithoutKafkaBootstrapAreRefused() {
        String compose = """
                services:
                  api:
                    image: condense:dev
                    restart: always
                    command: serve --role api
                    healthcheck: {test: ["CMD", "curl", "-fsS", "http://127.0.0.1:9464/health"]}
                    deploy: {resources: {limits: {memory: 1G}}}
                """;
        assertThat(ManifestCheck.problems(ComposeManifest.containers(compose, line -> "compose.yml:" + line)))
                .singleElement().asString().contains("compose.yml:3", "no --kafka-bootstrap");
    }

    @Test
    void sharedInstanceIdOnAReplicatedDeploymentIsRefused() {
        assertThat(problems(deployment(2, "\"--role\", \"worker\", \"--instance-id\", \"worker-1\"", "", WORKER_PROBES, RESOURCES)))
                .singleElement().asString().contains("snippet.yaml:20", "--instance-id on a Deployment of 2 replica(s)");
    }

    @Test
    void plaintextApiBeyondLoopbackIsRefused() {
        assertThat(problems(deployment(1, "\"--role\", \"api\", \"--host\", \"0.0.0.0\"", "", API_GRPC_PROBES, RESOURCES)))
                .anySatisfy(problem -> assertThat(problem).contains("snippet.yaml:20", "in plaintext"))
                .anySatisfy(problem -> assertThat(problem).contains("without --auth-tokens"));
    }

    @Test
    void filesTheServerReadsMustBeMountedFromASecret() {
        String arguments = "\"--role\", \"api\", \"--host\", \"0.0.0.0\", \"--tls-cert\", \"/etc/condense/tls/tls.crt\", "
                + "\"--tls-key\", \"/etc/condense/tls/tls.key\", \"--auth-tokens\", \"/etc/condense/auth/tokens\"";
        String mounts = """
                          volumeMounts:
                            - {name: tls, mountPath: /etc/condense/tls}
                            - {name: auth, mountPath: /etc/condense/auth}
                      volumes:
                        - name: tls
                          secret: {secretName: condense-tls, items: [{key: tls.crt, path: tls.crt}]}
                        - name: auth
                          configMap: {name: condense-tokens}
                """;
        assertThat(problems(deployment(1, arguments, mounts, API_HTTP_PROBES, RESOURCES)))
                .anySatisfy(problem -> assertThat(problem).contains("--tls-key /etc/condense/tls/tls.key", "holds only [tls.crt]"))
                .anySatisfy(problem -> assertThat(problem).contains("--auth-tokens /etc/condense/auth/tokens", "not a Secret"))
                .hasSize(2);
        assertThat(problems(deployment(1, arguments, "", API_HTTP_PROBES, RESOURCES)))
                .allSatisfy(problem -> assertThat(problem).contains("no volume is mounted there")).hasSize(3);
    }

    @Test
    void probesMustAskHealthWhereTheProcessAnswersIt() {
        assertThat(problems(deployment(1, "\"--role\", \"api\"", "", "", RESOURCES)))
                .anySatisfy(problem -> assertThat(problem).contains("no readinessProbe (gRPC health on port 50051"))
                .anySatisfy(problem -> assertThat(problem).contains("no livenessProbe"));
        assertThat(problems(deployment(1, "\"--role\", \"worker\"", "", API_GRPC_PROBES, RESOURCES)))
                .anySatisfy(problem -> assertThat(problem).contains("a worker serves no gRPC"));
        assertThat(problems(deployment(1, "\"--role\", \"api\", \"--tls-cert\", \"/t/c\", \"--tls-key\", \"/t/k\"",
                "          volumeMounts: [{name: t, mountPath: /t}]\n      volumes: [{name: t, secret: {secretName: s}}]\n",
                API_GRPC_PROBES, RESOURCES)))
                .anySatisfy(problem -> assertThat(problem).contains("serves TLS only"));
        assertThat(problems(deployment(1, "\"--role\", \"worker\", \"--metrics-port\", \"9000\"", "", WORKER_PROBES, RESOURCES)))
                .anySatisfy(problem -> assertThat(problem).contains("asks GET /health on port 9464", "metrics port 9000"));
        assertThat(problems(deployment(1, "\"--role\", \"worker\"", "", WORKER_PROBES, "")))
                .singleElement().asString().contains("no memory request and limit");
    }

    @Test
    void composeServiceMustRestartAndCheckHealth() {
        String compose = """
                services:
                  worker:
                    image: condense:dev
                    command: serve --role worker --kafka-bootstrap kafka:9092
                """;
        assertThat(ManifestCheck.problems(ComposeManifest.containers(compose, line -> "compose.yml:" + line)))
                .anySatisfy(problem -> assertThat(problem).contains("compose.yml:3", "no healthcheck"))
                .anySatisfy(problem -> assertThat(problem).contains("nothing restarts it"))
                .anySatisfy(problem -> assertThat(problem).contains("no memory request and limit"));
    }

    private static final String RESOURCES = """
                      resources:
                        requests: {cpu: "1", memory: 2Gi}
                        limits: {memory: 2Gi}
            """;
    private static final String WORKER_PROBES = """
                      readinessProbe: {httpGet: {path: /health, port: metrics}}
                      livenessProbe: {httpGet: {path: /health, port: 9464}}
            """;
    private static final String API_HTTP_PROBES = WORKER_PROBES;
    private static final String API_GRPC_PROBES = """
                      readinessProbe: {grpc: {port: 50051}}
                      livenessProbe: {grpc: {port: 50051}}
            """;

    /** A Deployment whose container runs {@code serve} with these arguments; the arguments are on line 20. */
    private static String deployment(int replicas, String arguments, String mountsAndVolumes, String probes, String resources) {
        return """
                apiVersion: apps/v1
                kind: Deployment
                metadata:
                  name: snippet
                spec:
                  replicas: %d
                  selector:
                    matchLabels: {app: snippet}
                  template:
                    metadata:
                      labels: {app: snippet}
                    spec:
                      containers:
                        - name: condense
                          image: condense:dev
                          ports:
                            - {name: grpc, containerPort: 50051}
                            - {name: metrics, containerPort: 9464}
                          args: ["serve", "--kafka-bootstrap", "kafka:9092",
                                 %s]
                """.formatted(replicas, arguments) + probes + resources + mountsAndVolumes;
    }

    private static List<String> problems(String yaml) {
        return ManifestCheck.problems(KubernetesManifests.containers(yaml, line -> "snippet.yaml:" + line));
    }

    private static Set<Role> roles(List<ServeContainer> containers) {
        return containers.stream()
                .map(container -> ServeSettings.parse(container.arguments().stream().map(ServeContainer.Argument::value).toList()).role())
                .collect(Collectors.toSet());
    }

    private static HelmChart chart() {
        Optional<HelmChart> chart = HelmChart.find(DEPLOY.resolve("helm/condense"));
        if (chart.isEmpty()) {
            String message = "no helm " + HelmChart.HELM_VERSION + " binary: ./run-tests installs one (deploy/README.md)";
            if (System.getenv("CI") != null) {
                fail(message);
            }
            Assumptions.abort(message);
        }
        return chart.get();
    }

    private static String read(String file) throws IOException {
        return Files.readString(DEPLOY.resolve(file));
    }
}
