package io.condense.sdk.model;

import static io.condense.sdk.Onnx.model;
import static io.condense.sdk.Onnx.node;
import static io.condense.sdk.Onnx.value;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import ai.onnx.proto.OnnxMl.ModelProto;
import ai.onnx.proto.OnnxMl.StringStringEntryProto;
import ai.onnx.proto.OnnxMl.TensorProto;
import io.condense.sdk.Onnx;
import io.condense.sdk.error.ErrorCode;
import io.condense.sdk.tensor.LargeTensor;
import io.condense.sdk.tensor.OffHeapBytes;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Models over 2 GiB: external data is memory-mapped tensor by tensor, the model is valid, and saving writes external
 * data. The big data file is sparse (a few written floats, the rest holes the file system does not store), so the test
 * costs seconds and little disk until the model is saved.
 */
class LargeModelTest {
    /** Two [16384, 16896] float weights: 1.03 GiB each, 2.06 GiB together. */
    private static final int ROWS = 16384;
    private static final int COLUMNS = 16896;
    private static final long TENSOR_BYTES = 4L * ROWS * COLUMNS;

    @TempDir
    Path folder;

    @Test
    void loadsAModelOverTwoGibibytesMappedAndSavesItWithExternalData() throws IOException {
        Path file = folder.resolve("big.onnx");
        long secondOffset = (TENSOR_BYTES + 4095) / 4096 * 4096;
        try (FileChannel channel = FileChannel.open(folder.resolve("big.onnx.data"), StandardOpenOption.CREATE_NEW,
                StandardOpenOption.WRITE)) {
            putFloat(channel, 0, 1.5f);
            putFloat(channel, 4L * (ROWS * (long) COLUMNS - 1), -2.5f);
            putFloat(channel, secondOffset + 4L * 12345, 7f);
            putFloat(channel, secondOffset + TENSOR_BYTES - 4, 3f);
        }
        Files.write(file, bigModel(0, secondOffset).toByteArray());

        OnnxModel model = OnnxModel.load(file);
        assertThat(model.serializedSize()).isGreaterThan(Integer.MAX_VALUE);
        assertThat(model.fitsInline()).isFalse();
        assertThat(model.tensor("a").getFloat(0)).isEqualTo(1.5f);
        assertThat(model.tensor("a").getFloat((long) ROWS * COLUMNS - 1)).isEqualTo(-2.5f);
        assertThat(model.tensor("b").getFloat(12345)).isEqualTo(7f);
        assertThat(model.tensor("b").getFloat(1)).isZero();
        // mapped, not copied: the tensor's bytes are a direct (off-heap) buffer
        assertThat(model.tensor("a").raw().isDirect()).isTrue();

        Path copy = folder.resolve("out/copy.onnx");
        model.save(copy);
        ModelProto written = ModelProto.parseFrom(Files.readAllBytes(copy));
        assertThat(written.getGraph().getInitializerList()).allSatisfy(tensor ->
                assertThat(tensor.getDataLocation()).isEqualTo(TensorProto.DataLocation.EXTERNAL));
        OnnxModel reloaded = OnnxModel.load(copy);
        assertThat(reloaded.tensor("a").getFloat((long) ROWS * COLUMNS - 1)).isEqualTo(-2.5f);
        assertThat(reloaded.tensor("b").getFloat(12345)).isEqualTo(7f);
        assertThat(reloaded.tensor("b").getFloat((long) ROWS * COLUMNS - 1)).isEqualTo(3f);
    }

    @Test
    void savingOverTheFilesAModelIsMappedFromKeepsItsData() throws IOException {
        Path file = folder.resolve("small.onnx");
        float[] weights = new float[32 * 1024];
        for (int i = 0; i < weights.length; i++) {
            weights[i] = i % 7 - 3;
        }
        ModelProto proto = model(13, List.of(value("x", 1, 32)), List.of(value("y", 1, 1024)),
                List.of(node("MatMul", List.of("x", "w"), List.of("y"))), List.of(Onnx.floats("w", new long[] {32, 1024}, weights)));
        OnnxModel.of(proto).save(file, 1024);
        OnnxModel mapped = OnnxModel.load(file);
        assertThat(mapped.tensor("w").raw().isDirect()).isTrue();
        mapped.save(file, 1024); // the data file is replaced, not truncated under its own mapping
        float[] input = new float[32];
        input[3] = 1f;
        float[] output = Onnx.run(file, "x", new long[] {1, 32}, input).get(0);
        for (int column = 0; column < 1024; column++) {
            assertThat(output[column]).isEqualTo(weights[3 * 1024 + column], within(0f));
        }
        assertThat(OnnxModel.load(file).tensor("w").toFloatArray()).containsExactly(weights);
    }

