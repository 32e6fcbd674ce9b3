package io.condense.it;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.net.URISyntaxException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A child JVM on the packaged server's classpath, stopped by its PID: {@code condense serve}, or the Kafka broker of
 * {@link KafkaBrokerMain}. Its output is appended to a log file; it counts as started once it prints its ready line.
 */
final class ServerProcess implements AutoCloseable {
    private static final Pattern SERVE_READY = Pattern.compile("Condense serving: gRPC (\\S+), metrics \\S+, Kafka (\\S+),");
    private static final Pattern BROKER_READY = Pattern.compile(KafkaBrokerMain.READY + "(\\S+)");

    private final Process process;
    private final String grpcTarget;
    private final String kafkaBootstrap;
    private final Path log;

    private ServerProcess(Process process, String grpcTarget, String kafkaBootstrap, Path log) {
        this.process = process;
        this.grpcTarget = grpcTarget;
        this.kafkaBootstrap = kafkaBootstrap;
        this.log = log;
    }

    /** JVM options for tests that run several processes at once on a small machine: they start faster and hold less. */
    static final List<String> SMALL_JVM = List.of("-Xmx512m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1");

    static ServerProcess start(Path data, Path plugins, Path log) throws IOException {
        return start(data, plugins, log, List.of("-Xmx1g"), List.of());
    }

    /** {@code condense serve} on free gRPC and metrics ports unless {@code serveArguments} name them, with these arguments added. */
    static ServerProcess start(Path data, Path plugins, Path log, List<String> jvmOptions, List<String> serveArguments) throws IOException {
        return start(data, plugins, log, jvmOptions, serveArguments, java.util.Map.of());
    }

    /** As {@link #start(Path, Path, Path, List, List)}, with these environment variables added (AWS credentials, say). */
    static ServerProcess start(Path data, Path plugins, Path log, List<String> jvmOptions, List<String> serveArguments,
            java.util.Map<String, String> environment) throws IOException {
        List<String> arguments = new ArrayList<>(List.of("serve", "--data", data.toString(), "--plugins", plugins.toString()));
        if (!serveArguments.contains("--grpc-port")) {
            arguments.addAll(List.of("--grpc-port", "0"));
        }
        if (!serveArguments.contains("--metrics-port")) {
            arguments.addAll(List.of("--metrics-port", "0"));
        }
        arguments.addAll(serveArguments);
        Process process = launch(jvmOptions, packagedServerClasspath(), "io.condense.server.cli.CondenseCommand", arguments, log, environment);
        Matcher ready = awaitReady(process, SERVE_READY, log);
        return new ServerProcess(process, ready.group(1), ready.group(2), log);
    }

    /** A Kafka broker alone ({@link KafkaBrokerMain}) on {@code port} of 127.0.0.1, its log in {@code logDirectory}. */
    static ServerProcess broker(Path logDirectory, int port, Path log) throws IOException {
        String classpath = packagedServerClasspath() + java.io.File.pathSeparator + testClasses();
        Process process = launch(SMALL_JVM, classpath, KafkaBrokerMain.class.getName(), List.of(logDirectory.toString(), Integer.toString(port)), log,
                java.util.Map.of());
        return new ServerProcess(process, "none", awaitReady(process, BROKER_READY, log).group(1), log);
    }

    private static Process launch(List<String> jvmOptions, String classpath, String mainClass, List<String> arguments, Path log,
            java.util.Map<String, String> environment) throws IOException {
        List<String> command = new ArrayList<>();
        command.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        command.addAll(jvmOptions);
        command.add("-XX:ErrorFile=" + log.toAbsolutePath().getParent().resolve("condense-serve-hs_err_%p.log"));
        command.addAll(List.of("-cp", classpath, mainClass));
        command.addAll(arguments);
        Files.writeString(log, "[test] starting " + String.join(" ", command.subList(command.indexOf(mainClass), command.size()))
                + System.lineSeparator(),
                StandardCharsets.UTF_8, StandardOpenOption.CREATE, StandardOpenOption.APPEND);
        ProcessBuilder builder = new ProcessBuilder(command).redirectError(ProcessBuilder.Redirect.appendTo(log.toFile()));
        builder.environment().putAll(environment);
        return builder.start();
    }

    /** Copies the process's output to the log until it ends; the first line matching {@code ready} says it started. */
    private static Matcher awaitReady(Process process, Pattern ready, Path log) {
        CompletableFuture<Matcher> started = new CompletableFuture<>();
        Thread reader = new Thread(() -> {
            try (BufferedReader lines = new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8))) {
                String line;
                while ((line = lines.readLine()) != null) {
                    Files.writeString(log, "[stdout] " + line + System.lineSeparator(), StandardCharsets.UTF_8, StandardOpenOption.APPEND);
                    Matcher matcher = ready.matcher(line);
                    if (matcher.find()) {
                        started.complete(matcher);
                    }
                }
            } catch (IOException e) {
                started.completeExceptionally(e);
            }
            started.completeExceptionally(new IllegalStateException("the process exited before it was ready; see " + log));
        }, "server-process-output");
        reader.setDaemon(true);
        reader.start();
        try {
            return started.get(Duration.ofMinutes(3).toSeconds(), TimeUnit.SECONDS);
        } catch (Exception e) {
            process.destroyForcibly();
            try {
                process.waitFor();
            } catch (InterruptedException interrupted) {
                Thread.currentThread().interrupt();
            }
            throw new IllegalStateException("the child process did not become ready; its log is " + log, e);
        }
    }

    String grpcTarget() {
        return grpcTarget;
    }

    String kafkaBootstrap() {
        return kafkaBootstrap;
    }

    Path log() {
        return log;
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
        if (!Files.isRegularFile(jar) || !Files.isDirectory(target.resolve("lib"))) {
            throw new IllegalStateException("the packaged server is missing (" + jar + " and its lib folder): run mvn package first");
        }
        return jar + java.io.File.pathSeparator + target.resolve("lib") + java.io.File.separator + "*";
    }

    /** This module's compiled test classes (where {@link KafkaBrokerMain} is). */
    private static Path testClasses() {
        try {
            return Path.of(KafkaBrokerMain.class.getProtectionDomain().getCodeSource().getLocation().toURI());
        } catch (URISyntaxException e) {
            throw new IllegalStateException(e);
        }
    }
}
