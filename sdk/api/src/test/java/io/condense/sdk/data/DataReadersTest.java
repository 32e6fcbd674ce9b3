package io.condense.sdk.data;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.condense.sdk.SharedFiles;
import io.condense.sdk.error.CondenseException;
import io.condense.sdk.error.ErrorCode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class DataReadersTest {
    @TempDir
    Path folder;

    @Test
    void buildsADatasetFromTheRealDigits() {
        Dataset digits = DataReaders.dataset(SharedFiles.require("data/mnist-digits/images-idx3-ubyte"),
                SharedFiles.require("data/mnist-digits/labels-idx1-ubyte"));
        assertThat(digits.size()).isEqualTo(10_000);
        assertThat(digits.labels()).isPresent();
        assertThat(digits.head(100).size()).isEqualTo(100);
    }

    @Test
    void choosesTheReaderByContent() throws IOException {
        NdArray array = NdArray.ofFloats(new long[] {2, 2}, new float[] {1, 2, 3, 4});
        Path npyWithOddName = Files.write(folder.resolve("inputs.bin"), Npy.toBytes(array));
        assertThat(DataReaders.read(npyWithOddName).floatData()).containsExactly(1, 2, 3, 4);
        Path idx = Files.copy(SharedFiles.require("data/mnist-digits/labels-idx1-ubyte"), folder.resolve("labels.dat"));
        assertThat(DataReaders.read(idx).shape()).containsExactly(10_000);
    }

    @Test
    void readsInputsAndLabelsFromOneNpz() {
        Map<String, NdArray> arrays = new LinkedHashMap<>();
        arrays.put("x", NdArray.ofFloats(new long[] {3, 2}, new float[6]));
        arrays.put("y", NdArray.ofLongs(new long[] {3, 1}, new long[] {0, 1, 2}));
        Path file = folder.resolve("set.npz");
        Npz.write(file, arrays);
        Dataset dataset = DataReaders.dataset(file, null);
        assertThat(dataset.size()).isEqualTo(3);
        assertThat(dataset.labels().orElseThrow().shape()).containsExactly(3);
        assertThatThrownBy(() -> DataReaders.read(file)).isInstanceOf(CondenseException.class).hasMessageContaining("2 arrays");

        Map<String, NdArray> unnamed = Map.of("a", NdArray.ofFloats(new long[] {1}, new float[1]),
                "b", NdArray.ofFloats(new long[] {1}, new float[1]));
        Path other = folder.resolve("other.npz");
        Npz.write(other, unnamed);
        assertThatThrownBy(() -> DataReaders.dataset(other, null)).isInstanceOf(CondenseException.class)
                .hasMessageContaining("none named");
    }

    @Test
    void refusesBadDataWithTheFileName() throws IOException {
        Path text = Files.writeString(folder.resolve("notes.txt"), "just some text");
        assertThatThrownBy(() -> DataReaders.read(text)).isInstanceOf(CondenseException.class)
                .satisfies(e -> assertThat(((CondenseException) e).code()).isEqualTo(ErrorCode.INVALID_DATA))
                .hasMessageContaining("notes.txt");

        Path inputs = folder.resolve("inputs.npy");
        Npy.write(inputs, NdArray.ofFloats(new long[] {2, 3}, new float[6]));
        Path floatLabels = folder.resolve("float-labels.npy");
        Npy.write(floatLabels, NdArray.ofFloats(new long[] {2}, new float[2]));
        assertThatThrownBy(() -> DataReaders.dataset(inputs, floatLabels)).isInstanceOf(CondenseException.class)
                .hasMessageContaining("integer class indices").hasMessageContaining("float-labels.npy");
        Path fewLabels = folder.resolve("few-labels.npy");
        Npy.write(fewLabels, NdArray.ofLongs(new long[] {5}, new long[5]));
        assertThatThrownBy(() -> DataReaders.dataset(inputs, fewLabels)).isInstanceOf(CondenseException.class)
                .hasMessageContaining("do not match");
    }
}
