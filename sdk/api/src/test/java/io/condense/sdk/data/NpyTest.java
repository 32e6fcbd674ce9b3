package io.condense.sdk.data;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.condense.sdk.error.CondenseException;
import io.condense.sdk.error.ErrorCode;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class NpyTest {
    @TempDir
    Path folder;

    @Test
    void roundTripsEverySupportedType() throws IOException {
        List<NdArray> arrays = List.of(
                NdArray.ofFloats(new long[] {2, 3}, new float[] {1f, -2f, Float.NaN, Float.POSITIVE_INFINITY, -0f, 1e-40f}),
                NdArray.ofFloat16(new long[] {2}, new short[] {(short) 0x3C00, (short) 0xFC00}),
                NdArray.ofUint8(new long[] {3}, new byte[] {0, (byte) 200, (byte) 255}),
                NdArray.ofInt8(new long[] {1, 2}, new byte[] {-128, 127}),
                NdArray.ofInts(new long[] {2, 1, 1}, new int[] {Integer.MIN_VALUE, 7}),
                NdArray.ofLongs(new long[] {}, new long[] {Long.MAX_VALUE}),
                NdArray.ofFloats(new long[] {0, 4}, new float[0]));
        for (NdArray array : arrays) {
            Path file = folder.resolve("array.npy");
            Npy.write(file, array);
            NdArray back = Npy.read(file);
            assertThat(back.dataType()).isEqualTo(array.dataType());
            assertThat(back.shape()).containsExactly(array.shape());
            assertThat(Npy.toBytes(back)).isEqualTo(Npy.toBytes(array));
            assertThat(Npy.toBytes(array).length % 64 == 0 || array.size() > 0).isTrue();
        }
        NdArray floats = Npy.read(write("floats", Npy.toBytes(arrays.get(0))));
        assertThat(Float.floatToRawIntBits(floats.floatData()[4])).isEqualTo(0x80000000);
        assertThat(floats.floatData()[2]).isNaN();
    }

    @Test
    void writesTheHeaderNumpyExpects() {
        byte[] bytes = Npy.toBytes(NdArray.ofFloats(new long[] {5}, new float[5]));
        String header = new String(bytes, 10, bytes.length - 10 - 20, StandardCharsets.ISO_8859_1);
        assertThat(header).startsWith("{'descr': '<f4', 'fortran_order': False, 'shape': (5,), }").endsWith("\n");
        assertThat((bytes.length - 20) % 64).isZero();
        assertThat(bytes[6]).isEqualTo((byte) 1);
    }

    @Test
    void readsVersion2And3Headers() throws IOException {
        for (int major : new int[] {2, 3}) {
            String dictionary = "{'descr': '<i8', 'fortran_order': False, 'shape': (2, 2), }";
            ByteBuffer out = ByteBuffer.allocate(12 + dictionary.length() + 1 + 32).order(ByteOrder.LITTLE_ENDIAN);
            out.put(new byte[] {(byte) 0x93, 'N', 'U', 'M', 'P', 'Y', (byte) major, 0}).putInt(dictionary.length() + 1);
            out.put(dictionary.getBytes(StandardCharsets.UTF_8)).put((byte) '\n');
            out.putLong(1).putLong(2).putLong(3).putLong(-4);
            NdArray array = Npy.read(write("v" + major, out.array()));
            assertThat(array.shape()).containsExactly(2, 2);
            assertThat((long[]) array.data()).containsExactly(1, 2, 3, -4);
        }
    }

    @Test
    void refusesWhatItCannotReadWithAClearMessage() throws IOException {
        assertInvalid(header("'<f4'", "True", "(2,)", 8), "Fortran");
        assertInvalid(header("'>f4'", "False", "(2,)", 8), "big-endian");
        assertInvalid(header("'|O'", "False", "(2,)", 16), "objects");
        assertInvalid(header("'<f8'", "False", "(2,)", 16), "'<f8'");
        assertInvalid(header("'<f4'", "False", "(4,)", 8), "truncated");
        assertInvalid("not numpy at all".getBytes(StandardCharsets.US_ASCII), "magic");
        Path missing = folder.resolve("missing.npy");
        assertThatThrownBy(() -> Npy.read(missing)).isInstanceOf(CondenseException.class).hasMessageContaining("missing.npy");
    }

    private void assertInvalid(byte[] bytes, String text) throws IOException {
        Path file = write("bad", bytes);
        assertThatThrownBy(() -> Npy.read(file))
                .isInstanceOf(CondenseException.class)
                .satisfies(e -> assertThat(((CondenseException) e).code()).isEqualTo(ErrorCode.INVALID_DATA))
                .hasMessageContaining(text)
                .hasMessageContaining(file.toString());
    }

    private static byte[] header(String descr, String fortran, String shape, int dataBytes) {
        String dictionary = "{'descr': " + descr + ", 'fortran_order': " + fortran + ", 'shape': " + shape + ", }\n";
        ByteBuffer out = ByteBuffer.allocate(10 + dictionary.length() + dataBytes).order(ByteOrder.LITTLE_ENDIAN);
        out.put(new byte[] {(byte) 0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0}).putShort((short) dictionary.length());
        out.put(dictionary.getBytes(StandardCharsets.US_ASCII));
        return out.array();
    }

    private Path write(String name, byte[] bytes) throws IOException {
        return Files.write(folder.resolve(name + ".npy"), bytes);
    }

}
