package io.condense.sdk.data;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.condense.sdk.SharedFiles;
import io.condense.sdk.error.CondenseException;
import io.condense.sdk.error.ErrorCode;
import io.condense.sdk.tensor.DataType;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.zip.GZIPOutputStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class IdxTest {
    @TempDir
    Path folder;

    @Test
    void readsTheRealMnistDigits() throws IOException {
        Path images = SharedFiles.require("data/mnist-digits/images-idx3-ubyte");
        Path labels = SharedFiles.require("data/mnist-digits/labels-idx1-ubyte");
        NdArray pixels = Idx.read(images);
        assertThat(pixels.dataType()).isEqualTo(DataType.UINT8);
        assertThat(pixels.shape()).containsExactly(10_000, 28, 28);
        NdArray classes = Idx.read(labels);
        assertThat(classes.shape()).containsExactly(10_000);
        assertThat(classes.getLong(0)).isEqualTo(9);
        assertThat(classes.getLong(2)).isEqualTo(2);
        for (int i = 0; i < classes.size(); i++) {
            assertThat(classes.getLong(i)).isBetween(0L, 9L);
        }

        Path gzipped = folder.resolve("labels.gz");
        try (OutputStream out = new GZIPOutputStream(Files.newOutputStream(gzipped))) {
            out.write(Files.readAllBytes(labels));
        }
        assertThat((byte[]) Idx.read(gzipped).data()).isEqualTo((byte[]) classes.data());
    }

    @Test
    void readsEveryTypeCodeBigEndian() throws IOException {
        assertThat((int[]) Idx.read(idx(0x0C, 4, ByteBuffer.allocate(8).putInt(-2).putInt(70000).array())).data())
                .containsExactly(-2, 70000);
        assertThat(Idx.read(idx(0x0D, 4, ByteBuffer.allocate(8).putFloat(1.5f).putFloat(-3f).array())).floatData())
                .containsExactly(1.5f, -3f);
        assertThat(Idx.read(idx(0x0E, 8, ByteBuffer.allocate(16).putDouble(0.25).putDouble(8).array())).floatData())
                .containsExactly(0.25f, 8f);
        assertThat((int[]) Idx.read(idx(0x0B, 2, ByteBuffer.allocate(4).putShort((short) -5).putShort((short) 300).array())).data())
                .containsExactly(-5, 300);
        NdArray signed = Idx.read(idx(0x09, 1, new byte[] {-1, 5}));
        assertThat(signed.dataType()).isEqualTo(DataType.INT8);
        assertThat(signed.getLong(0)).isEqualTo(-1);
    }

    @Test
    void refusesBadFiles() throws IOException {
        assertInvalid(idx(0x0A, 1, new byte[] {1, 2}), "type code is 0x0A");
        Path truncated = idx(0x0C, 4, new byte[6]);
        assertInvalid(truncated, "truncated");
        assertInvalid(Files.write(folder.resolve("short"), new byte[] {0, 0, 8}), "magic");
        Path fakeGzip = Files.write(folder.resolve("fake.gz"), new byte[] {0x1f, (byte) 0x8b, 1, 2, 3});
        assertInvalid(fakeGzip, "gzip");
    }

    private void assertInvalid(Path file, String text) {
        assertThatThrownBy(() -> Idx.read(file)).isInstanceOf(CondenseException.class)
                .satisfies(e -> assertThat(((CondenseException) e).code()).isEqualTo(ErrorCode.INVALID_DATA))
                .hasMessageContaining(text).hasMessageContaining(file.toString());
    }

    /** A 1-D IDX file of the given type whose element count follows from the data length. */
    private Path idx(int type, int width, byte[] data) throws IOException {
        ByteBuffer out = ByteBuffer.allocate(8 + data.length);
        out.put(new byte[] {0, 0, (byte) type, 1}).putInt(2).put(data);
        return Files.write(folder.resolve("file" + type + "-" + Arrays.hashCode(data) + width), out.array());
    }
}
