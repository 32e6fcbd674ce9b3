package io.condense.server.cli.channel;

import io.condense.proto.v1.Channel;
import io.condense.proto.v1.ChannelVersion;
import io.condense.server.cli.JobCommands;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Parameters;

/** {@code condense channel status | list | delete}. */
final class ChannelAdminCommands {
    private static final DateTimeFormatter TIME = DateTimeFormatter.ofPattern("yyyy-MM-dd HH:mm:ss").withZone(ZoneOffset.UTC);

    private ChannelAdminCommands() {
    }

    @Command(name = "status", mixinStandardHelpOptions = true, description = "Shows a channel: its pipeline and gate, every version with "
            + "its state, and the lag (versions waiting).")
    static final class Status implements Callable<Integer> {
        @Parameters(index = "0", paramLabel = "NAME")
        String name;

        @Mixin
        JobCommands.ServerConnection connection = new JobCommands.ServerConnection();

        @Override
        public Integer call() {
            return connection.call(client -> {
                Channel channel = new ChannelClient(client.channel()).get(name);
                System.out.printf("channel    %s%n", channel.getName());
                System.out.printf("pipeline   %s%n", JobCommands.pipeline(channel.getStepsList()));
                System.out.printf("gate       %s%n", channel.getGate().isEmpty() ? "none" : channel.getGate());
                System.out.printf("policy     %s%n", channel.getPolicy().name().substring("CHANNEL_POLICY_".length()).toLowerCase(Locale.ROOT));
                System.out.printf("versions   %d pushed, newest compressed v%d, %d waiting%n", channel.getLatestVersion(),
                        channel.getLatestCompressed(), channel.getWaiting());
                for (ChannelVersion version : channel.getVersionsList()) {
                    System.out.printf("v%-5d %-10s step %-8d pushed %s UTC%s%s%n", version.getVersion(), ChannelCommand.state(version.getState()),
                            version.getStep(), TIME.format(Instant.ofEpochMilli(version.getPushedAtMs())),
                            version.getFinishedAtMs() > 0 ? String.format(Locale.ROOT, ", done after %.1f s",
                                    (version.getFinishedAtMs() - version.getPushedAtMs()) / 1000.0) : "",
                            version.getReason().isEmpty() ? "" : "  " + version.getReason());
                }
                return 0;
            });
        }
    }

    @Command(name = "list", mixinStandardHelpOptions = true, description = "Lists the channels.")
    static final class ListChannels implements Callable<Integer> {
        @Mixin
        JobCommands.ServerConnection connection = new JobCommands.ServerConnection();

        @Override
        public Integer call() {
            return connection.call(client -> {
                System.out.printf("%-24s  %-8s  %-10s  %-7s  %s%n", "channel", "versions", "compressed", "waiting", "pipeline");
                for (Channel channel : new ChannelClient(client.channel()).list()) {
                    System.out.printf("%-24s  %-8d  %-10s  %-7d  %s%n", channel.getName(), channel.getLatestVersion(),
                            channel.getLatestCompressed() == 0 ? "-" : "v" + channel.getLatestCompressed(), channel.getWaiting(),
                            JobCommands.pipeline(channel.getStepsList()));
                }
                return 0;
            });
        }
    }

    @Command(name = "delete", mixinStandardHelpOptions = true, description = "Deletes a channel; its watchers' streams end.")
    static final class Delete implements Callable<Integer> {
        @Parameters(index = "0", paramLabel = "NAME")
        String name;

        @Mixin
        JobCommands.ServerConnection connection = new JobCommands.ServerConnection();

        @Override
        public Integer call() {
            return connection.call(client -> {
                new ChannelClient(client.channel()).delete(name);
                System.out.println("Channel " + name + " deleted");
                return 0;
            });
        }
    }
}
