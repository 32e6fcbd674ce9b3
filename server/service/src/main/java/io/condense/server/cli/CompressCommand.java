package io.condense.server.cli;

import io.condense.proto.v1.Job;
import io.condense.proto.v1.JobError;
import io.condense.proto.v1.JobEvent;
import io.condense.proto.v1.JobState;
import io.condense.proto.v1.ListTechniquesResponse;
import io.condense.proto.v1.ParameterInfo;
import io.condense.proto.v1.PipelineStep;
import io.condense.proto.v1.ResolvedStep;
import io.condense.proto.v1.SubmitRequest;
import io.condense.proto.v1.TechniqueInfo;
import io.condense.proto.v1.ValidateResponse;
import io.condense.sdk.error.CondenseException;
import io.condense.sdk.error.ErrorCategory;
import io.condense.sdk.error.ErrorCode;
import io.condense.sdk.model.OnnxModel;
import io.condense.sdk.technique.ParameterSpec;
import io.condense.server.Folders;
import io.condense.server.api.PipelineValidator;
import io.condense.server.plugin.PluginHost;
import io.condense.server.report.ReportPage;
import io.condense.server.report.Structs;
import io.condense.server.search.SearchSpec;
import io.condense.server.platform.LocalPlatform;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.Callable;
import java.util.stream.Collectors;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * {@code condense compress}: sends a model down the gRPC -> Kafka -> plugin path, to a server or to an
 * embedded platform started in this process, and writes the result and its report.
 */
@Command(name = "compress", mixinStandardHelpOptions = true,
        description = "Compresses an ONNX model with a pipeline of techniques. Without --server it runs the server's API, step "
                + "runner and plugins in this process, without a broker or ports (condense serve runs them over Kafka).",
        exitCodeListHeading = "Exit codes:%n",
        exitCodeList = {"0:the job completed; the model and report are written",
                "1:the job failed on the server's side (out of memory, a plugin failure) or was cancelled",
                "2:bad input: a file, the model (not a valid ONNX model), its data, the pipeline, a technique or a parameter",
                "3:the server or the embedded platform is unavailable",
                "4:--auto: no candidate met the constraints (the best one found is written all the same)"})
final class CompressCommand implements Callable<Integer> {

    @Parameters(index = "0", paramLabel = "MODEL.onnx", description = "The model to compress.")
    Path model;

    @Option(names = "--pipeline", description = "Steps, for example \"prune(sparsity=0.5) | quantize(bits=8)\". "
            + "A value written @FILE of a parameter that takes an uploaded file (distill's student=@student.onnx; ListTechniques "
            + "says which) is uploaded and replaced by its blob id; elsewhere @ is plain text.")
    String pipeline;

    @Option(names = "--recipe", paramLabel = "PIPELINE.yaml", description = "The pipeline from a file instead of --pipeline: YAML "
            + "(comments allowed) or JSON, a list of steps such as '- prune: {sparsity: 0.5}'; see recipes/README.md.")
    Path recipe;

    @Option(names = {"-o", "--output"}, paramLabel = "OUT.onnx", description = "Where to write the compressed model "
            + "(a packed .cpk file when the pipeline ends with encode; not with --dry-run).")
    Path output;

    @Option(names = "--dry-run", description = "Check the pipeline against the server's plugins (or the local plugins folder) as Submit "
            + "would and print every step's resolved parameters, without running anything.")
    boolean dryRun;

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

    @picocli.CommandLine.Mixin
    ClientSecurityOptions clientSecurity = new ClientSecurityOptions();

    @Option(names = "--no-upload-cache", description = "With --server: send the model and every data file even when they were sent to "
            + "that server before and have not changed since (their ids are remembered in ~/.cache/condense/uploads.json, as the "
            + "Python client does).")
    boolean noUploadCache;

    @Option(names = "--plugins", paramLabel = "DIR", description = "Plugins folder of the embedded platform (default: the repository's build/plugins).")
    Path plugins;

    @Option(names = "--no-evaluation", description = "Skip the evaluation in ONNX Runtime at the end of the job.")
    boolean noEvaluation;

