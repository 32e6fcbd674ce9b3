package io.condense.sdk.weights;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.condense.sdk.error.CondenseException;
import io.condense.sdk.tensor.DataType;
import io.condense.sdk.tensor.Tensor;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;

class SafetensorsTest {

    /** A file as the safetensors library writes it: header padded with spaces to 8 bytes, metadata, tensors out of name order. */
    @Test
    void readsAFileWrittenByHand() {
        String json = "{\"__metadata__\":{\"format\":\"pt\"},\"b\":{\"dtype\":\"I64\",\"shape\":[2],\"data_offsets\":[8,24]},"
                + "\"a.weight\":{\"dtype\":\"F32\",\"shape\":[2,1],\"data_offsets\":[0,8]}}";
        while ((json.length() % 8) != 0) {
            json += " ";
        }
        byte[] header = json.getBytes(StandardCharsets.UTF_8);
        ByteBuffer file = ByteBuffer.allocate(8 + header.length + 24).order(ByteOrder.LITTLE_ENDIAN);
        file.putLong(header.length).put(header).putFloat(1.5f).putFloat(-2f).putLong(7).putLong(-9);

        Map<String, Tensor> tensors = Safetensors.read(file.array(), "test.safetensors");

        assertThat(tensors).containsOnlyKeys("b", "a.weight");
        assertThat(tensors.get("a.weight").shape()).containsExactly(2, 1);
        assertThat(tensors.get("a.weight").toFloatArray()).containsExactly(1.5f, -2f);
        assertThat(tensors.get("b").dataType()).isEqualTo(DataType.INT64);
        assertThat(tensors.get("b").toLongArray()).containsExactly(7, -9);
        assertThat(WeightsFile.Format.detect(file.array())).isEqualTo(WeightsFile.Format.SAFETENSORS);
    }

    @Test
    void writesWhatItReads() {
        Map<String, Tensor> tensors = new LinkedHashMap<>();
        tensors.put("fc1.weight", Tensor.fromFloats("fc1.weight", DataType.FLOAT, new long[] {2, 3}, new float[] {1, 2, 3, 4, 5, 6}));
        tensors.put("fc1.bias", Tensor.fromFloats("fc1.bias", DataType.FLOAT16, new long[] {2}, new float[] {0.5f, -1}));
        tensors.put("scalar", Tensor.fromFloats("scalar", DataType.FLOAT, new long[] {}, new float[] {3}));

        Map<String, Tensor> back = Safetensors.read(Safetensors.toBytes(tensors), "round trip");

        assertThat(back.keySet()).containsExactly("fc1.weight", "fc1.bias", "scalar");
        assertThat(back.get("fc1.weight").toFloatArray()).containsExactly(1, 2, 3, 4, 5, 6);
        assertThat(back.get("fc1.bias").dataType()).isEqualTo(DataType.FLOAT16);
        assertThat(back.get("fc1.bias").toFloatArray()).containsExactly(0.5f, -1);
        assertThat(back.get("scalar").shape()).isEmpty();
    }

    @Test
    void refusesWhatIsNotSafetensors() {
        assertThatThrownBy(() -> Safetensors.read(new byte[] {1, 2}, "short")).isInstanceOf(CondenseException.class)
                .hasMessageContaining("shorter than the 8-byte header length");
        byte[] json = "{\"x\":{\"dtype\":\"F64\",\"shape\":[1],\"data_offsets\":[0,8]}}".getBytes(StandardCharsets.UTF_8);
        ByteBuffer file = ByteBuffer.allocate(8 + json.length + 8).order(ByteOrder.LITTLE_ENDIAN);
        file.putLong(json.length).put(json);
        assertThatThrownBy(() -> Safetensors.read(file.array(), "f64")).hasMessageContaining("tensor 'x' has dtype F64");
        byte[] overlong = "{\"x\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}}".getBytes(StandardCharsets.UTF_8);
        ByteBuffer truncated = ByteBuffer.allocate(8 + overlong.length + 8).order(ByteOrder.LITTLE_ENDIAN);
        truncated.putLong(overlong.length).put(overlong);
        assertThatThrownBy(() -> Safetensors.read(truncated.array(), "truncated")).hasMessageContaining("outside the 8 data bytes");
        byte[] broken = "{\"x\":".getBytes(StandardCharsets.UTF_8);
        ByteBuffer bad = ByteBuffer.allocate(8 + broken.length).order(ByteOrder.LITTLE_ENDIAN);
        bad.putLong(broken.length).put(broken);
        assertThatThrownBy(() -> Safetensors.read(bad.array(), "broken")).hasMessageContaining("not valid JSON");
    }
}
