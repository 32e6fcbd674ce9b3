package io.condense.sdk.model;

import static io.condense.sdk.Onnx.floats;
import static io.condense.sdk.Onnx.model;
import static io.condense.sdk.Onnx.node;
import static io.condense.sdk.Onnx.value;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import ai.onnx.proto.OnnxMl.ModelProto;
import ai.onnx.proto.OnnxMl.NodeProto;
import ai.onnx.proto.OnnxMl.StringStringEntryProto;
import ai.onnx.proto.OnnxMl.TensorProto;
import com.google.protobuf.ByteString;
import io.condense.sdk.Onnx;
import io.condense.sdk.SharedFiles;
import io.condense.sdk.error.CondenseException;
import io.condense.sdk.error.ErrorCode;
import io.condense.sdk.tensor.DataType;
import io.condense.sdk.tensor.Tensor;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import org.assertj.core.api.ThrowableAssert.ThrowingCallable;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class OnnxModelTest {
    @TempDir
    Path folder;

    static OnnxModel mnist8() {
        return OnnxModel.load(SharedFiles.require("models/mnist8/model.onnx"));
    }

    static float[] mnistInput() throws IOException {
        TensorProto input = TensorProto.parseFrom(Files.readAllBytes(SharedFiles.require("models/mnist8/test_data_set_0/input_0.pb")));
        return Tensor.fromProto(input).toFloatArray();
    }

    static float[] mnistReference() throws IOException {
        TensorProto output = TensorProto.parseFrom(Files.readAllBytes(SharedFiles.require("models/mnist8/test_data_set_0/output_0.pb")));
        return Tensor.fromProto(output).toFloatArray();
    }

    @Test
    void loadsMnist8() throws IOException {
        OnnxModel model = mnist8();
        assertThat(model.opsetVersion("")).contains(8L);
        assertThat(model.opsetVersion("ai.onnx")).contains(8L);
        assertThat(model.opsetVersion("com.microsoft")).isEmpty();
        assertThat(model.inputs()).extracting(v -> v.getName()).containsExactly("Input3");
        assertThat(model.graph().getInputCount()).isEqualTo(9); // the old export lists its 8 initializers as inputs too
        assertThat(model.outputs()).extracting(v -> v.getName()).containsExactly("Plus214_Output_0");
        assertThat(model.initializers()).hasSize(8);
        assertThat(model.initializers().stream().mapToLong(InitializerInfo::elements).sum()).isEqualTo(5998);
        InitializerInfo conv = model.initializers().stream().filter(i -> i.name().equals("Parameter5")).findFirst().orElseThrow();
        assertThat(conv.dataType()).isEqualTo(DataType.FLOAT);
        assertThat(conv.shape()).containsExactly(8, 1, 5, 5);
        assertThat(conv.bytes()).isEqualTo(800);
        assertThat(conv.sparse()).isFalse();
        assertThat(model.tensor("Parameter5").elementCount()).isEqualTo(200);
        assertThatThrownBy(() -> model.tensor("nope")).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("nope");

        float[] output = Onnx.run(model, "Input3", new long[] {1, 1, 28, 28}, mnistInput()).get(0);
        assertThat(output).containsExactly(mnistReference(), within(1e-4f));
    }

    @Test
    void findsProducersConsumersAndWeightLayers() {
        OnnxModel model = mnist8();
        NodeProto conv = model.producer("Convolution28_Output_0").orElseThrow();
        assertThat(conv.getOpType()).isEqualTo("Conv");
        assertThat(model.producer("Input3")).isEmpty();
        assertThat(model.producer("Parameter5")).isEmpty();
        assertThat(model.consumers("Input3")).extracting(NodeProto::getOpType).containsExactly("Conv");
        assertThat(model.consumers("Parameter5")).extracting(NodeProto::getOpType).containsExactly("Conv");
        assertThat(model.consumers("unknown")).isEmpty();

        // mnist-8 reshapes its MatMul weight at run time, so only the Conv weights are initializers ...
        assertThat(model.weightLayers()).extracting(WeightLayer::opType).containsExactly("Conv", "Conv");
        // ... until the reshape is folded into an initializer
        OnnxModel folded = model.edit().foldConstantReshapes().build();
        assertThat(model.nodes()).filteredOn(n -> n.getOpType().equals("Reshape")).hasSize(2);
        assertThat(folded.nodes()).filteredOn(n -> n.getOpType().equals("Reshape")).hasSize(1); // the activation reshape stays
        assertThat(folded.isInitializer("Parameter193")).isFalse();
        List<WeightLayer> layers = folded.weightLayers();
        assertThat(layers).extracting(WeightLayer::opType).containsExactly("Conv", "Conv", "MatMul");
        WeightLayer first = layers.get(0);
        assertThat(first.weightName()).isEqualTo("Parameter5");
        assertThat(first.outputChannelAxis()).isZero();
        assertThat(first.inputChannelAxis()).isEqualTo(1);
        assertThat(folded.nodes().get(first.nodeIndex())).isEqualTo(first.node());
        WeightLayer matmul = layers.get(2);
        assertThat(folded.tensor(matmul.weightName()).shape()).containsExactly(256, 10);
        assertThat(matmul.outputChannelAxis()).isEqualTo(1);
        assertThat(matmul.inputChannelAxis()).isZero();
        assertThat(matmul.biasName()).isNull();
    }

    @Test
    void gemmWeightAxisFollowsTransB() {
        OnnxModel model = OnnxModel.load(SharedFiles.require("models/pytorch_cnn_mnist.onnx"));
        List<WeightLayer> gemms = model.weightLayers().stream().filter(l -> l.opType().equals("Gemm")).toList();
        assertThat(gemms).hasSize(2);
        assertThat(gemms.get(0).weightName()).isEqualTo("fc1.weight");
        assertThat(gemms.get(0).biasName()).isEqualTo("fc1.bias");
        assertThat(gemms.get(0).outputChannelAxis()).isZero(); // transB=1: weight is [out, in]
        assertThat(gemms.get(0).inputChannelAxis()).isEqualTo(1);

        ModelProto untransposed = model(13, List.of(value("x", 1, 3)), List.of(value("y", 1, 2)),
                List.of(node("Gemm", List.of("x", "b", "c"), List.of("y"))),
                List.of(floats("b", new long[] {3, 2}, 1, 2, 3, 4, 5, 6), floats("c", new long[] {2}, 1, 1)));
        WeightLayer layer = OnnxModel.of(untransposed).weightLayers().get(0);
        assertThat(layer.outputChannelAxis()).isEqualTo(1);
        assertThat(layer.biasName()).isEqualTo("c");

        ModelProto leftWeight = model(13, List.of(value("x", 3, 1)), List.of(value("y", 2, 1)),
                List.of(node("MatMul", List.of("w", "x"), List.of("y"))), List.of(floats("w", new long[] {2, 3}, 1, 2, 3, 4, 5, 6)));
        WeightLayer left = OnnxModel.of(leftWeight).weightLayers().get(0);
        assertThat(left.weightName()).isEqualTo("w");
        assertThat(left.outputChannelAxis()).isZero();
        assertThat(left.inputChannelAxis()).isEqualTo(1);
    }

    @Test
    void oldExportsListingInitializersAsInputsAreHandled() {
        OnnxModel model = OnnxModel.load(SharedFiles.require("models/ultraface/version-RFB-320.onnx"));
        assertThat(model.graph().getInputCount()).isEqualTo(245);
        assertThat(model.inputs()).extracting(v -> v.getName()).containsExactly("input");
        assertThat(model.weightLayers()).hasSize(52);
    }

    @Test
    void savesInlineAndLoadsBack() throws IOException {
        OnnxModel model = mnist8();
        Path file = folder.resolve("sub/model.onnx");
        model.save(file);
        byte[] written = Files.readAllBytes(file);
        assertThat(written).isEqualTo(model.toBytes());
        assertThat(model.serializedSize()).isEqualTo(written.length);
        assertThat(OnnxModel.load(file).proto()).isEqualTo(model.proto());
        assertThat(OnnxModel.fromBytes(written).proto()).isEqualTo(model.proto());
    }

    @Test
    void savesLargeTensorsAsAlignedExternalDataThatLoadsBackAndRuns() throws IOException {
        OnnxModel model = mnist8();
        Path file = folder.resolve("external.onnx");
        model.save(file, 1024);
        Path data = folder.resolve("external.onnx.data");
        assertThat(data).exists();
        ModelProto raw = ModelProto.parseFrom(Files.readAllBytes(file));
        int external = 0;
        for (TensorProto tensor : raw.getGraph().getInitializerList()) {
            if (tensor.getDataLocation() == TensorProto.DataLocation.EXTERNAL) {
                external++;
                assertThat(tensor.hasRawData()).isFalse();
                assertThat(ExternalData.entry(tensor, "location")).isEqualTo("external.onnx.data");
                assertThat(Long.parseLong(ExternalData.entry(tensor, "offset")) % 4096).isZero();
                assertThat(Long.parseLong(ExternalData.entry(tensor, "length"))).isGreaterThanOrEqualTo(1024);
            } else {
                assertThat(tensor.getRawData().size()).isLessThan(1024);
            }
        }
        assertThat(external).isEqualTo(2); // the second Conv weight (12,800 bytes) and the MatMul weight (10,240 bytes)
        assertThat(Files.size(file)).isLessThan(model.serializedSize() - 20_000);

        OnnxModel loaded = OnnxModel.load(file);
        assertThat(loaded.nodes()).isEqualTo(model.nodes());
        for (InitializerInfo info : model.initializers()) {
            assertThat(loaded.tensor(info.name()).rawByteString()).isEqualTo(model.tensor(info.name()).rawByteString());
        }
        float[] output = Onnx.run(file, "Input3", new long[] {1, 1, 28, 28}, mnistInput()).get(0);
        assertThat(output).containsExactly(mnistReference(), within(1e-4f));
        assertThatThrownBy(() -> OnnxModel.fromBytes(Files.readAllBytes(file)))
                .satisfies(e -> assertCode(e, ErrorCode.INVALID_EXTERNAL_DATA))
                .hasMessageContaining("load it from its file");
    }

    @Test
    void truncatedFileIsATypedError() throws IOException {
        byte[] bytes = Files.readAllBytes(SharedFiles.require("models/mnist8/model.onnx"));
        for (double fraction : new double[] {0.1, 0.5, 0.9, 0.999}) {
            byte[] cut = Arrays.copyOf(bytes, (int) (bytes.length * fraction));
            assertThatThrownBy(() -> OnnxModel.fromBytes(cut))
                    .as("cut at %s", fraction)
                    .satisfies(e -> assertCode(e, ErrorCode.TRUNCATED_MODEL))
                    .hasMessageContaining("ends early");
            Path file = folder.resolve("cut.onnx");
            Files.write(file, cut);
            assertThatThrownBy(() -> OnnxModel.load(file)).satisfies(e -> assertCode(e, ErrorCode.TRUNCATED_MODEL));
        }
    }

    @Test
    void bytesThatAreNotOnnxAreATypedError() throws IOException {
        byte[] jpeg = Files.readAllBytes(SharedFiles.require("models/ultraface/1.jpg"));
        assertThatThrownBy(() -> OnnxModel.fromBytes(jpeg))
                .satisfies(e -> assertCode(e, ErrorCode.INVALID_MODEL)).hasMessageContaining("not an ONNX model");
        for (byte[] bytes : List.of("hello, this is text".getBytes(), new byte[0], new byte[] {8, 1})) {
            assertThatThrownBy(() -> OnnxModel.fromBytes(bytes)).satisfies(e -> assertCode(e, ErrorCode.INVALID_MODEL))
                    .hasMessageContaining("not an ONNX model");
        }
    }

    @Test
    void validatesWhatProtobufLetsThrough() {
        ModelProto valid = tinyModel();
        OnnxModel.of(valid);
        assertError(() -> OnnxModel.of(valid.toBuilder().clearGraph().build()), ErrorCode.INVALID_MODEL, "no graph");
        assertError(() -> OnnxModel.of(valid.toBuilder().clearIrVersion().build()), ErrorCode.INVALID_MODEL, "IR version");
        assertError(() -> OnnxModel.of(valid.toBuilder().clearOpsetImport().build()), ErrorCode.TRUNCATED_MODEL, "opset import");
        assertError(() -> OnnxModel.of(valid.toBuilder().setGraph(valid.getGraph().toBuilder().clearOutput()).build()),
                ErrorCode.TRUNCATED_MODEL, "no outputs");
        assertError(() -> OnnxModel.of(valid.toBuilder().setGraph(valid.getGraph().toBuilder().clearInitializer()).build()),
                ErrorCode.INVALID_MODEL, "'w'");
    }

    @Test
    void tensorWhoseDeclaredSizeDisagreesWithItsBytesIsATypedError() {
        OnnxModel model = mnist8();
        TensorProto weight = model.initializer("Parameter5").orElseThrow();
        TensorProto broken = weight.toBuilder().clearFloatData().setRawData(Tensor.fromProto(weight).rawByteString().substring(0, 796)).build();
        ModelProto proto = model.proto().toBuilder().setGraph(model.graph().toBuilder().setInitializer(
                model.graph().getInitializerList().indexOf(weight), broken)).build();
        assertError(() -> OnnxModel.fromBytes(proto.toByteArray()), ErrorCode.TENSOR_SIZE_MISMATCH, "Parameter5");
        assertThatThrownBy(() -> OnnxModel.of(proto)).hasMessageContaining("800").hasMessageContaining("796")
                .hasMessageContaining("[8, 1, 5, 5]").hasMessageContaining("float32");
    }

    @Test
    void externalDataOutsideTheModelFolderIsRefused() throws IOException {
        Path models = Files.createDirectories(folder.resolve("models"));
        Files.write(folder.resolve("secret.bin"), new byte[24]);
        for (String location : List.of("../secret.bin", "sub/../../secret.bin", folder.resolve("secret.bin").toString())) {
            Path file = models.resolve("escape.onnx");
            Files.write(file, externalModel(location, 0, 24).toByteArray());
            assertError(() -> OnnxModel.load(file), ErrorCode.INVALID_EXTERNAL_DATA, "'w'");
            assertThatThrownBy(() -> OnnxModel.load(file)).hasMessageContaining(location);
        }
    }

    @Test
    void symbolicLinkLeavingTheFolderIsRefused() throws IOException {
        Path models = Files.createDirectories(folder.resolve("models"));
        Path secret = Files.write(folder.resolve("secret.bin"), new byte[24]);
        Files.createSymbolicLink(models.resolve("weights.bin"), secret);
        Path file = models.resolve("link.onnx");
        Files.write(file, externalModel("weights.bin", 0, 24).toByteArray());
        assertError(() -> OnnxModel.load(file), ErrorCode.INVALID_EXTERNAL_DATA, "outside the model's folder");
    }

    @Test
    void missingOrShortExternalFileIsRefused() throws IOException {
        Path file = folder.resolve("model.onnx");
        Files.write(file, externalModel("weights.bin", 0, 24).toByteArray());
        assertError(() -> OnnxModel.load(file), ErrorCode.INVALID_EXTERNAL_DATA, "there is no such file at "
                + folder.toAbsolutePath().normalize().resolve("weights.bin"));
        Files.write(folder.resolve("weights.bin"), new byte[20]);
        assertError(() -> OnnxModel.load(file), ErrorCode.INVALID_EXTERNAL_DATA, "holds 20 bytes");
        Files.write(folder.resolve("weights.bin"), new byte[4096 + 24]);
        Files.write(file, externalModel("weights.bin", 4096, 24).toByteArray());
        OnnxModel model = OnnxModel.load(file);
        assertThat(model.tensor("w").toFloatArray()).containsOnly(0f);
        assertThat(model.initializer("w").orElseThrow().getDataLocation()).isEqualTo(TensorProto.DataLocation.DEFAULT);
    }

    @Test
    void sparseInitializersAreListedDensifiedAndRun() throws IOException {
        OnnxModel model = mnist8();
        Tensor weight = model.tensor("Parameter193");
        float[] values = weight.toFloatArray();
        for (int i = 0; i < values.length; i += 2) {
            values[i] = 0f;
        }
        Tensor pruned = Tensor.fromFloats("Parameter193", DataType.FLOAT, weight.shape(), values);
        OnnxModel sparse = model.edit().putSparseInitializer(pruned.toSparseProto()).build();
        InitializerInfo info = sparse.initializers().stream().filter(i -> i.name().equals("Parameter193")).findFirst().orElseThrow();
        assertThat(info.sparse()).isTrue();
        assertThat(info.elements()).isEqualTo(2560);
        assertThat(info.bytes()).isEqualTo(1280 * 4 + 1280 * 8);
        assertThat(sparse.isInitializer("Parameter193")).isTrue();
        assertThat(sparse.initializer("Parameter193")).isEmpty();
        assertThat(sparse.sparseInitializer("Parameter193")).isPresent();
        assertThat(sparse.tensor("Parameter193").rawByteString()).isEqualTo(pruned.rawByteString());

        OnnxModel dense = model.edit().putInitializer(pruned.toProto()).build();
        float[] expected = Onnx.run(dense, "Input3", new long[] {1, 1, 28, 28}, mnistInput()).get(0);
        float[] actual = Onnx.run(sparse, "Input3", new long[] {1, 1, 28, 28}, mnistInput()).get(0);
        assertThat(actual).containsExactly(expected, within(1e-5f));
    }

    @Test
    void keepsInitializersOfTypesItCannotView() {
        TensorProto doubles = TensorProto.newBuilder().setName("d").setDataType(11).addDims(2).addDoubleData(1).addDoubleData(2).build();
        ModelProto proto = model(13, List.of(value("x", 2)), List.of(value("y", 2)),
                List.of(node("Identity", List.of("x"), List.of("y"))), List.of(doubles));
        OnnxModel model = OnnxModel.of(proto);
        assertThat(model.initializers()).isEmpty();
        assertThat(model.initializer("d")).isPresent();
        assertThatThrownBy(() -> model.tensor("d")).satisfies(e -> assertCode(e, ErrorCode.UNSUPPORTED_MODEL));
        TensorProto wrongCount = doubles.toBuilder().addDoubleData(3).build();
        assertError(() -> OnnxModel.of(proto.toBuilder().setGraph(proto.getGraph().toBuilder().setInitializer(0, wrongCount)).build()),
                ErrorCode.TENSOR_SIZE_MISMATCH, "double");
    }

    @Test
    void modelsBeyondTheProtobufLimitAreValidButCannotBeOneMessage() {
        // a rope of one shared 16 MiB chunk: 1.1 GiB per tensor without allocating it
        ByteString chunk = ByteString.copyFrom(new byte[16 << 20]);
        ByteString big = ByteString.EMPTY;
        for (int i = 0; i < 70; i++) {
            big = big.concat(chunk);
        }
        TensorProto first = TensorProto.newBuilder().setName("a").setDataType(1).addDims(big.size() / 4).setRawData(big).build();
        TensorProto second = first.toBuilder().setName("b").build();
        ModelProto proto = model(13, List.of(value("x", 1)), List.of(value("y", 1)),
                List.of(node("Add", List.of("a", "b"), List.of("y"))), List.of(first, second));
        OnnxModel model = OnnxModel.of(proto);
        assertThat(model.fitsInline()).isFalse();
        assertThat(model.serializedSize()).isGreaterThan(2L * big.size());
        assertError(model::toBytes, ErrorCode.RESOURCE_EXHAUSTED, "save it with external data");
    }

    @Test
    void missingFileIsNotFound() {
        assertError(() -> OnnxModel.load(folder.resolve("absent.onnx")), ErrorCode.NOT_FOUND, "absent.onnx");
    }

    static ModelProto tinyModel() {
        return model(13, List.of(value("x", 1, 2)), List.of(value("y", 1, 2)),
                List.of(node("Add", List.of("x", "w"), List.of("y"))), List.of(floats("w", new long[] {2}, 1f, 2f)));
    }

    private static ModelProto externalModel(String location, long offset, long length) {
        TensorProto external = TensorProto.newBuilder().setName("w").setDataType(1).addDims(6)
                .setDataLocation(TensorProto.DataLocation.EXTERNAL)
                .addExternalData(StringStringEntryProto.newBuilder().setKey("location").setValue(location))
                .addExternalData(StringStringEntryProto.newBuilder().setKey("offset").setValue(Long.toString(offset)))
                .addExternalData(StringStringEntryProto.newBuilder().setKey("length").setValue(Long.toString(length)))
                .build();
        return model(13, List.of(value("x", 6)), List.of(value("y", 6)), List.of(node("Add", List.of("x", "w"), List.of("y"))),
                List.of(external));
    }

    static void assertError(ThrowingCallable call, ErrorCode code, String text) {
        assertThatThrownBy(call).isInstanceOf(CondenseException.class)
                .satisfies(e -> assertCode(e, code))
                .hasMessageContaining(text);
    }

    static void assertCode(Throwable error, ErrorCode code) {
        assertThat(error).isInstanceOf(CondenseException.class);
        assertThat(((CondenseException) error).code()).as(error.getMessage()).isEqualTo(code);
    }

}
