package io.condense.server.cli;

import io.condense.proto.v1.Job;
import io.condense.proto.v1.JobError;
import io.condense.proto.v1.JobEvent;
import io.condense.proto.v1.JobState;
import io.condense.proto.v1.PipelineStep;
import io.condense.proto.v1.SubmitRequest;
import io.condense.sdk.error.CondenseException;
import io.condense.sdk.error.ErrorCode;
import io.condense.server.Folders;
import io.condense.server.api.PipelineValidator;
import io.condense.server.plugin.PluginHost;
import io.condense.server.platform.CondensePlatform;
import io.condense.server.platform.PlatformConfig;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * {@code condense compress}: sends a model down the gRPC -> Kafka -> plugin path, to a server or to an
 * embedded platform started in this process, and writes the result and its report.
 */
@Command(name = "compress", mixinStandardHelpOptions = true,
        description = "Compresses an ONNX model with a pipeline of techniques. Without --server it starts the whole platform "
                + "(embedded Kafka, API, worker) in this process on free loopback ports.",
        exitCodeListHeading = "Exit codes:%n",
        exitCodeList = {"0:the job completed; the model and report are written", "1:the job failed or was cancelled",
                "2:bad input: file, pipeline, technique or parameters", "3:the server or the embedded platform is unavailable"})
final class CompressCommand implements Callable<Integer> {

    @Parameters(index = "0", paramLabel = "MODEL.onnx", description = "The model to compress.")
    Path model;

    @Option(names = "--pipeline", required = true, description = "Steps, for example \"prune(sparsity=0.5) | quantize(bits=8)\". "
            + "A parameter value written @FILE (distill's student=@student.onnx) is uploaded and replaced by its model id.")
    String pipeline;

    @Option(names = {"-o", "--output"}, required = true, paramLabel = "OUT.onnx", description = "Where to write the compressed model "
            + "(a packed .cpk file when the pipeline ends with encode).")
    Path output;

    @Option(names = "--report", paramLabel = "REPORT.json", description = "Where to write the job's report (JSON).")
    Path report;

    @Option(names = "--eval-data", paramLabel = "X.npy", description = "Evaluation inputs (.npy, .npz or IDX).")
    Path evaluationData;

    @Option(names = "--eval-labels", paramLabel = "Y.npy", description = "Class labels of the evaluation inputs.")
    Path evaluationLabels;

    @Option(names = "--calibration-data", paramLabel = "C.npy", description = "Calibration inputs for techniques that use them.")
    Path calibrationData;

    @Option(names = "--train-data", paramLabel = "XT.npy", description = "Training inputs (.npy, .npz or IDX) for techniques that "
            + "train or fine-tune; needs --train-labels.")
    Path trainingData;

    @Option(names = "--train-labels", paramLabel = "YT.npy", description = "Integer class labels of the training inputs, one per sample "
            + "(.npy, .npz of one array, or IDX); needs --train-data.")
    Path trainingLabels;

    @Option(names = "--server", paramLabel = "HOST:PORT", description = "Use this Condense server instead of an embedded one.")
    String server;

    @Option(names = "--plugins", paramLabel = "DIR", description = "Plugins folder of the embedded platform (default: the repository's build/plugins).")
    Path plugins;

    @Option(names = "--no-evaluation", description = "Skip the evaluation in ONNX Runtime at the end of the job.")
    boolean noEvaluation;

    @Option(names = "--request-id", description = "Client request id: a retried command with the same id answers the same job.")
    String requestId;

    @Override
    public Integer call() {
        PrintStream out = System.out;
        PrintStream err = System.err;
        List<PipelineStep> steps;
        try {
            steps = PipelineParser.parse(pipeline);
            requireFile(model, "model");
            for (Path attached : attachedFiles(steps)) {
                requireFile(attached, "the parameter value @" + attached + ":");
            }
            requireFile(evaluationData, "--eval-data");
            requireFile(evaluationLabels, "--eval-labels");
            requireFile(calibrationData, "--calibration-data");
            requireFile(trainingData, "--train-data");
            requireFile(trainingLabels, "--train-labels");
            if (evaluationLabels != null && evaluationData == null) {
                throw new IllegalArgumentException("--eval-labels needs --eval-data");
            }
            if (trainingLabels != null && trainingData == null) {
                throw new IllegalArgumentException("--train-labels needs --train-data (the inputs the labels belong to)");
            }
            if (trainingData != null && trainingLabels == null) {
                throw new IllegalArgumentException("--train-data needs --train-labels: training needs one integer class label per sample");
            }
        } catch (CondenseException | IllegalArgumentException e) {
            err.println("condense: " + e.getMessage());
            return 2;
        }

        CondensePlatform platform = null;
        Path temporaryData = null;
        try {
            String target = server;
            if (target == null) {
                Path pluginsFolder = plugins == null ? DefaultLocations.pluginsFolder() : plugins;
                // the same check the server makes, before waiting for a broker to start
                try (PluginHost host = PluginHost.load(pluginsFolder)) {
                    new PipelineValidator(host).validate(steps);
                } catch (CondenseException e) {
                    err.println("condense: " + e.getMessage());
                    return e.code() == ErrorCode.PLUGIN_FAILURE ? 3 : 2;
                }
                err.println("Starting the embedded Condense platform (Kafka, API, worker)...");
                temporaryData = Files.createTempDirectory("condense-");
                platform = CondensePlatform.start(PlatformConfig.embedded(temporaryData, pluginsFolder));
                target = platform.grpcTarget();
            }
            try (CondenseClient client = new CondenseClient(target)) {
                return compress(client, steps, out, err);
            }
        } catch (CondenseException e) {
            err.println("condense: " + e.getMessage());
            return 3;
        } catch (StatusRuntimeException e) {
            Status status = e.getStatus();
            err.println("condense: " + status.getCode() + ": " + status.getDescription());
            return status.getCode() == Status.Code.INVALID_ARGUMENT || status.getCode() == Status.Code.NOT_FOUND
                    || status.getCode() == Status.Code.RESOURCE_EXHAUSTED ? 2 : 3;
        } catch (IOException e) {
            err.println("condense: " + e.getMessage());
            return 2;
        } finally {
            if (platform != null) {
                platform.close();
            }
            if (temporaryData != null) {
                Folders.deleteRecursively(temporaryData);
            }
        }
    }

