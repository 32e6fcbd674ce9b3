package io.condense.server.cli;

import io.condense.proto.v1.Job;
import io.condense.proto.v1.JobError;
import io.condense.proto.v1.JobState;
import io.condense.proto.v1.PipelineStep;
import io.condense.proto.v1.StepResult;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Path;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import java.util.stream.Collectors;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * The operator's commands against a running server: {@code condense jobs}, {@code status ID}, {@code cancel ID},
 * {@code download ID}. Exit codes: 0 done, 1 the job is not in a state that allows it (download of a job that did not
 * complete), 2 bad input (an unknown job id, an unknown state, a missing or unknown token), 3 the server is unavailable.
 */
public final class JobCommands {
    static final String DEFAULT_SERVER = "127.0.0.1:50051";
    private static final DateTimeFormatter TIME = DateTimeFormatter.ofPattern("yyyy-MM-dd HH:mm:ss").withZone(ZoneOffset.UTC);

    private JobCommands() {
    }

    /** The answer of the server to a failed call, as an exit code, with its message on stderr. */
    public static int failure(StatusRuntimeException e, String server) {
        Status status = e.getStatus();
        System.err.println("condense: " + server + " answered " + status.getCode() + ": " + status.getDescription());
        return switch (status.getCode()) {
            case NOT_FOUND, INVALID_ARGUMENT, ALREADY_EXISTS, UNAUTHENTICATED, PERMISSION_DENIED -> 2;
            case FAILED_PRECONDITION -> 1;
            default -> 3;
        };
    }

    /** What a command does with the server once connected; its exit code. */
    @FunctionalInterface
    public interface ClientCall {
        int run(CondenseClient client) throws IOException;
    }

    /** {@code --server} and the TLS and token options every operator command takes, and the one way they call the server. */
    public static final class ServerConnection {
        @Option(names = "--server", paramLabel = "HOST:PORT", defaultValue = DEFAULT_SERVER, description = "The server (default: ${DEFAULT-VALUE}).")
        public String server;

        @picocli.CommandLine.Mixin
        ClientSecurityOptions clientSecurity = new ClientSecurityOptions();

        /** Runs {@code call} on a client of the server; a refused call, a bad TLS file or a file error becomes its exit code. */
        public int call(ClientCall call) {
            try (CondenseClient client = new CondenseClient(server, clientSecurity.security())) {
                return call.run(client);
            } catch (StatusRuntimeException e) {
                return failure(e, server);
            } catch (IllegalArgumentException | IOException e) {
                System.err.println("condense: " + e.getMessage());
                return 2;
            }
        }
    }

    static String state(JobState state) {
        return state.name().substring("JOB_STATE_".length());
    }

    public static String pipeline(List<PipelineStep> steps) {
        return steps.stream().map(step -> step.getParametersMap().isEmpty() ? step.getTechnique()
                : step.getTechnique() + "(" + step.getParametersMap().entrySet().stream().sorted(java.util.Map.Entry.comparingByKey())
                        .map(entry -> entry.getKey() + "=" + entry.getValue()).collect(Collectors.joining(", ")) + ")")
                .collect(Collectors.joining(" | "));
    }

    static void printStatus(Job job, PrintStream out) {
        out.printf("job        %s%n", job.getJobId());
        out.printf("state      %s%s%n", state(job.getState()),
                job.getState() == JobState.JOB_STATE_RUNNING ? " (step " + job.getCurrentStep() + " of " + job.getStepsCount() + ")" : "");
        out.printf("pipeline   %s%n", pipeline(job.getStepsList()));
        out.printf("model      %s%n", job.getModelId());
        out.printf("submitted  %s UTC%n", TIME.format(Instant.ofEpochMilli(job.getSubmittedAtMs())));
        if (job.getFinishedAtMs() > 0) {
            out.printf("finished   %s UTC (%.1f s)%n", TIME.format(Instant.ofEpochMilli(job.getFinishedAtMs())),
                    (job.getFinishedAtMs() - job.getSubmittedAtMs()) / 1000.0);
        }
        if (!job.getClientRequestId().isEmpty()) {
            out.printf("request id %s%n", job.getClientRequestId());
        }
        for (StepResult step : job.getStepResultsList()) {
            out.printf("step %d     %s: %d ms, %d -> %d bytes%n", step.getStep(), step.getTechnique(), step.getDurationMs(), step.getBytesIn(),
                    step.getBytesOut());
        }
        if (job.getState() == JobState.JOB_STATE_COMPLETED) {
            out.printf("result     %s%nreport     %s%n", job.getResultModelId(), job.getReportId());
        }
        if (job.hasError()) {
            JobError error = job.getError();
            out.printf("error      %s (%s) %s%n", error.getStep() == 0 ? "after the steps, in the " + error.getTechnique()
                    : "at step " + error.getStep() + " (" + error.getTechnique() + ")", error.getCategory(), error.getCode());
            out.printf("           %s%n", error.getMessage());
        }
    }

