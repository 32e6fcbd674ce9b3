package io.condense.server.runtime;

import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import io.condense.sdk.error.CondenseException;
import io.condense.sdk.error.ErrorCode;
import io.condense.sdk.model.OnnxModel;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.stream.Stream;

/**
 * ONNX Runtime sessions for models too large for one byte array: the model is saved, tensor by tensor from its
 * memory-mapped bytes, as {@code model.onnx} with every tensor of {@value #EXTERNAL_THRESHOLD_BYTES} bytes or more in
 * {@code model.onnx.data} beside it, in a temporary folder; ONNX Runtime opens that file and reads the data file the model
 * names; the folder is deleted once the session is made (ONNX Runtime has read or mapped the data by then). A model
 * over 2 GiB therefore never passes through the heap as one protobuf message.
 */
final class ExternalDataSessions {
    /** The size from which a tensor goes to the data file. */
    static final long EXTERNAL_THRESHOLD_BYTES = 1024;
    /** System property: the folder for the temporary copies (default: the JVM's temporary folder). */
    static final String FOLDER_PROPERTY = "condense.runtime.scratch";

    private ExternalDataSessions() {
    }

    static OrtSession create(OrtEnvironment environment, OnnxModel model, OrtSession.SessionOptions options) throws OrtException {
        Path folder = temporaryFolder();
        try {
            Path file = folder.resolve("model.onnx");
            model.save(file, EXTERNAL_THRESHOLD_BYTES); // RESOURCE_EXHAUSTED naming the file when the disk is full
            return environment.createSession(file.toString(), options);
        } finally {
            deleteRecursively(folder);
        }
    }

    private static Path temporaryFolder() {
        String configured = System.getProperty(FOLDER_PROPERTY);
        try {
            if (configured == null || configured.isBlank()) {
                return Files.createTempDirectory("condense-runtime-");
            }
            Path parent = Path.of(configured);
            Files.createDirectories(parent);
            return Files.createTempDirectory(parent, "condense-runtime-");
        } catch (IOException e) {
            throw new CondenseException(ErrorCode.UNAVAILABLE, "cannot create a temporary folder for a large model's ONNX Runtime "
                    + "session: " + e.getMessage(), e);
        }
    }

    private static void deleteRecursively(Path folder) {
        try (Stream<Path> paths = Files.walk(folder)) {
            paths.sorted(Comparator.reverseOrder()).forEach(path -> path.toFile().delete());
        } catch (IOException e) {
            // best effort: a temporary folder left behind is not worth failing an evaluation for
        }
    }
}
