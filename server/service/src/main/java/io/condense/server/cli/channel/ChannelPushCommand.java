package io.condense.server.cli.channel;

import io.condense.proto.v1.PushHeader;
import io.condense.proto.v1.PushResult;
import io.condense.proto.v1.WeightsFormat;
import io.condense.sdk.weights.WeightsFile;
import io.condense.server.cli.JobCommands;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

@Command(name = "push", mixinStandardHelpOptions = true, description = "Pushes new weights (safetensors, .npz of named arrays or a whole "
        + "ONNX model; all tensors or only those that changed) and prints the version the server gave them.")
final class ChannelPushCommand implements Callable<Integer> {
    @Parameters(index = "0", paramLabel = "NAME")
    String name;

    @Parameters(index = "1", paramLabel = "WEIGHTS")
    Path weights;

    @Option(names = "--step", defaultValue = "0", description = "The training step the weights come from (shown with the version).")
    long step;

    @Mixin
    JobCommands.ServerConnection connection = new JobCommands.ServerConnection();

    @Override
    public Integer call() {
        if (!Files.isRegularFile(weights)) {
            System.err.println("condense: " + weights + " is not a file");
            return 2;
        }
        WeightsFile.Format named = WeightsFile.Format.ofFileName(weights.getFileName().toString());
        WeightsFormat format = named == null ? WeightsFormat.WEIGHTS_FORMAT_UNSPECIFIED : switch (named) {
            case SAFETENSORS -> WeightsFormat.WEIGHTS_FORMAT_SAFETENSORS;
            case NPZ -> WeightsFormat.WEIGHTS_FORMAT_NPZ;
            case ONNX -> WeightsFormat.WEIGHTS_FORMAT_ONNX;
        };
        return connection.call(client -> {
            PushResult result;
            try (InputStream in = Files.newInputStream(weights)) {
                result = new ChannelClient(client.channel()).push(PushHeader.newBuilder().setChannel(name).setStep(step).setFormat(format).build(), in);
            }
            System.out.println("Version " + result.getVersion() + " of channel " + result.getChannel() + ": " + result.getTensorsCount()
                    + " tensor(s), " + result.getBytes() + " bytes" + (result.getSupersededCount() == 0 ? ""
                            : ", superseding version(s) " + result.getSupersededList()));
            return 0;
        });
    }
}
