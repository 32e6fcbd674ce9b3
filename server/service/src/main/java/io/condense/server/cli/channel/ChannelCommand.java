package io.condense.server.cli.channel;

import io.condense.proto.v1.VersionState;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/**
 * {@code condense channel}: standing compression jobs fed by a training loop. Exit codes as the operator's commands: 0 done,
 * 1 a version was not compressed where that was asked for, 2 bad input (an unknown channel, a refused update), 3 the server
 * is unavailable.
 */
@Command(name = "channel", mixinStandardHelpOptions = true,
        description = "Channels: a base model and a pipeline that compress every version of weights a training loop pushes.",
        subcommands = {ChannelCreateCommand.class, ChannelPushCommand.class, ChannelWatchCommand.class, ChannelAdminCommands.Status.class,
                ChannelAdminCommands.ListChannels.class, ChannelAdminCommands.Delete.class, CommandLine.HelpCommand.class})
public final class ChannelCommand implements Runnable {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(System.out);
    }

    static String state(VersionState state) {
        return state.name().substring("VERSION_STATE_".length());
    }
}
