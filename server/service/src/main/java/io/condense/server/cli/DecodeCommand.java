package io.condense.server.cli;

import io.condense.sdk.coding.PackedModelDecoder;
import io.condense.sdk.error.CondenseException;
import io.condense.sdk.model.OnnxModel;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code condense decode}: a packed model (.cpk, written by the {@code encode} step) back into a plain ONNX model. */
@Command(name = "decode", mixinStandardHelpOptions = true,
        description = "Decodes a packed model (.cpk, written by a pipeline ending in encode) into an ONNX model that ONNX Runtime "
                + "runs; every tensor is bit-identical to the model encode received. Runs locally, no server.",
        exitCodeListHeading = "Exit codes:%n",
        exitCodeList = {"0:decoded and written", "2:the file is not a valid packed model or cannot be read or written"})
final class DecodeCommand implements Callable<Integer> {

    @Parameters(index = "0", paramLabel = "MODEL.cpk", description = "The packed model.")
    Path input;

    @Option(names = {"-o", "--output"}, required = true, paramLabel = "OUT.onnx", description = "Where to write the ONNX model.")
    Path output;

    @Override
    public Integer call() {
        PrintStream out = System.out;
        PrintStream err = System.err;
        try {
            byte[] packed = Files.readAllBytes(input);
            byte[] onnx = new PackedModelDecoder().decode(packed);
            OnnxModel model = OnnxModel.fromBytes(onnx);
            Files.write(output, onnx);
            out.printf("Decoded %s (%d bytes) into %s (%d bytes, %d initializers, %d sparse initializers)%n", input, packed.length, output,
                    onnx.length, model.graph().getInitializerCount(), model.graph().getSparseInitializerCount());
            return 0;
        } catch (CondenseException e) {
            err.println("Cannot decode " + input + ": " + e.code() + ": " + e.getMessage());
            return 2;
        } catch (IOException e) {
            err.println("Cannot decode " + input + ": " + e);
            return 2;
        }
    }
}
