package io.condense.server.cli.channel;

import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.util.JsonFormat;
import io.condense.proto.v1.ChannelVersion;
import io.condense.proto.v1.VersionState;
import io.condense.server.cli.JobCommands;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

@Command(name = "watch", mixinStandardHelpOptions = true, description = "Prints each version's outcome as it happens, in order; with -o "
        + "writes NAME-vN.onnx (compressed versions) and NAME-vN.json (every version: state, figures, report) into a folder.")
final class ChannelWatchCommand implements Callable<Integer> {
    @Parameters(index = "0", paramLabel = "NAME")
    String name;

    @Option(names = "--from", defaultValue = "0", description = "The first version to deliver (default: every version from the first).")
    long from;

    @Option(names = "--until", paramLabel = "N", description = "Stop after version N (default: follow until interrupted or the channel is deleted).")
    Long until;

    @Option(names = {"-o", "--output"}, paramLabel = "DIR", description = "Where to write each version's model and JSON.")
    Path output;

    @Mixin
    JobCommands.ServerConnection connection = new JobCommands.ServerConnection();

    @Override
    public Integer call() {
        return connection.call(client -> {
            ChannelClient channels = new ChannelClient(client.channel());
            if (output != null) {
                Files.createDirectories(output);
            }
            long[] last = {0};
            try {
                channels.watch(name, from, version -> {
                    print(version);
                    if (output != null) {
                        write(channels, version);
                    }
                    last[0] = version.getVersion();
                    return until == null || version.getVersion() < until;
                });
            } catch (UncheckedIOException e) {
                throw e.getCause();
            }
            if (until != null && last[0] < until) {
                System.err.println("condense: the channel " + name + " was deleted before version " + until);
                return 1;
            }
            return 0;
        });
    }

    private static void print(ChannelVersion version) {
        StringBuilder line = new StringBuilder("v" + version.getVersion() + "  " + ChannelCommand.state(version.getState()) + "  step "
                + version.getStep());
        version.getFiguresMap().forEach((figure, value) -> line.append(String.format(java.util.Locale.ROOT, "  %s=%.4f", figure, value)));
        if (!version.getReason().isEmpty()) {
            line.append("  (").append(version.getReason()).append(')');
        }
        System.out.println(line);
    }

    private void write(ChannelClient channels, ChannelVersion version) {
        String base = version.getChannel() + "-v" + version.getVersion();
        try {
            if (version.getState() == VersionState.VERSION_STATE_COMPRESSED) {
                channels.download(version.getChannel(), version.getVersion(), output.resolve(base + ".onnx"));
            }
            Files.writeString(output.resolve(base + ".json"), JsonFormat.printer().print(version) + "\n", StandardCharsets.UTF_8);
        } catch (InvalidProtocolBufferException e) {
            throw new IllegalStateException("version " + version.getVersion() + " cannot be written as JSON", e);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
