package io.condense.plugin.binarization;

import ai.onnx.proto.OnnxMl.AttributeProto;
import ai.onnx.proto.OnnxMl.NodeProto;
import ai.onnx.proto.OnnxMl.TensorProto;
import com.google.protobuf.UnsafeByteOperations;
import io.condense.sdk.model.ModelEditor;
import io.condense.sdk.model.WeightLayer;
import io.condense.sdk.tensor.DataType;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * Writes an {@link Approximation} into the model in QDQ form, as the quantization family does: each level
 * tensor becomes an int8 initializer with a float scale per output channel and an int8 zero point of 0,
 * read by a DequantizeLinear node ({@code axis} = the output-channel axis, opset 13). With one level tensor
 * the layers read its DequantizeLinear output; with several (ABC-Net, HORQ) a Sum node adds the dequantized
 * bases and the layers read the sum. The float weight is dropped when nothing else reads it.
 */
final class QdqWriter {
    private QdqWriter() {
    }

    /**
     * @param suffix what the level tensors are called after the weight ({@code binary}, {@code ternary})
     * @return the name of the value the layers now read
     */
    static String write(ModelEditor editor, LayerSelection.Candidate candidate, Approximation approximation, String suffix) {
        String weight = candidate.weightName();
        long[] shape = candidate.shape();
        int channels = approximation.layout().channels();
        int bases = approximation.bases();
        String zeroPointName = editor.uniqueName(weight + "_zero_point");
        editor.putInitializer(TensorProto.newBuilder().setName(zeroPointName).setDataType(DataType.INT8.onnxCode()).addDims(channels)
                .setRawData(UnsafeByteOperations.unsafeWrap(new byte[channels])).build());

        String[] dequantized = new String[bases];
        for (int k = 0; k < bases; k++) {
            String basis = bases == 1 ? "" : "_" + k;
            String levelsName = editor.uniqueName(weight + "_" + suffix + basis);
            String scaleName = editor.uniqueName(weight + "_scale" + basis);
            dequantized[k] = editor.uniqueName(weight + "_dequantized" + basis);

            TensorProto.Builder levels = TensorProto.newBuilder().setName(levelsName).setDataType(DataType.INT8.onnxCode())
                    .setRawData(UnsafeByteOperations.unsafeWrap(approximation.levels()[k]));
            for (long dim : shape) {
                levels.addDims(dim);
            }
            editor.putInitializer(levels.build());
            byte[] scaleBytes = new byte[channels * 4];
            ByteBuffer.wrap(scaleBytes).order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer().put(approximation.scales()[k]);
            editor.putInitializer(TensorProto.newBuilder().setName(scaleName).setDataType(DataType.FLOAT.onnxCode()).addDims(channels)
                    .setRawData(UnsafeByteOperations.unsafeWrap(scaleBytes)).build());
            editor.addNode(NodeProto.newBuilder().setOpType("DequantizeLinear").setName(editor.uniqueName(weight + "_DequantizeLinear" + basis))
                    .addInput(levelsName).addInput(scaleName).addInput(zeroPointName).addOutput(dequantized[k])
                    .addAttribute(AttributeProto.newBuilder().setName("axis").setType(AttributeProto.AttributeType.INT)
                            .setI(candidate.outputChannelAxis()))
                    .build());
        }
        String read = dequantized[0];
        if (bases > 1) {
            read = editor.uniqueName(weight + "_reconstructed");
            NodeProto.Builder sum = NodeProto.newBuilder().setOpType("Sum").setName(editor.uniqueName(weight + "_Sum")).addOutput(read);
            for (String value : dequantized) {
                sum.addInput(value);
            }
            editor.addNode(sum.build());
        }
        for (WeightLayer layer : candidate.layers()) {
            NodeProto current = editor.node(layer.nodeIndex());
            NodeProto.Builder changed = current.toBuilder();
            for (int input = 0; input < current.getInputCount(); input++) {
                if (current.getInput(input).equals(weight)) {
                    changed.setInput(input, read);
                }
            }
            editor.replaceNode(layer.nodeIndex(), changed.build());
        }
        return read;
    }
}
