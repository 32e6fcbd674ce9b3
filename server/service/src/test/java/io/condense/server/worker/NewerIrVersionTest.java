package io.condense.server.worker;

import static org.assertj.core.api.Assertions.assertThat;

import ai.onnx.proto.OnnxMl.AttributeProto;
import ai.onnx.proto.OnnxMl.ModelProto;
import ai.onnx.proto.OnnxMl.NodeProto;
import ai.onnx.proto.OnnxMl.TypeProto;
import ai.onnx.proto.OnnxMl.ValueInfoProto;
import io.condense.sdk.model.OnnxModel;
import io.condense.server.runtime.OnnxRuntimeEvaluator;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

/**
 * A model the onnx package made (IR version 14 from onnx 1.23, whatever it uses) is loaded at the IR version the host's
 * ONNX Runtime reads (found through ServiceLoader, as the workers find it), so its steps, its evaluation and the model
 * written run in ONNX Runtime; one that uses a newer element type keeps what it declares.
 */
class NewerIrVersionTest {
    private static final Path MNIST = Path.of(System.getProperty("condense.shared.dir", "../../../shared"), "models", "mnist8", "model.onnx");

    private static ModelProto mnistDeclaring(long irVersion) throws Exception {
        return OnnxModel.fromBytes(Files.readAllBytes(MNIST)).proto().toBuilder().setIrVersion(irVersion).build();
    }

    @Test
    void aModelDeclaringANewerIrVersionThanTheRuntimeReadsIsLoadedAtTheNewestItReads() throws Exception {
        ModelProto newer = mnistDeclaring(OnnxRuntimeEvaluator.NEWEST_IR_VERSION + 1);
        OnnxModel loaded = ModelLoading.parse(newer.toByteArray(), "the uploaded model");
        assertThat(loaded.proto().getIrVersion()).isEqualTo(OnnxRuntimeEvaluator.NEWEST_IR_VERSION);
        assertThat(loaded.proto().toBuilder().setIrVersion(newer.getIrVersion()).build()).isEqualTo(newer); // nothing else changed
        // an older declaration is left alone
        assertThat(ModelLoading.parse(mnistDeclaring(8).toByteArray(), "the uploaded model").proto().getIrVersion()).isEqualTo(8);
    }

    @Test
    void aModelUsingAnElementTypeNewerThanTheRuntimeKeepsItsIrVersion() throws Exception {
        ModelProto.Builder newer = mnistDeclaring(14).toBuilder();
        // element type 27 (FLOAT6E2M3) came after IR version 13
        newer.getGraphBuilder().addValueInfo(ValueInfoProto.newBuilder().setName("unused").setType(TypeProto.newBuilder()
                .setTensorType(TypeProto.Tensor.newBuilder().setElemType(27))));
        assertThat(ModelLoading.parse(newer.build().toByteArray(), "the uploaded model").proto().getIrVersion()).isEqualTo(14);

        ModelProto.Builder cast = mnistDeclaring(14).toBuilder();
        String input = cast.getGraph().getInput(0).getName();
        cast.getGraphBuilder().addNode(NodeProto.newBuilder().setOpType("Cast").addInput(input).addOutput("unused_int2")
                .addAttribute(AttributeProto.newBuilder().setName("to").setType(AttributeProto.AttributeType.INT).setI(26)));
        assertThat(ModelLoading.parse(cast.build().toByteArray(), "the uploaded model").proto().getIrVersion())
                .isEqualTo(OnnxRuntimeEvaluator.NEWEST_IR_VERSION); // INT2 is an IR 13 type
    }

    @Test
    void aModelImportingTheOnnxPackagesNewestOpsetIsLoadedImportingTheRuntimesWhenItsOperatorsAreTheSame() throws Exception {
        ModelProto.Builder newest = mnistDeclaring(14).toBuilder();
        newest.setOpsetImport(0, newest.getOpsetImport(0).toBuilder().setVersion(28));
        OnnxModel loaded = ModelLoading.parse(newest.build().toByteArray(), "the uploaded model");
        assertThat(loaded.proto().getOpsetImport(0).getVersion()).isEqualTo(OnnxRuntimeEvaluator.NEWEST_OPSET);
        assertThat(loaded.proto().getIrVersion()).isEqualTo(OnnxRuntimeEvaluator.NEWEST_IR_VERSION);
    }
}