    @Command(name = "jobs", mixinStandardHelpOptions = true, description = "Lists a server's most recent jobs, newest first.")
    static final class ListCommand implements Callable<Integer> {
        @picocli.CommandLine.Mixin
        ServerConnection connection = new ServerConnection();

        @Option(names = "--limit", defaultValue = "50", description = "At most this many (default: ${DEFAULT-VALUE}, at most 1000).")
        int limit;

        @Option(names = "--state", paramLabel = "STATE", description = "Only jobs in this state: queued, running, completed, failed, cancelled.")
        String state;

        @Override
        public Integer call() {
            JobState wanted = JobState.JOB_STATE_UNSPECIFIED;
            if (state != null) {
                try {
                    wanted = JobState.valueOf("JOB_STATE_" + state.toUpperCase(Locale.ROOT));
                } catch (IllegalArgumentException e) {
                    System.err.println("condense: unknown state '" + state + "': use queued, running, completed, failed or cancelled");
                    return 2;
                }
            }
            JobState listed = wanted;
            return connection.call(client -> {
                List<Job> jobs = client.jobs(limit, listed);
                PrintStream out = System.out;
                out.printf("%-36s  %-9s  %-19s  %s%n", "job", "state", "submitted (UTC)", "pipeline");
                for (Job job : jobs) {
                    out.printf("%-36s  %-9s  %-19s  %s%n", job.getJobId(), state(job.getState()),
                            TIME.format(Instant.ofEpochMilli(job.getSubmittedAtMs())), pipeline(job.getStepsList()));
                }
                return 0;
            });
        }
    }

    @Command(name = "status", mixinStandardHelpOptions = true, description = "Shows one job: state, steps, result or error.")
    static final class StatusCommand implements Callable<Integer> {
        @Parameters(index = "0", paramLabel = "JOB_ID")
        String jobId;

        @picocli.CommandLine.Mixin
        ServerConnection connection = new ServerConnection();

        @Override
        public Integer call() {
            return connection.call(client -> {
                printStatus(client.job(jobId), System.out);
                return 0;
            });
        }
    }

    @Command(name = "cancel", mixinStandardHelpOptions = true, description = "Asks a job to stop; a running step stops at its next check.")
    static final class CancelCommand implements Callable<Integer> {
        @Parameters(index = "0", paramLabel = "JOB_ID")
        String jobId;

        @picocli.CommandLine.Mixin
        ServerConnection connection = new ServerConnection();

        @Override
        public Integer call() {
            return connection.call(client -> {
                Job job = client.cancel(jobId);
                System.out.println("Asked job " + jobId + " to stop; it is " + state(job.getState()));
                return 0;
            });
        }
    }

    @Command(name = "download", mixinStandardHelpOptions = true, description = "Writes a completed job's model (and report).")
    static final class DownloadCommand implements Callable<Integer> {
        @Parameters(index = "0", paramLabel = "JOB_ID")
        String jobId;

        @Option(names = {"-o", "--output"}, required = true, paramLabel = "OUT.onnx", description = "Where to write the model.")
        Path output;

        @Option(names = "--report", paramLabel = "REPORT.json", description = "Where to write the job's report (JSON).")
        Path report;

        @picocli.CommandLine.Mixin
        ServerConnection connection = new ServerConnection();

        @Override
        public Integer call() {
            return connection.call(client -> {
                BundleReceiver.Written written = client.downloadResultModel(jobId, output);
                if (report != null) {
                    client.downloadBlob(client.job(jobId).getReportId(), report);
                }
                System.out.println("Wrote " + written.describe() + (report == null ? "" : " and " + report));
                return 0;
            });
        }
    }
}
