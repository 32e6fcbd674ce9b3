package io.condense.server.cli;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/** The {@code condense} command. */
@Command(name = "condense",
        mixinStandardHelpOptions = true,
        versionProvider = CondenseCommand.Version.class,
        description = "Compresses ONNX models with a pipeline of techniques, in process or through a Condense server.",
        subcommands = {ServeCommand.class, CompressCommand.class, DecodeCommand.class, TechniquesCommand.class, JobCommands.ListCommand.class,
                JobCommands.StatusCommand.class, JobCommands.CancelCommand.class, JobCommands.DownloadCommand.class,
                io.condense.server.cli.channel.ChannelCommand.class,
                CommandLine.HelpCommand.class})
public final class CondenseCommand implements Runnable {

    @CommandLine.Spec
    private CommandLine.Model.CommandSpec spec;

    public static void main(String[] args) {
        // the command line speaks for itself; the server's INFO log is for `serve`
        if (System.getProperty("condense.log.level") == null && (args.length == 0 || !"serve".equals(args[0]))) {
            System.setProperty("condense.log.level", "WARN");
        }
        int exitCode = new CommandLine(new CondenseCommand()).execute(args);
        System.exit(exitCode);
    }

    @Override
    public void run() {
        spec.commandLine().usage(System.out);
    }

    static final class Version implements CommandLine.IVersionProvider {
        @Override
        public String[] getVersion() {
            String version = CondenseCommand.class.getPackage().getImplementationVersion();
            return new String[] {"condense " + (version == null ? "(development build)" : version)};
        }
    }
}
