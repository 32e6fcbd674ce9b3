package io.condense.sdk.data;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.condense.sdk.error.CondenseException;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.zip.CRC32;
import java.util.zip.ZipEntry;
import java.util.zip.ZipOutputStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class NpzTest {
    @TempDir
    Path folder;

    @Test
    void readsDeflatedArchivesInOrder() {
        Map<String, NdArray> arrays = new LinkedHashMap<>();
        arrays.put("y", NdArray.ofLongs(new long[] {2}, new long[] {3, 1}));
        arrays.put("x", NdArray.ofFloats(new long[] {2, 2}, new float[] {1, 2, 3, 4}));
        Path file = folder.resolve("data.npz");
        Npz.write(file, arrays);
        Map<String, NdArray> back = Npz.read(file);
        assertThat(back.keySet()).containsExactly("y", "x");
        assertThat(back.get("x").floatData()).containsExactly(1, 2, 3, 4);
        assertThat((long[]) back.get("y").data()).containsExactly(3, 1);
    }

    @Test
    void readsStoredArchives() throws IOException {
        byte[] npy = Npy.toBytes(NdArray.ofUint8(new long[] {3}, new byte[] {1, 2, 3}));
        Path file = folder.resolve("stored.npz");
        try (OutputStream out = Files.newOutputStream(file); ZipOutputStream zip = new ZipOutputStream(out)) {
            ZipEntry entry = new ZipEntry("pixels.npy");
            entry.setMethod(ZipEntry.STORED);
            entry.setSize(npy.length);
            CRC32 crc = new CRC32();
            crc.update(npy);
            entry.setCrc(crc.getValue());
            zip.putNextEntry(entry);
            zip.write(npy);
            zip.closeEntry();
        }
        assertThat(Npz.read(file).get("pixels").size()).isEqualTo(3);
    }

    @Test
    void refusesOtherArchivesAndFiles() throws IOException {
        Path file = folder.resolve("other.npz");
        try (OutputStream out = Files.newOutputStream(file); ZipOutputStream zip = new ZipOutputStream(out)) {
            zip.putNextEntry(new ZipEntry("readme.txt"));
            zip.write("hello".getBytes());
            zip.closeEntry();
        }
        assertThatThrownBy(() -> Npz.read(file)).isInstanceOf(CondenseException.class).hasMessageContaining("readme.txt");
        Path text = Files.writeString(folder.resolve("text.npz"), "not a zip");
        assertThatThrownBy(() -> Npz.read(text)).isInstanceOf(CondenseException.class).hasMessageContaining("text.npz")
                .hasMessageContaining("zip");
    }
}
