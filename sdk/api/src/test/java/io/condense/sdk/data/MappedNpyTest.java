package io.condense.sdk.data;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class MappedNpyTest {
    @TempDir
    Path folder;

    @Test
    void readsNpyMemoryMappedAndSlicesOnDemand() throws Exception {
        float[] values = new float[3 * 2 * 5];
        for (int i = 0; i < values.length; i++) {
            values[i] = i * 0.5f - 3;
        }
        Path file = folder.resolve("inputs.npy");
        Npy.write(file, NdArray.ofFloats(new long[] {3, 2, 5}, values));

        NdArray mapped = Npy.read(file);
        assertThat(mapped.isMapped()).isTrue();
        assertThat(mapped.shape()).containsExactly(3, 2, 5);
        NdArray second = mapped.slice(1, 1);
        assertThat(second.isMapped()).isFalse();
        assertThat(second.shape()).containsExactly(1, 2, 5);
        for (int i = 0; i < 10; i++) {
            assertThat(second.getFloat(i)).isEqualTo(values[10 + i]);
            assertThat(mapped.getFloat(10 + i)).isEqualTo(values[10 + i]);
        }
        assertThat(mapped.toFloatArray()).containsExactly(values);
        assertThat(mapped.reshape(new long[] {30}).getFloat(29)).isEqualTo(values[29]);

        Dataset dataset = DataReaders.dataset(file, null);
        assertThat(dataset.inputs().isMapped()).isTrue();
        assertThat(dataset.size()).isEqualTo(3);
        assertThat(dataset.head(2).inputs().toFloatArray()).containsExactly(java.util.Arrays.copyOf(values, 20));
    }

    @Test
    void mappedIntegerArraysReadLikeHeapOnes() throws Exception {
        Path file = folder.resolve("labels.npy");
        Npy.write(file, NdArray.ofLongs(new long[] {4}, new long[] {7, -1, 3, 9}));
        NdArray mapped = Npy.read(file);
        assertThat(mapped.isMapped()).isTrue();
        assertThat(mapped.getLong(1)).isEqualTo(-1);
        assertThat((long[]) mapped.data()).containsExactly(7, -1, 3, 9);
        assertThat(Files.size(file)).isGreaterThan(32);
    }

    @Test
    void aFileReadAgainWhileItsMappingLivesSharesItAndAReplacedFileIsMappedAfresh() throws Exception {
        Path file = folder.resolve("calibration.npy");
        Npy.write(file, NdArray.ofFloats(new long[] {2, 3}, new float[] {1, 2, 3, 4, 5, 6}));
        NdArray first = Npy.read(file);
        NdArray second = Npy.read(file);
        NdArray third = DataReaders.dataset(file, null).inputs();
        // touched (as the server touches a blob stored again): still the same file
        Files.setLastModifiedTime(file, java.nio.file.attribute.FileTime.fromMillis(Files.getLastModifiedTime(file).toMillis() + 5_000));
        NdArray touched = Npy.read(file);
        // one mapping of the file in this process for the four arrays (Linux names each mapping in /proc/self/maps)
        assertThat(mappingsOf(file)).isEqualTo(1);
        assertThat(second.toFloatArray()).containsExactly(1, 2, 3, 4, 5, 6);
        assertThat(third.getFloat(5)).isEqualTo(6);
        assertThat(touched.getFloat(0)).isEqualTo(1);

        // replaced by another file of the same size (a rename: another inode): its values, from a mapping of its own
        Path next = folder.resolve("next.npy");
        Npy.write(next, NdArray.ofFloats(new long[] {2, 3}, new float[] {9, 8, 7, 6, 5, 4}));
        Files.move(next, file, java.nio.file.StandardCopyOption.REPLACE_EXISTING, java.nio.file.StandardCopyOption.ATOMIC_MOVE);
        NdArray replaced = Npy.read(file);
        assertThat(replaced.toFloatArray()).containsExactly(9, 8, 7, 6, 5, 4);
        assertThat(first.toFloatArray()).containsExactly(1, 2, 3, 4, 5, 6);
    }

    /** The mappings of this file in this process, from /proc/self/maps (by inode: the lines name the file's path). */
    private static long mappingsOf(Path file) throws Exception {
        org.junit.jupiter.api.Assumptions.assumeTrue(Files.isReadable(Path.of("/proc/self/maps")), "needs Linux's /proc/self/maps");
        String path = file.toRealPath().toString();
        try (var lines = Files.lines(Path.of("/proc/self/maps"))) {
            return lines.filter(line -> line.endsWith(" " + path)).count();
        }
    }
}
