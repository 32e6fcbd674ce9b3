package io.condense.it;

import static java.util.Objects.requireNonNull;
import static org.junit.jupiter.api.Assertions.fail;

import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.Struct;
import com.google.protobuf.util.JsonFormat;
import io.condense.server.report.Structs;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * A client of the gRPC API written in another language (integration-tests/clients), run as a subprocess: its
 * output goes to files, it gets a time limit, and it is stopped through its {@link Process} handle, never by name.
 */
final class ForeignClient {
    /** The clients' exit code when something they need is not installed. */
    static final int EXIT_MISSING = 4;

    private final String language;
    private final List<String> commandPrefix;
    private final String installHint;

    private ForeignClient(String language, List<String> commandPrefix, String installHint) {
        this.language = requireNonNull(language, "language is null");
        this.commandPrefix = List.copyOf(commandPrefix);
        this.installHint = requireNonNull(installHint, "installHint is null");
    }

    /** clients/python/condense_client.py under Debian's /usr/bin/python3. */
    static ForeignClient python() {
        Path python = Path.of("/usr/bin/python3");
        String hint = "install them with 'apt-get install python3 python3-grpcio python3-protobuf protobuf-compiler libprotobuf-dev' "
                + "(./run-tests does)";
        if (!Files.isExecutable(python)) {
            fail("The Python client needs Debian's " + python + " with grpc and protobuf: " + hint);
        }
        return new ForeignClient("python", List.of(python.toString(), repositoryRoot().resolve("clients/python/condense_client.py").toString()), hint);
    }

    /**
     * The Python package (clients/python) as installed into the virtual environment ./run-tests makes fresh:
     * build/python-venv; the arguments name a script and its arguments.
     */
    static ForeignClient pythonPackage() {
        Path python = repositoryRoot().resolve("build/python-venv/bin/python");
        String hint = "make it with 'python3 -m venv build/python-venv && build/python-venv/bin/pip install ./clients/python' "
                + "(./run-tests does)";
        if (!Files.isExecutable(python)) {
            fail("The Python package's tests need the virtual environment " + python + ": " + hint);
        }
        return new ForeignClient("python-package", List.of(python.toString()), hint);
    }

    /** The repository's Python package: clients/python. */
    static Path pythonPackageFolder() {
        return repositoryRoot().resolve("clients/python");
    }

    /** integration-tests/clients/node/condense_client.js under the node on the PATH. */
    static ForeignClient node() {
        Path folder = clientsFolder().resolve("node");
        String hint = "install Node.js 18 or later, then run 'npm ci' in " + folder.toAbsolutePath().normalize() + " (./run-tests does)";
        if (!Files.isDirectory(folder.resolve("node_modules/@grpc/grpc-js")) || !Files.isDirectory(folder.resolve("node_modules/@grpc/proto-loader"))) {
            fail("The Node.js client's packages are not installed (no node_modules/@grpc/grpc-js or @grpc/proto-loader in " + folder + "): " + hint);
        }
        return new ForeignClient("node", List.of("node", folder.resolve("condense_client.js").toString()), hint);
    }

    /** The repository's proto sources, which both clients load: proto/src/main/proto. */
    static Path protoFolder() {
        return repositoryRoot().resolve("proto/src/main/proto");
    }

    String language() {
        return language;
    }

    /** Runs the client's --check and fails the test with what to install when something is missing. */
    void checkInstalled(Path workFolder) {
        Run run;
        try {
            run = run(List.of("--check", "--proto-dir", protoFolder().toString()), workFolder, Duration.ofSeconds(60));
        } catch (UncheckedIOException e) {
            fail("The " + language + " client could not be started (" + e.getCause().getMessage() + "): " + installHint, e);
            return;
        }
        if (run.exitCode() != 0) {
            fail("The " + language + " client is not ready to run (exit " + run.exitCode() + "): " + run.stderr().strip()
                    + (run.exitCode() == EXIT_MISSING ? "" : "\n" + installHint));
        }
    }

    /** Runs the client with these arguments and waits for it; on timeout it is killed and the test fails. */
    Run run(List<String> arguments, Path workFolder, Duration timeout) {
        return run(arguments, workFolder, timeout, Map.of());
    }

    /** {@link #run(List, Path, Duration)} with these variables added to the environment. */
    Run run(List<String> arguments, Path workFolder, Duration timeout, Map<String, String> environment) {
        List<String> command = new ArrayList<>(commandPrefix);
        command.addAll(arguments);
        try {
            Path stdout = Files.createTempFile(workFolder, language + "-", ".out");
            Path stderr = Files.createTempFile(workFolder, language + "-", ".err");
            ProcessBuilder builder = new ProcessBuilder(command).directory(workFolder.toFile())
                    .redirectOutput(stdout.toFile()).redirectError(stderr.toFile());
            builder.environment().putAll(environment);
            Process process = builder.start();
            boolean exited;
            try {
                exited = process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                exited = false;
            }
            if (!exited) {
                process.descendants().forEach(ProcessHandle::destroyForcibly);
                process.destroyForcibly();
                process.waitFor(10, TimeUnit.SECONDS);
                fail("The " + language + " client did not finish within " + timeout.toSeconds() + " s: " + String.join(" ", command)
                        + "\nstdout:\n" + Files.readString(stdout, StandardCharsets.UTF_8) + "\nstderr:\n" + Files.readString(stderr, StandardCharsets.UTF_8));
            }
            return new Run(command, process.exitValue(), Files.readString(stdout, StandardCharsets.UTF_8), Files.readString(stderr, StandardCharsets.UTF_8));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while stopping the " + language + " client", e);
        }
    }

    private static Path clientsFolder() {
        return repositoryRoot().resolve("integration-tests/clients");
    }

    private static Path repositoryRoot() {
        String root = System.getProperty("condense.root");
        return (root == null || root.isBlank() ? Path.of("..") : Path.of(root)).toAbsolutePath().normalize();
    }

    /** One finished run: its exit code and what it printed. */
    record Run(List<String> command, int exitCode, String stdout, String stderr) {
        Run {
            command = List.copyOf(command);
            requireNonNull(stdout, "stdout is null");
            requireNonNull(stderr, "stderr is null");
        }

        /** The one-line JSON summary the clients print last on stdout, as ordered Java values (whole numbers as longs). */
        Map<String, Object> summary() {
            List<String> lines = stdout.strip().lines().toList();
            if (lines.isEmpty()) {
                fail("The client printed no summary\n" + this);
            }
            Struct.Builder struct = Struct.newBuilder();
            try {
                JsonFormat.parser().merge(lines.get(lines.size() - 1), struct);
            } catch (InvalidProtocolBufferException e) {
                fail("The client's last line is not a JSON object: " + e.getMessage() + "\n" + this, e);
            }
            return Structs.toMap(struct.build());
        }

        @Override
        public String toString() {
            return String.join(" ", command) + "\nexit " + exitCode + "\nstdout:\n" + stdout + "\nstderr:\n" + stderr;
        }
    }
}
