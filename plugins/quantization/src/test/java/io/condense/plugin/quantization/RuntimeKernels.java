package io.condense.plugin.quantization;

import ai.onnx.proto.OnnxMl.NodeProto;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtSession;
import io.condense.sdk.model.OnnxModel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.TreeMap;

/** The operators ONNX Runtime (optimization level ALL) actually runs for a model: its optimized graph, saved and read back. */
final class RuntimeKernels {
    private RuntimeKernels() {
    }

    static Map<String, Integer> operatorCounts(OnnxModel model) throws Exception {
        Path directory = Files.createTempDirectory("condense-optimized");
        Path optimized = directory.resolve("optimized.onnx");
        try {
            OrtEnvironment environment = OrtEnvironment.getEnvironment();
            try (OrtSession.SessionOptions options = new OrtSession.SessionOptions()) {
                options.setOptimizationLevel(OrtSession.SessionOptions.OptLevel.ALL_OPT);
                options.setOptimizedModelFilePath(optimized.toString());
                try (OrtSession session = environment.createSession(model.toBytes(), options)) {
                    session.getInputNames();
                }
            }
            Map<String, Integer> counts = new TreeMap<>();
            for (NodeProto node : OnnxModel.load(optimized).nodes()) {
                counts.merge(node.getOpType(), 1, Integer::sum);
            }
            return counts;
        } finally {
            Files.deleteIfExists(optimized);
            Files.deleteIfExists(directory);
        }
    }
}