    @Test
    void aTensorOverTwoGibibytesStaysInItsFileIsReadInPlaceAndSavedBack() throws IOException {
        Path file = folder.resolve("huge.onnx");
        long elements = (1L << 29) + 1024; // 2 GiB + 4 KiB of floats
        try (FileChannel channel = FileChannel.open(folder.resolve("huge.onnx.data"), StandardOpenOption.CREATE_NEW,
                StandardOpenOption.WRITE)) {
            putFloat(channel, 4 * (elements - 1), 1f);
        }
        TensorProto huge = external("h", new long[] {elements}, "huge.onnx.data", 0, 4 * elements);
        Files.write(file, model(13, List.of(value("x", elements)), List.of(value("y", elements)),
                List.of(node("Add", List.of("x", "h"), List.of("y"))), List.of(huge)).toByteArray());
        OnnxModel model = OnnxModel.load(file);
        assertThat(model.fitsInline()).isFalse();
        assertThat(model.serializedSize()).isGreaterThan(4 * elements);
        // code that would read it whole is refused, saying what can read it
        OnnxModelTest.assertError(() -> model.tensor("h"), ErrorCode.RESOURCE_EXHAUSTED, "granularity=block");
        OnnxModelTest.assertError(model::toBytes, ErrorCode.RESOURCE_EXHAUSTED, "external data");
        LargeTensor mapped = model.largeTensor("h").orElseThrow();
        assertThat(mapped.elements()).isEqualTo(elements);
        assertThat(mapped.getFloat(elements - 1)).isEqualTo(1f);
        assertThat(mapped.getFloat(0)).isZero();
        assertThat(model.largeTensor("x")).isEmpty();

        // saved elsewhere, its bytes are copied file to file into the new data file, which loads back
        Path saved = folder.resolve("saved").resolve("copy.onnx");
        model.save(saved);
        assertThat(Files.size(saved.resolveSibling("copy.onnx.data"))).isEqualTo(4 * elements);
        OnnxModel reloaded = OnnxModel.load(saved);
        assertThat(reloaded.largeTensor("h").orElseThrow().getFloat(elements - 1)).isEqualTo(1f);
        // the file names the data file as ONNX does, without the loader's path
        assertThat(ExternalFiles.readModelFile(saved).getGraph().getInitializer(0).getExternalDataList())
                .noneMatch(entry -> entry.getKey().equals(LargeTensor.SOURCE_KEY));
        assertThat(io.condense.sdk.stats.ModelStats.of(reloaded).nonZeroParameters()).isEqualTo(1);
    }

    @Test
    void spilledBytesLeaveTheHeapAndNoFileBehind() throws IOException {
        Path spillFolder = folder.resolve("spill");
        String before = System.getProperty(OffHeapBytes.SPILL_FOLDER_PROPERTY);
        System.setProperty(OffHeapBytes.SPILL_FOLDER_PROPERTY, spillFolder.toString());
        try {
            byte[] bytes = new byte[100_000];
            bytes[99_999] = 42;
            var spilled = OffHeapBytes.spillIfLarge(bytes, 1024);
            assertThat(spilled.size()).isEqualTo(100_000);
            assertThat(spilled.byteAt(99_999)).isEqualTo((byte) 42);
            assertThat(spilled.asReadOnlyByteBuffer().isDirect()).isTrue();
            try (var files = Files.list(spillFolder)) {
                assertThat(files).isEmpty();
            }
            assertThat(OffHeapBytes.spillIfLarge(new byte[10], 1024).asReadOnlyByteBuffer().isDirect()).isFalse();
        } finally {
            if (before == null) {
                System.clearProperty(OffHeapBytes.SPILL_FOLDER_PROPERTY);
            } else {
                System.setProperty(OffHeapBytes.SPILL_FOLDER_PROPERTY, before);
            }
        }
    }

    private static ModelProto bigModel(long firstOffset, long secondOffset) {
        return model(13, List.of(value("x", 1, ROWS)), List.of(value("y", 1, COLUMNS)),
                List.of(node("MatMul", List.of("x", "a"), List.of("ya")), node("MatMul", List.of("x", "b"), List.of("yb")),
                        node("Add", List.of("ya", "yb"), List.of("y"))),
                List.of(external("a", new long[] {ROWS, COLUMNS}, "big.onnx.data", firstOffset, TENSOR_BYTES),
                        external("b", new long[] {ROWS, COLUMNS}, "big.onnx.data", secondOffset, TENSOR_BYTES)));
    }

    private static TensorProto external(String name, long[] shape, String location, long offset, long length) {
        TensorProto.Builder tensor = TensorProto.newBuilder().setName(name).setDataType(1)
                .setDataLocation(TensorProto.DataLocation.EXTERNAL)
                .addExternalData(StringStringEntryProto.newBuilder().setKey("location").setValue(location))
                .addExternalData(StringStringEntryProto.newBuilder().setKey("offset").setValue(Long.toString(offset)))
                .addExternalData(StringStringEntryProto.newBuilder().setKey("length").setValue(Long.toString(length)));
        for (long dim : shape) {
            tensor.addDims(dim);
        }
        return tensor.build();
    }

    private static void putFloat(FileChannel channel, long position, float value) throws IOException {
        ByteBuffer buffer = ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putFloat(value).flip();
        while (buffer.hasRemaining()) {
            channel.write(buffer, position);
        }
    }
}
