package io.condense.it;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** `condense serve` as a separate process (this JVM's classpath), stopped by its PID. */
final class ServerProcess implements AutoCloseable {
    private static final Pattern READY = Pattern.compile("Condense serving: gRPC (\\S+), metrics \\S+, Kafka (\\S+),");

    private final Process process;
    private final String grpcTarget;
    private final String kafkaBootstrap;

    private ServerProcess(Process process, String grpcTarget, String kafkaBootstrap) {
        this.process = process;
        this.grpcTarget = grpcTarget;
        this.kafkaBootstrap = kafkaBootstrap;
    }

    static ServerProcess start(Path data, Path plugins, Path log) throws IOException, InterruptedException {
        List<String> command = new ArrayList<>(List.of(
                Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-Xmx1g",
                "-XX:ErrorFile=" + log.getParent().resolve("condense-serve-hs_err_%p.log"),
                "-cp", packagedServerClasspath(),
                "io.condense.server.cli.CondenseCommand", "serve",
                "--data", data.toString(),
                "--plugins", plugins.toString(),
                "--grpc-port", "0",
                "--metrics-port", "0"));
        java.nio.file.Files.writeString(log, "[test] starting " + String.join(" ", command.subList(4, command.size())) + System.lineSeparator(),
                StandardCharsets.UTF_8, java.nio.file.StandardOpenOption.CREATE, java.nio.file.StandardOpenOption.APPEND);
        Process process = new ProcessBuilder(command).redirectError(ProcessBuilder.Redirect.appendTo(log.toFile())).start();
        CompletableFuture<Matcher> ready = new CompletableFuture<>();
        Thread reader = new Thread(() -> {
            try (BufferedReader lines = new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8))) {
                String line;
                while ((line = lines.readLine()) != null) {
                    java.nio.file.Files.writeString(log, "[stdout] " + line + System.lineSeparator(), StandardCharsets.UTF_8,
                            java.nio.file.StandardOpenOption.APPEND);
                    Matcher matcher = READY.matcher(line);
                    if (matcher.find()) {
                        ready.complete(matcher);
                    }
                }
            } catch (IOException e) {
                ready.completeExceptionally(e);
            }
            ready.completeExceptionally(new IllegalStateException("condense serve exited before it was ready; see " + log));
        }, "condense-serve-output");
        reader.setDaemon(true);
        reader.start();
        try {
            Matcher matcher = ready.get(Duration.ofMinutes(3).toSeconds(), TimeUnit.SECONDS);
            return new ServerProcess(process, matcher.group(1), matcher.group(2));
        } catch (Exception e) {
            process.destroyForcibly().waitFor();
            throw new IllegalStateException("condense serve did not become ready; its log is " + log, e);
        }
    }

    String grpcTarget() {
        return grpcTarget;
    }

    String kafkaBootstrap() {
        return kafkaBootstrap;
    }

    long pid() {
        return process.pid();
    }

    /** kill -9 */
    void kill() throws InterruptedException {
        process.destroyForcibly();
        process.waitFor();
    }

    boolean alive() {
        return process.isAlive();
    }

    int exitValue() {
        return process.exitValue();
    }

    @Override
    public void close() throws InterruptedException {
        if (process.isAlive()) {
            process.destroy();
            if (!process.waitFor(60, TimeUnit.SECONDS)) {
                process.destroyForcibly().waitFor();
            }
        }
    }

    /** The server as the build packages it for ./condense: server/service/target/condense-server.jar and target/lib. */
    static String packagedServerClasspath() {
        Path target = Path.of(System.getProperty("condense.root", "..")).resolve("server/service/target");
        Path jar = target.resolve("condense-server.jar");
        if (!java.nio.file.Files.isRegularFile(jar) || !java.nio.file.Files.isDirectory(target.resolve("lib"))) {
            throw new IllegalStateException("the packaged server is missing (" + jar + " and its lib folder): run mvn package first");
        }
        return jar + java.io.File.pathSeparator + target.resolve("lib") + java.io.File.separator + "*";
    }
}
