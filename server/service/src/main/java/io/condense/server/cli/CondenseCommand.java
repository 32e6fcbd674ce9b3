package io.condense.server.cli;

import io.condense.server.cli.channel.ChannelCommand;
import io.condense.server.logging.LogConfigurator;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/** The {@code condense} command. */
@Command(name = "condense",
        mixinStandardHelpOptions = true,
        versionProvider = CondenseCommand.Version.class,
        description = "Compresses ONNX models with a pipeline of techniques, in process or through a Condense server.")
public final class CondenseCommand implements Runnable {
    /** In the order the usage lists them; built only when run ({@link LazySubcommands}). */
    static final LazySubcommands SUBCOMMANDS = LazySubcommands.builder()
            .add("serve", arguments -> new ServeCommand())
            .add("compress", arguments -> new CompressCommand())
            .add("decode", arguments -> new DecodeCommand())
            .add("techniques", arguments -> new TechniquesCommand())
            .add("jobs", arguments -> new JobCommands.ListCommand())
            .add("status", arguments -> new JobCommands.StatusCommand())
            .add("cancel", arguments -> new JobCommands.CancelCommand())
            .add("download", arguments -> new JobCommands.DownloadCommand())
            .add("channel", ChannelCommand::commandLine)
            .add("help", arguments -> new CommandLine.HelpCommand())
            .build();

    @CommandLine.Spec
    private CommandLine.Model.CommandSpec spec;

    public static void main(String[] args) {
        // the command line speaks for itself; the server's INFO log is for `serve`
        if (System.getProperty(LogConfigurator.LEVEL_PROPERTY) == null && (args.length == 0 || !"serve".equals(args[0]))) {
            System.setProperty(LogConfigurator.LEVEL_PROPERTY, "WARN");
        }
        int exitCode = commandLine(args).execute(args);
        System.exit(exitCode);
    }

    /** The command line that runs {@code arguments}: the {@code condense} command with the subcommand they name. */
    public static CommandLine commandLine(String... arguments) {
        return SUBCOMMANDS.addTo(new CommandLine(new CondenseCommand()), arguments);
    }

    @Override
    public void run() {
        spec.commandLine().usage(spec.commandLine().getOut());
    }

    static final class Version implements CommandLine.IVersionProvider {
        @Override
        public String[] getVersion() {
            String version = CondenseCommand.class.getPackage().getImplementationVersion();
            return new String[] {"condense " + (version == null ? "(development build)" : version)};
        }
    }
}
