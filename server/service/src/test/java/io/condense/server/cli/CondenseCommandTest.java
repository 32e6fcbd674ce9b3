package io.condense.server.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.PrintWriter;
import java.io.StringWriter;
import picocli.CommandLine;
import org.junit.jupiter.api.Test;

/** The command line holds only the subcommand being run, and every one when asked for help or given an unknown name. */
class CondenseCommandTest {

    @Test
    void eachNameIsTheNameItsCommandDeclares() {
        CommandLine all = CondenseCommand.commandLine("--help");
        assertThat(all.getSubcommands().keySet()).containsExactlyElementsOf(CondenseCommand.SUBCOMMANDS.names());
        all.getSubcommands().forEach((name, command) -> assertThat(command.getCommandName()).as(name).isEqualTo(name));
        CommandLine channel = all.getSubcommands().get("channel");
        assertThat(channel.getSubcommands().keySet()).containsExactly("create", "push", "watch", "status", "list", "delete", "help");
        channel.getSubcommands().forEach((name, command) -> assertThat(command.getCommandName()).as(name).isEqualTo(name));
    }

    @Test
    void aCommandIsBuiltAloneAndParsesItsOptions() {
        String[] arguments = {"compress", "model.onnx", "--pipeline", "quantize(bits=8)", "-o", "out.onnx", "--server", "127.0.0.1:1"};
        CommandLine line = CondenseCommand.commandLine(arguments);
        assertThat(line.getSubcommands().keySet()).containsExactly("compress");
        CommandLine.ParseResult parsed = line.parseArgs(arguments);
        CompressCommand compress = parsed.subcommand().commandSpec().commandLine().getCommand();
        assertThat(compress.pipeline).isEqualTo("quantize(bits=8)");
        assertThat(compress.server).isEqualTo("127.0.0.1:1");

        CommandLine push = CondenseCommand.commandLine("channel", "push", "mnist", "w.safetensors");
        assertThat(push.getSubcommands().keySet()).containsExactly("channel");
        assertThat(push.getSubcommands().get("channel").getSubcommands().keySet()).containsExactly("push");
    }

    @Test
    void theUsageAndHelpStillListEveryCommand() {
        StringWriter usage = new StringWriter();
        CommandLine line = CondenseCommand.commandLine();
        line.setOut(new PrintWriter(usage));
        assertThat(line.execute()).isZero();
        assertThat(usage.toString()).contains("serve", "compress", "decode", "techniques", "jobs", "status", "cancel", "download", "channel");

        StringWriter help = new StringWriter();
        line = CondenseCommand.commandLine("help", "compress");
        line.setOut(new PrintWriter(help));
        assertThat(line.execute("help", "compress")).isZero();
        assertThat(help.toString()).contains("Usage: condense compress", "--calibration-data");
    }

    @Test
    void aMistypedCommandIsAnsweredWithTheNearestNames() {
        StringWriter err = new StringWriter();
        CommandLine line = CondenseCommand.commandLine("compres", "m.onnx");
        line.setErr(new PrintWriter(err));
        assertThat(line.execute("compres", "m.onnx")).isEqualTo(2);
        assertThat(err.toString()).contains("compres", "compress");
    }
}
