package io.condense.server.worker;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.condense.sdk.error.CondenseException;
import io.condense.sdk.error.ErrorCode;
import io.condense.sdk.model.OnnxModel;
import io.condense.server.blob.BlobId;
import io.condense.server.blob.BlobStore;
import io.condense.server.blob.ModelBundles;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A step reads a second model the client uploaded (distill's student) by its blob id. */
class UploadedModelTest {
    private static final Path MNIST = Path.of(System.getProperty("condense.shared.dir", "../../../shared"), "models", "mnist8", "model.onnx");

    @TempDir
    Path folder;

    private OnnxModel uploaded(BlobStore blobs, String id) {
        return ModelLoading.uploaded(new ModelBundles(blobs), id, "", folder.resolve("model"));
    }

    @Test
    void anUploadedModelIsReadByItsId() throws Exception {
        BlobStore blobs = new BlobStore(folder.resolve("blobs"), 64L << 20);
        byte[] bytes = Files.readAllBytes(MNIST);
        BlobId id = blobs.put(bytes);
        OnnxModel model = uploaded(blobs, id.hex());
        assertThat(model.toBytes()).isEqualTo(OnnxModel.fromBytes(bytes).toBytes());
    }

    @Test
    void anUnknownIdSaysToUploadFirst() {
        BlobStore blobs = new BlobStore(folder.resolve("blobs"), 64L << 20);
        String missing = "ab".repeat(32);
        assertThatThrownBy(() -> uploaded(blobs, missing)).isInstanceOfSatisfying(CondenseException.class, e -> {
            assertThat(e.code()).isEqualTo(ErrorCode.INVALID_PARAMETER);
            assertThat(e.getMessage()).contains("no uploaded model has the id " + missing).contains("@file.onnx");
        });
        assertThatThrownBy(() -> uploaded(blobs, "student.onnx")).isInstanceOfSatisfying(CondenseException.class, e -> {
            assertThat(e.code()).isEqualTo(ErrorCode.INVALID_PARAMETER);
            assertThat(e.getMessage()).startsWith("'student.onnx' is not a model id").contains("UploadModel");
        });
    }

    @Test
    void aBlobThatIsNoModelIsInvalidModel() {
        BlobStore blobs = new BlobStore(folder.resolve("blobs"), 64L << 20);
        BlobId id = blobs.put("not a model".getBytes(StandardCharsets.UTF_8));
        assertThatThrownBy(() -> uploaded(blobs, id.hex())).isInstanceOfSatisfying(CondenseException.class, e -> {
            assertThat(e.code()).isEqualTo(ErrorCode.INVALID_MODEL);
            assertThat(e.getMessage()).contains("the uploaded model " + id.hex());
        });
    }

    @Test
    void anUploadWithExternalDataSaysHowToUploadItInlineNotToCallTheSdk() {
        ai.onnx.proto.OnnxMl.ModelProto external = ai.onnx.proto.OnnxMl.ModelProto.newBuilder().setIrVersion(8)
                .addOpsetImport(ai.onnx.proto.OnnxMl.OperatorSetIdProto.newBuilder().setVersion(13))
                .setGraph(ai.onnx.proto.OnnxMl.GraphProto.newBuilder().setName("g")
                        .addInitializer(ai.onnx.proto.OnnxMl.TensorProto.newBuilder().setName("w").addDims(4)
                                .setDataType(ai.onnx.proto.OnnxMl.TensorProto.DataType.FLOAT_VALUE)
                                .setDataLocation(ai.onnx.proto.OnnxMl.TensorProto.DataLocation.EXTERNAL)
                                .addExternalData(ai.onnx.proto.OnnxMl.StringStringEntryProto.newBuilder().setKey("location").setValue("w.bin"))))
                .build();
        assertThatThrownBy(() -> ModelLoading.parse(external.toByteArray(), "the uploaded model abc"))
                .isInstanceOfSatisfying(CondenseException.class, e -> {
                    assertThat(e.code()).isEqualTo(ErrorCode.INVALID_EXTERNAL_DATA);
                    assertThat(e.getMessage()).startsWith("the uploaded model abc (").contains("keeps tensor data in external files")
                            .contains("tensor 'w'").contains("'w.bin'").contains("UploadBundle")
                            .doesNotContain("OnnxModel.load");
                });
    }
}
