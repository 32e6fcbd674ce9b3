package io.condense.plugin.pruning;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import ai.onnx.proto.OnnxMl.GraphProto;
import ai.onnx.proto.OnnxMl.ModelProto;
import ai.onnx.proto.OnnxMl.NodeProto;
import ai.onnx.proto.OnnxMl.OperatorSetIdProto;
import ai.onnx.proto.OnnxMl.StringStringEntryProto;
import ai.onnx.proto.OnnxMl.TensorProto;
import ai.onnx.proto.OnnxMl.TensorShapeProto;
import ai.onnx.proto.OnnxMl.TypeProto;
import ai.onnx.proto.OnnxMl.ValueInfoProto;
import io.condense.sdk.data.Dataset;
import io.condense.sdk.data.NdArray;
import io.condense.sdk.error.CondenseException;
import io.condense.sdk.error.ErrorCode;
import io.condense.sdk.model.OnnxModel;
import io.condense.sdk.technique.Parameters;
import io.condense.sdk.testkit.TestStepContext;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A model over 2 GiB (two 1.03 GiB MatMul weights in a sparse external data file: holes the file system does not store)
 * loads with its tensors mapped; SparseGPT takes it one weight at a time from one calibration pass
 * ({@link OnePassSparseGpt}), so what needs every weight at once (scope=global, the default for a sparsity) is refused at
 * once with what to do instead. The one-pass path itself is tested on a small model ({@code PruneMethodsTest}); pruning
 * these two 16384-wide weights would take an hour of Cholesky factoring.
 */
class LargeModelPruningTest {
    private static final int ROWS = 16384;
    private static final int COLUMNS = 16896;

    @TempDir
    Path folder;

    @Test
    void sparseGptWithAGlobalScopeOnAModelOverTwoGibibytesSaysWhatToDo() throws IOException {
        long bytes = 4L * ROWS * COLUMNS;
        long second = (bytes + 4095) / 4096 * 4096;
        try (FileChannel channel = FileChannel.open(folder.resolve("big.onnx.data"), StandardOpenOption.CREATE_NEW,
                StandardOpenOption.WRITE)) {
            channel.write(ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putFloat(1f).flip(), second + bytes - 4);
        }
        GraphProto graph = GraphProto.newBuilder().setName("big").addInput(value("x", ROWS)).addOutput(value("y", COLUMNS))
                .addInitializer(external("a", 0, bytes)).addInitializer(external("b", second, bytes))
                .addNode(NodeProto.newBuilder().setOpType("MatMul").addInput("x").addInput("a").addOutput("ya"))
                .addNode(NodeProto.newBuilder().setOpType("MatMul").addInput("x").addInput("b").addOutput("yb"))
                .addNode(NodeProto.newBuilder().setOpType("Add").addInput("ya").addInput("yb").addOutput("y")).build();
        Files.write(folder.resolve("big.onnx"), ModelProto.newBuilder().setIrVersion(8).setGraph(graph)
                .addOpsetImport(OperatorSetIdProto.newBuilder().setVersion(17)).build().toByteArray());
        OnnxModel model = OnnxModel.load(folder.resolve("big.onnx"));
        assertThat(model.fitsInline()).isFalse();

        Map<String, String> values = Map.of("method", "sparsegpt", "sparsity", "0.5");
        PruneTechnique technique = new PruneTechnique();
        Parameters parameters = Parameters.validate(technique.descriptor().parameters(), values);
        try (TestStepContext context = TestStepContext.builder().technique(technique, values)
                .calibrationData(Dataset.of(NdArray.ofFloats(new long[] {1, 1, ROWS}, new float[ROWS]))).build()) {
            CondenseException error = catchThrowableOfType(CondenseException.class, () -> technique.apply(model, parameters, context));
            assertThat(error.code()).isEqualTo(ErrorCode.UNSUPPORTED_MODEL);
            assertThat(error).hasMessageContaining("2 GiB").hasMessageContaining("scope=global").hasMessageContaining("scope=layer")
                    .hasMessageContaining("2:4");
        }
    }

    private static TensorProto external(String name, long offset, long length) {
        return TensorProto.newBuilder().setName(name).setDataType(1).addDims(ROWS).addDims(COLUMNS)
                .setDataLocation(TensorProto.DataLocation.EXTERNAL)
                .addExternalData(StringStringEntryProto.newBuilder().setKey("location").setValue("big.onnx.data"))
                .addExternalData(StringStringEntryProto.newBuilder().setKey("offset").setValue(Long.toString(offset)))
                .addExternalData(StringStringEntryProto.newBuilder().setKey("length").setValue(Long.toString(length))).build();
    }

    private static ValueInfoProto value(String name, long size) {
        return ValueInfoProto.newBuilder().setName(name).setType(TypeProto.newBuilder().setTensorType(TypeProto.Tensor.newBuilder()
                .setElemType(1).setShape(TensorShapeProto.newBuilder()
                        .addDim(TensorShapeProto.Dimension.newBuilder().setDimValue(1))
                        .addDim(TensorShapeProto.Dimension.newBuilder().setDimValue(size))))).build();
    }
}