    @Option(names = "--input-shape", paramLabel = "NAME:D1,D2,...", description = "Concrete dimensions for a model input with "
            + "free ones, e.g. x:1,3,640,640 (repeat for several inputs). Fixed in the uploaded copy, so evaluation, calibration "
            + "and MAC counts use them; the written model keeps them.")
    List<String> inputShapes = new ArrayList<>();

    @Option(names = "--request-id", description = "Client request id: a retried command with the same id answers the same job.")
    String requestId;

    @Option(names = "--auto", paramLabel = "SPEC", description = "Search for the pipeline instead of giving one: "
            + "\"max_drop=0.005, objective=size\" (objective size, macs or latency; max_drop, min_sqnr, max_size, max_latency, "
            + "techniques=quantize+lowrank+prune+finetune+encode; confidence=0.99, the one-sided level at which a candidate's drop "
            + "must be shown within max_drop, 0.5 for the measured drop alone). Submits a search job: the server (or the embedded platform) runs "
            + "the candidates as ordinary jobs; the same command again follows the same job. Needs --eval-data.")
    String auto;

    @Option(names = "--budget", paramLabel = "DURATION", defaultValue = "10m", description = "Wall time of an --auto search "
            + "(10m, 90s, 1h; default ${DEFAULT-VALUE}).")
    String budget;

    @Option(names = "--search-train-samples", paramLabel = "N", defaultValue = "60000", description = "--auto with training data: "
            + "candidates fine-tune on the first N training samples (default ${DEFAULT-VALUE}; fewer make candidates faster and "
            + "less accurate: on Fashion-MNIST 10,000 lost 0.6 points more than 55,000), so that a round fits the budget.")
    int searchTrainSamples;

    @Option(names = "--html", paramLabel = "REPORT.html", description = "Also write the report as one self-contained HTML page "
            + "(charts inline, no network).")
    Path html;

    /** The --auto spec with the budget, checked as the server checks it, or null without --auto. */
    private io.condense.proto.v1.SearchSpec search;

    /** The file uploaded: {@link #model}, or a temporary copy with {@code --input-shape} applied. */
    private Path uploadedModel;

