package io.condense.plugin.binarization;

import static org.assertj.core.api.Assertions.assertThat;

import ai.onnx.proto.OnnxMl.AttributeProto;
import ai.onnx.proto.OnnxMl.NodeProto;
import io.condense.sdk.model.OnnxModel;
import io.condense.sdk.tensor.ChannelLayout;
import io.condense.sdk.tensor.DataType;
import io.condense.sdk.tensor.Tensor;
import java.util.Map;

/** Reads a written layer back: its int8 levels, its per-channel scales and the DequantizeLinear node between them and the layer. */
record WrittenLevels(float[] original, float[] levels, float[] scales, ChannelLayout layout) {

    /** Basis {@code basis} of the layer the report entry describes ({@code -1} for a layer with one basis). */
    static WrittenLevels read(OnnxModel input, OnnxModel written, Map<String, Object> layer, String suffix, int basis) {
        String weight = (String) layer.get("weight");
        String index = basis < 0 ? "" : "_" + basis;
        Tensor levels = written.tensor(weight + "_" + suffix + index);
        Tensor scales = written.tensor(weight + "_scale" + index);
        assertThat(levels.dataType()).as("levels of %s", weight).isEqualTo(DataType.INT8);
        assertThat(scales.dataType()).as("scales of %s", weight).isEqualTo(DataType.FLOAT);
        assertThat(written.isInitializer(weight)).as("the float weight %s is gone", weight).isFalse();
        int axis = ((Number) layer.get("axis")).intValue();
        NodeProto dequantize = written.producer(weight + "_dequantized" + index).orElseThrow();
        assertThat(dequantize.getOpType()).isEqualTo("DequantizeLinear");
        assertThat(dequantize.getInput(0)).isEqualTo(levels.name());
        assertThat(dequantize.getInput(1)).isEqualTo(scales.name());
        long axisAttribute = -1;
        for (AttributeProto attribute : dequantize.getAttributeList()) {
            if (attribute.getName().equals("axis")) {
                axisAttribute = attribute.getI();
            }
        }
        assertThat(axisAttribute).as("DequantizeLinear axis of %s", weight).isEqualTo(axis);
        Tensor zeroPoint = written.tensor(dequantize.getInput(2));
        assertThat(zeroPoint.dataType()).isEqualTo(DataType.INT8);
        assertThat(zeroPoint.countNonZero()).isZero();
        ChannelLayout layout = ChannelLayout.of(levels.shape(), axis);
        assertThat(scales.shape()).containsExactly(layout.channels());
        float[] original = input.edit().foldConstantReshapes().build().tensor(weight).toFloatArray();
        return new WrittenLevels(original, levels.toFloatArray(), scales.toFloatArray(), layout);
    }

    /** The channel of flat element {@code index}. */
    int channel(int index) {
        return (index / layout.inner()) % layout.channels();
    }
}