    private int compress(CondenseClient client, List<PipelineStep> steps, PrintStream out, PrintStream err) throws IOException {
        SubmitRequest.Builder request = SubmitRequest.newBuilder().addAllSteps(uploadAttached(client, steps))
                .setModelId(client.upload(model).getBlobId());
        if (evaluationData != null) {
            request.setEvaluationDataId(client.upload(evaluationData).getBlobId());
        }
        if (evaluationLabels != null) {
            request.setEvaluationLabelsId(client.upload(evaluationLabels).getBlobId());
        }
        if (calibrationData != null) {
            request.setCalibrationDataId(client.upload(calibrationData).getBlobId());
        }
        if (trainingData != null) {
            request.setTrainDataId(client.upload(trainingData).getBlobId());
            request.setTrainLabelsId(client.upload(trainingLabels).getBlobId());
        }
        if (requestId != null) {
            request.setClientRequestId(requestId);
        }
        request.setSkipEvaluation(noEvaluation);
        String jobId = client.submit(request.build()).getJobId();
        long started = System.nanoTime();
        try (JobDisplay display = JobDisplay.create(steps.size(), err)) {
            client.watch(jobId, (JobEvent event) -> display.show(event));
        }
        Job job = client.job(jobId);
        double seconds = (System.nanoTime() - started) / 1e9;
        if (job.getState() != JobState.JOB_STATE_COMPLETED) {
            if (job.getState() == JobState.JOB_STATE_FAILED) {
                JobError error = job.getError();
                err.printf("Job %s FAILED at step %d (%s): %s: %s%n", jobId, error.getStep(), error.getTechnique(), error.getCode(), error.getMessage());
            } else {
                err.printf("Job %s ended %s%n", jobId, job.getState().name().substring("JOB_STATE_".length()));
            }
            return 1;
        }
        long bytes = client.downloadResult(jobId, output);
        if (report != null) {
            client.downloadBlob(job.getReportId(), report);
        }
        out.printf("Job %s completed in %.1f s%n", jobId, seconds);
        Summary.print(job, out);
        out.println();
        out.println("Wrote " + output + " (" + bytes + " bytes)" + (report == null ? "" : " and " + report));
        if (isPacked(output)) {
            out.println(output + " is a packed model (the pipeline ends with encode): `condense decode " + output
                    + " -o MODEL.onnx` turns it into ONNX");
        }
        return 0;
    }

    /** The files named by parameter values written {@code @FILE}, in the order they appear. */
    static List<Path> attachedFiles(List<PipelineStep> steps) {
        List<Path> files = new ArrayList<>();
        for (PipelineStep step : steps) {
            step.getParametersMap().values().stream().filter(CompressCommand::isAttached)
                    .forEach(value -> files.add(Path.of(value.substring(1))));
        }
        return files;
    }

    /** The steps with every {@code @FILE} value uploaded and replaced by the blob id the upload answered. */
    private static List<PipelineStep> uploadAttached(CondenseClient client, List<PipelineStep> steps) throws IOException {
        List<PipelineStep> uploaded = new ArrayList<>();
        for (PipelineStep step : steps) {
            PipelineStep.Builder builder = step.toBuilder();
            for (Map.Entry<String, String> parameter : step.getParametersMap().entrySet()) {
                if (isAttached(parameter.getValue())) {
                    builder.putParameters(parameter.getKey(), client.upload(Path.of(parameter.getValue().substring(1))).getBlobId());
                }
            }
            uploaded.add(builder.build());
        }
        return uploaded;
    }

    private static boolean isPacked(Path file) {
        try (var in = Files.newInputStream(file)) {
            return io.condense.sdk.coding.PackedFormat.isPacked(in.readNBytes(io.condense.sdk.coding.PackedFormat.MAGIC.length));
        } catch (IOException e) {
            return false;
        }
    }

    private static boolean isAttached(String value) {
        return value.length() > 1 && value.charAt(0) == '@';
    }

    private static void requireFile(Path file, String what) {
        if (file != null && !Files.isRegularFile(file)) {
            throw new IllegalArgumentException(what + " " + file + " is not a readable file");
        }
    }

}
