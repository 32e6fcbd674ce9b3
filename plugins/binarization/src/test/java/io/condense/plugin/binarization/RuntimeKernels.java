package io.condense.plugin.binarization;

import ai.onnx.proto.OnnxMl.NodeProto;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import io.condense.sdk.model.OnnxModel;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.TreeMap;

/** How many nodes of each operator ONNX Runtime keeps after optimizing a model at level ALL (its saved optimized graph). */
final class RuntimeKernels {
    private RuntimeKernels() {
    }

    static Map<String, Integer> count(OnnxModel model) {
        try {
            Path folder = Files.createTempDirectory("binarization-kernels");
            Path file = folder.resolve("optimized.onnx");
            try {
                try (OrtSession.SessionOptions options = new OrtSession.SessionOptions()) {
                    options.setOptimizationLevel(OrtSession.SessionOptions.OptLevel.ALL_OPT);
                    options.setOptimizedModelFilePath(file.toString());
                    try (OrtSession session = OrtEnvironment.getEnvironment().createSession(model.toBytes(), options)) {
                        session.getNumInputs();
                    }
                }
                Map<String, Integer> operators = new TreeMap<>();
                for (NodeProto node : OnnxModel.load(file).nodes()) {
                    operators.merge(node.getOpType(), 1, Integer::sum);
                }
                return operators;
            } finally {
                Files.deleteIfExists(file);
                Files.deleteIfExists(folder);
            }
        } catch (IOException | OrtException e) {
            throw new AssertionError("ONNX Runtime could not optimize the model: " + e.getMessage(), e);
        }
    }
}