    @Override
    public Integer call() {
        PrintStream out = System.out;
        PrintStream err = System.err;
        List<PipelineStep> steps;
        try {
            if (auto != null) {
                if (pipeline != null || recipe != null || dryRun) {
                    throw new IllegalArgumentException("--auto searches for the pipeline: give it without --pipeline, --recipe or --dry-run");
                }
                if (evaluationData == null) {
                    throw new IllegalArgumentException("--auto needs --eval-data (with --eval-labels for accuracy): every candidate "
                            + "is judged by evaluating it");
                }
                search = SearchSpec.parse(auto).toBuilder().setBudgetMs(AutoCompress.budgetMillis(budget)).build();
                SearchSpec.of(search);
            } else if ((pipeline == null) == (recipe == null)) {
                throw new IllegalArgumentException("give the steps with exactly one of --pipeline \"...\" and --recipe FILE");
            }
            if (output == null && !dryRun) {
                throw new IllegalArgumentException("give -o OUT.onnx, where to write the compressed model (or --dry-run to only check the pipeline)");
            }
            requireFile(recipe, "--recipe");
            steps = auto != null ? List.of() : recipe != null ? Recipe.read(recipe) : PipelineParser.parse(pipeline);
            requireFile(model, "model");
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
            uploadedModel = dryRun ? model : shapedModel();
        } catch (CondenseException | IllegalArgumentException e) {
            err.println("condense: " + e.getMessage());
            return 2;
        }

        if (dryRun) {
            return dryRun(steps, out, err);
        }
        LocalPlatform platform = null;
        Path temporaryData = null;
        try {
            CondenseClient client;
            Map<String, Set<String>> uploadable;
            if (server == null) {
                Path pluginsFolder = plugins == null ? DefaultLocations.pluginsFolder() : plugins;
                PluginHost host = PluginHost.load(pluginsFolder);
                try {
                    // the same check the server makes, before anything is uploaded
                    if (search == null) {
                        new PipelineValidator(host).resolve(steps);
                    }
                } catch (CondenseException e) {
                    host.close();
                    err.println("condense: " + e.getMessage());
                    return e.code() == ErrorCode.PLUGIN_FAILURE ? 3 : 2;
                }
                temporaryData = Files.createTempDirectory("condense-");
                // one-shot: the server's API, job view, step runner and plugins in this process, without a broker
                uploadable = uploadable(host);
                platform = LocalPlatform.start(host, temporaryData);
                client = new CondenseClient(platform.channel());
            } else {
                client = new CondenseClient(server, clientSecurity.security());
                uploadable = null;
            }
            try (client) {
                if (uploadable == null) {
                    // only a value written @FILE can name a file to upload: without one, no need to ask the server which
                    // parameters take one (a round trip and its answer saved on every plain command)
                    uploadable = mayAttach(steps) ? uploadable(client.techniques()) : Map.of();
                }
                for (Path attached : attachedFiles(steps, uploadable)) {
                    requireFile(attached, "the parameter value @" + attached + ":");
                }
                UploadCache cache = server == null || noUploadCache ? null : UploadCache.of(server, clientSecurity.security().token());
                return compress(client, new CachedUploads(client, cache, err), steps, uploadable, out, err);
            }
        } catch (CondenseException e) {
            err.println("condense: " + e.getMessage());
            return 3;
        } catch (StatusRuntimeException e) {
            Status status = e.getStatus();
            err.println("condense: " + status.getCode() + ": " + status.getDescription());
            return status.getCode() == Status.Code.INVALID_ARGUMENT || status.getCode() == Status.Code.NOT_FOUND
                    || status.getCode() == Status.Code.ALREADY_EXISTS || status.getCode() == Status.Code.RESOURCE_EXHAUSTED || status.getCode() == Status.Code.UNAUTHENTICATED
                    || status.getCode() == Status.Code.PERMISSION_DENIED ? 2 : 3;
        } catch (IOException | IllegalArgumentException e) {
            err.println("condense: " + e.getMessage());
            return 2;
        } finally {
            if (platform != null) {
                try {
                    platform.close();
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }
            if (!uploadedModel.equals(model)) {
                Folders.deleteRecursively(uploadedModel.getParent());
            }
            if (temporaryData != null) {
                Folders.deleteRecursively(temporaryData);
            }
        }
    }

    private int compress(CondenseClient client, CachedUploads uploads, List<PipelineStep> steps, Map<String, Set<String>> uploadable,
            PrintStream out, PrintStream err) throws IOException {
        // a model copied with --input-shape applied is new each run: sent, not remembered
        SubmitRequest.Builder request = SubmitRequest.newBuilder().addAllSteps(uploadAttached(client, steps, uploadable))
                .setModelId(uploadedModel.equals(model) ? uploads.model(model) : client.uploadModel(uploadedModel).getBlobId());
        if (evaluationData != null) {
            request.setEvaluationDataId(uploads.data(evaluationData));
        }
        if (evaluationLabels != null) {
            request.setEvaluationLabelsId(uploads.data(evaluationLabels));
        }
        if (calibrationData != null) {
            request.setCalibrationDataId(uploads.data(calibrationData));
        }
        if (trainingData != null && search != null) {
            TrainingSubset subset = TrainingSubset.of(trainingData, trainingLabels, searchTrainSamples);
            try {
                request.setTrainDataId(client.upload(subset.inputs()).getBlobId());
                request.setTrainLabelsId(client.upload(subset.labels()).getBlobId());
            } finally {
                if (subset.temporary() != null) {
                    Folders.deleteRecursively(subset.temporary());
                }
            }
        } else if (trainingData != null) {
            request.setTrainDataId(uploads.data(trainingData));
            request.setTrainLabelsId(uploads.data(trainingLabels));
        }
        if (requestId != null) {
            request.setClientRequestId(requestId);
        }
        request.setSkipEvaluation(noEvaluation);
        if (search != null) {
            return uploads.submit(request.build(), built -> new AutoCompress(search, requestId, output, report, html).run(client, built, out, err));
        }
        String jobId = uploads.submit(request.build()).getJobId();
        long started = System.nanoTime();
        try (JobDisplay display = JobDisplay.create(steps.size(), err)) {
            client.watch(jobId, (JobEvent event) -> display.show(event));
        }
        Job job = client.job(jobId);
        double seconds = (System.nanoTime() - started) / 1e9;
        if (job.getState() != JobState.JOB_STATE_COMPLETED) {
            if (job.getState() == JobState.JOB_STATE_FAILED) {
                JobError error = job.getError();
                if (error.getStep() == 0 && !error.getTechnique().isEmpty()) {
                    err.printf("Job %s FAILED after its steps, in the %s: %s: %s%n", jobId, error.getTechnique(), error.getCode(), error.getMessage());
                } else {
                    err.printf("Job %s FAILED at step %d (%s): %s: %s%n", jobId, error.getStep(), error.getTechnique(), error.getCode(),
                            error.getMessage());
                }
                return isBadInput(error) ? 2 : 1;
            } else {
                err.printf("Job %s ended %s%n", jobId, job.getState().name().substring("JOB_STATE_".length()));
            }
            return 1;
        }
        BundleReceiver.Written written = client.downloadResultModel(jobId, output);
        if (report != null) {
            client.downloadBlob(job.getReportId(), report);
        }
        if (html != null) {
            Files.writeString(html, ReportPage.render(Structs.toMap(job.getReport())), java.nio.charset.StandardCharsets.UTF_8);
        }
        out.printf("Job %s completed in %.1f s%n", jobId, seconds);
        Summary.print(job, out);
        out.println();
        out.println("Wrote " + written.describe() + (report == null ? "" : " and " + report));
        if (isPacked(output)) {
            out.println(output + " is a packed model (the pipeline ends with encode): `condense decode " + output
                    + " -o MODEL.onnx` turns it into ONNX");
        }
        return 0;
    }

    /**
     * The model file to upload: the given one, or a copy with the {@code --input-shape} dimensions fixed. A model with free
     * dimensions beyond the batch axis and neither shapes nor data to take them from is refused here, naming the input.
     */
    private Path shapedModel() {
        boolean hasData = evaluationData != null || calibrationData != null || noEvaluation;
        if (inputShapes.isEmpty() && hasData) {
            return model;
        }
        OnnxModel loaded = OnnxModel.load(model);
        OnnxModel shaped = inputShapes.isEmpty() ? loaded : InputShapes.apply(loaded, InputShapes.parse(inputShapes));
        String problem = hasData ? null : InputShapes.freeDimensionsProblem(shaped);
        if (problem != null) {
            throw new IllegalArgumentException(problem);
        }
        if (inputShapes.isEmpty()) {
            return model;
        }
        try {
            Path folder = Files.createTempDirectory("condense-shaped-");
            Path copy = folder.resolve(model.getFileName());
            shaped.save(copy);
            return copy;
        } catch (IOException e) {
            throw new IllegalArgumentException("cannot write the model with fixed input shapes: " + e.getMessage(), e);
        }
    }

    /** Validates the steps as Submit would, on the server or against the local plugins folder, and prints what would run. */
    private int dryRun(List<PipelineStep> steps, PrintStream out, PrintStream err) {
        ValidateResponse resolved;
        try {
            if (server != null) {
                try (CondenseClient client = new CondenseClient(server, clientSecurity.security())) {
                    resolved = client.validate(steps);
                }
            } else {
                try (PluginHost host = PluginHost.load(plugins == null ? DefaultLocations.pluginsFolder() : plugins)) {
                    resolved = PipelineValidator.describe(new PipelineValidator(host).resolve(steps));
                }
            }
        } catch (CondenseException e) {
            err.println("condense: " + e.getMessage());
            return e.code() == ErrorCode.PLUGIN_FAILURE ? 3 : 2;
        } catch (StatusRuntimeException e) {
            Status status = e.getStatus();
            err.println("condense: " + status.getCode() + ": " + status.getDescription());
            return status.getCode() == Status.Code.INVALID_ARGUMENT ? 2 : 3;
        }
        out.println("The pipeline is valid (" + resolved.getStepsCount() + (resolved.getStepsCount() == 1 ? " step" : " steps")
                + "); nothing was run. Parameters marked * were given, the others are defaults:");
        for (ResolvedStep step : resolved.getStepsList()) {
            out.printf("%n%d. %s  (plugin %s %s)%n", step.getStep(), step.getTechnique(), step.getPluginId(), step.getPluginVersion());
            int width = step.getParametersMap().keySet().stream().mapToInt(String::length).max().orElse(0);
            for (Map.Entry<String, String> parameter : step.getParametersMap().entrySet()) {
                boolean given = step.getExplicitParametersList().contains(parameter.getKey());
                out.printf("   %s %-" + width + "s = %s%n", given ? "*" : " ", parameter.getKey(),
                        parameter.getValue().isEmpty() ? "\"\"" : parameter.getValue());
            }
        }
        return 0;
    }

    /** The parameters of each technique that take an uploaded file ({@code ParameterSpec.acceptsUpload}), as the plugins declare. */
    static Map<String, Set<String>> uploadable(PluginHost host) {
        Map<String, Set<String>> uploadable = new HashMap<>();
        host.techniques().forEach((id, technique) -> uploadable.put(id, technique.descriptor().parameters().stream()
                .filter(ParameterSpec::acceptsUpload).map(ParameterSpec::name).collect(Collectors.toSet())));
        return uploadable;
    }

    /** The parameters of each technique that take an uploaded file, as the server's ListTechniques says. */
    static Map<String, Set<String>> uploadable(ListTechniquesResponse techniques) {
        Map<String, Set<String>> uploadable = new HashMap<>();
        for (TechniqueInfo technique : techniques.getTechniquesList()) {
            uploadable.put(technique.getId(), technique.getParametersList().stream()
                    .filter(ParameterInfo::getAcceptsUpload).map(ParameterInfo::getName).collect(Collectors.toSet()));
        }
        return uploadable;
    }

    /** Whether any parameter value is written {@code @...}, the form of a file to upload. */
    static boolean mayAttach(List<PipelineStep> steps) {
        return steps.stream().flatMap(step -> step.getParametersMap().values().stream())
                .anyMatch(value -> value.length() > 1 && value.charAt(0) == '@');
    }

    /** A job that failed on what it was given (the model, its data, a parameter value), not on the server: exit code 2. */
    static boolean isBadInput(JobError error) {
        try {
            ErrorCode code = ErrorCode.valueOf(error.getCode());
            return code.category() == ErrorCategory.USER && code != ErrorCode.CANCELLED;
        } catch (IllegalArgumentException unknown) {
            return false;
        }
    }

    /**
     * The files named by {@code @FILE} values of parameters that take an uploaded file, in the order they appear. An
     * {@code @} anywhere else is plain text the server validates like any other (an exclude pattern, say): the command
     * never reads or uploads a file a parameter was not declared to take.
     */
    static List<Path> attachedFiles(List<PipelineStep> steps, Map<String, Set<String>> uploadable) {
        List<Path> files = new ArrayList<>();
        for (PipelineStep step : steps) {
            for (Map.Entry<String, String> parameter : step.getParametersMap().entrySet()) {
                if (isAttached(step, parameter, uploadable)) {
                    files.add(Path.of(parameter.getValue().substring(1)));
                }
            }
        }
        return files;
    }

    /** The steps with every {@code @FILE} value of an upload parameter uploaded and replaced by the blob id the upload answered. */
    private static List<PipelineStep> uploadAttached(CondenseClient client, List<PipelineStep> steps, Map<String, Set<String>> uploadable)
            throws IOException {
        List<PipelineStep> uploaded = new ArrayList<>();
        for (PipelineStep step : steps) {
            PipelineStep.Builder builder = step.toBuilder();
            for (Map.Entry<String, String> parameter : step.getParametersMap().entrySet()) {
                if (isAttached(step, parameter, uploadable)) {
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

    private static boolean isAttached(PipelineStep step, Map.Entry<String, String> parameter, Map<String, Set<String>> uploadable) {
        String value = parameter.getValue();
        return value.length() > 1 && value.charAt(0) == '@'
                && uploadable.getOrDefault(step.getTechnique(), Set.of()).contains(parameter.getKey());
    }

    private static void requireFile(Path file, String what) {
        if (file != null && !Files.isRegularFile(file)) {
            throw new IllegalArgumentException(what + " " + file + " is not a readable file");
        }
    }

}
