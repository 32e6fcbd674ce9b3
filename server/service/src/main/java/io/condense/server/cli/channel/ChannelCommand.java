package io.condense.server.cli.channel;

import io.condense.proto.v1.VersionState;
import io.condense.server.cli.LazySubcommands;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/**
 * {@code condense channel}: standing compression jobs fed by a training loop. Exit codes as the operator's commands: 0 done,
 * 1 a version was not compressed where that was asked for, 2 bad input (an unknown channel, a refused update), 3 the server
 * is unavailable.
 */
@Command(name = "channel", mixinStandardHelpOptions = true,
        description = "Channels: a base model and a pipeline that compress every version of weights a training loop pushes.")
public final class ChannelCommand implements Runnable {
    private static final LazySubcommands SUBCOMMANDS = LazySubcommands.builder()
            .add("create", arguments -> new ChannelCreateCommand())
            .add("push", arguments -> new ChannelPushCommand())
            .add("watch", arguments -> new ChannelWatchCommand())
            .add("status", arguments -> new ChannelAdminCommands.Status())
            .add("list", arguments -> new ChannelAdminCommands.ListChannels())
            .add("delete", arguments -> new ChannelAdminCommands.Delete())
            .add("help", arguments -> new CommandLine.HelpCommand())
            .build();

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    /** The {@code channel} command with the subcommand {@code arguments} (those after {@code channel}) name. */
    public static CommandLine commandLine(String... arguments) {
        return SUBCOMMANDS.addTo(new CommandLine(new ChannelCommand()), arguments);
    }

    @Override
    public void run() {
        spec.commandLine().usage(spec.commandLine().getOut());
    }

    static String state(VersionState state) {
        return state.name().substring("VERSION_STATE_".length());
    }
}
