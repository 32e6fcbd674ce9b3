package io.condense.server.cli.channel;

import io.condense.proto.v1.Channel;
import io.condense.proto.v1.ChannelPolicy;
import io.condense.proto.v1.CreateChannelRequest;
import io.condense.proto.v1.PipelineStep;
import io.condense.sdk.error.CondenseException;
import io.condense.server.cli.CondenseClient;
import io.condense.server.cli.JobCommands;
import io.condense.server.cli.PipelineParser;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

@Command(name = "create", mixinStandardHelpOptions = true, description = "Creates a channel: a base ONNX model, a pipeline, optional "
        + "evaluation data and a quality gate.")
final class ChannelCreateCommand implements Callable<Integer> {
    @Parameters(index = "0", paramLabel = "NAME")
    String name;

    @Option(names = "--model", required = true, paramLabel = "BASE.onnx", description = "The base model: pushed tensors are checked "
            + "against its initializers and merged into it.")
    Path model;

    @Option(names = "--pipeline", required = true, description = "The steps each version runs, e.g. \"prune(sparsity=0.5) | quantize(bits=8)\".")
    String pipeline;

    @Option(names = "--eval-data", paramLabel = "X.npy", description = "Evaluation inputs (.npy, .npz or IDX).")
    Path evaluationData;

    @Option(names = "--eval-labels", paramLabel = "Y.npy", description = "Class labels of the evaluation inputs.")
    Path evaluationLabels;

    @Option(names = "--calibration-data", paramLabel = "C.npy", description = "Calibration inputs for techniques that use them.")
    Path calibrationData;

    @Option(names = "--gate", description = "Conditions every version must meet, e.g. \"accuracy>=0.85\" (also accuracy_drop, agreement, "
            + "sqnr, cosine); versions that fail are REJECTED.")
    String gate = "";

    @Option(names = "--policy", defaultValue = "latest", description = "latest: versions still waiting when a newer one arrives are "
            + "superseded (default); every: compress each version.")
    String policy;

    @Mixin
    JobCommands.ServerConnection connection = new JobCommands.ServerConnection();

    @Override
    public Integer call() {
        ChannelPolicy chosen = switch (policy.toLowerCase(Locale.ROOT)) {
            case "latest" -> ChannelPolicy.CHANNEL_POLICY_LATEST;
            case "every" -> ChannelPolicy.CHANNEL_POLICY_EVERY;
            default -> null;
        };
        if (chosen == null) {
            System.err.println("condense: unknown --policy '" + policy + "': use latest or every");
            return 2;
        }
        List<PipelineStep> steps;
        try {
            steps = PipelineParser.parse(pipeline);
        } catch (CondenseException e) {
            System.err.println("condense: " + e.getMessage());
            return 2;
        }
        return connection.call(client -> {
            CreateChannelRequest.Builder request = CreateChannelRequest.newBuilder()
                    .setName(name)
                    .addAllSteps(steps)
                    .setGate(gate)
                    .setPolicy(chosen)
                    .setModelId(upload(client, model, "--model"));
            if (evaluationData != null) {
                request.setEvaluationDataId(upload(client, evaluationData, "--eval-data"));
            }
            if (evaluationLabels != null) {
                request.setEvaluationLabelsId(upload(client, evaluationLabels, "--eval-labels"));
            }
            if (calibrationData != null) {
                request.setCalibrationDataId(upload(client, calibrationData, "--calibration-data"));
            }
            Channel channel = new ChannelClient(client.channel()).create(request.build());
            System.out.println("Channel " + channel.getName() + " created (" + JobCommands.pipeline(channel.getStepsList())
                    + (channel.getGate().isEmpty() ? "" : ", gate " + channel.getGate()) + ", policy "
                    + channel.getPolicy().name().substring("CHANNEL_POLICY_".length()).toLowerCase(Locale.ROOT) + ")");
            return 0;
        });
    }

    private static String upload(CondenseClient client, Path file, String option) throws IOException {
        if (!Files.isRegularFile(file)) {
            throw new IllegalArgumentException(option + " " + file + " is not a file");
        }
        return client.upload(file).getBlobId();
    }
}
