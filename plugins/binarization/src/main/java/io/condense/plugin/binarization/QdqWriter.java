package io.condense.plugin.binarization;

import ai.onnx.proto.OnnxMl.NodeProto;
import io.condense.sdk.model.LayerSelection;
import io.condense.sdk.model.ModelEditor;
import io.condense.sdk.model.QdqWeights;
import io.condense.sdk.error.CondenseException;
import io.condense.sdk.error.ErrorCode;
import io.condense.sdk.tensor.DataType;
import io.condense.sdk.tensor.Tensor;
import io.condense.sdk.training.TrainingOperators;
import java.util.Optional;
import java.util.OptionalInt;

/**
 * Writes an {@link Approximation} into the model in QDQ form with the SDK's {@link QdqWeights}: each level tensor
 * becomes an int8 initializer with a float scale per output channel and an int8 zero point of 0 (shared by the
 * bases), read by a DequantizeLinear node ({@code axis} = the output-channel axis, opset 13). With one level tensor
 * the layers read its DequantizeLinear output; with several (ABC-Net, HORQ) a Sum node adds the dequantized bases
 * and the layers read the sum. The float weight is dropped when nothing else reads it. TTQ writes its two bases
 * (positive levels {0, +1}, negative {-1, 0}) with one scalar scale each, and keeps the float weight beside them, read by no
 * node, for {@code finetune} to start its latent weights from; so does {@code binarize(activations=1)} beside its binary levels.
 */
final class QdqWriter {
    private QdqWriter() {
    }

    /** The suffix of the kept float weight: {@code binarize(activations=1)}'s binary latents, or TTQ's. */
    static String latentSuffix(String levelSuffix) {
        return levelSuffix.equals("binary") ? TrainingOperators.BINARY_LATENT_SUFFIX : TrainingOperators.TTQ_LATENT_SUFFIX;
    }

    /**
     * @param suffix what the level tensors are called after the weight ({@code binary}, {@code ternary})
     * @param layerScales one scale per basis for the layer (a scalar, no {@code axis}: channel 0's), else one per channel
     * @param latent the float weight to keep in the file, read by no node, as {@code <first levels>}
     *        {@value TrainingOperators#TTQ_LATENT_SUFFIX} (TTQ) or {@value TrainingOperators#BINARY_LATENT_SUFFIX} (W1-A1): the
     *        start of {@code finetune}'s latent weights; or empty
     * @return the name of the value the layers now read
     */
    static String write(ModelEditor editor, LayerSelection.Candidate candidate, Approximation approximation, String suffix,
            boolean layerScales, Optional<float[]> latent) {
        String weight = candidate.weightName();
        long[] shape = candidate.shape();
        int channels = approximation.layout().channels();
        int bases = approximation.bases();
        OptionalInt axis = layerScales ? OptionalInt.empty() : OptionalInt.of(candidate.outputChannelAxis());
        String zeroPointName = editor.uniqueName(weight + "_zero_point");
        editor.putInitializer(QdqWeights.zeroPoint(zeroPointName, DataType.INT8, layerScales ? 1 : channels, !layerScales));

        String[] dequantized = new String[bases];
        for (int k = 0; k < bases; k++) {
            String basis = bases == 1 ? "" : "_" + k;
            String levelsName = editor.uniqueName(weight + "_" + suffix + basis);
            String scaleName = editor.uniqueName(weight + "_scale" + basis);
            dequantized[k] = editor.uniqueName(weight + "_dequantized" + basis);
            editor.putInitializer(QdqWeights.levels(levelsName, DataType.INT8, shape, approximation.levels()[k]));
            if (k == 0 && latent.isPresent()) {
                String latentName = levelsName + latentSuffix(suffix);
                if (editor.hasInitializer(latentName)) {
                    throw new CondenseException(ErrorCode.UNSUPPORTED_MODEL, "the model already has an initializer '" + latentName
                            + "', the name under which the float weight of '" + weight + "' would be kept for finetune; rename it"
                            + (suffix.equals("binary") ? "" : ", or pass ttq_latents=false"));
                }
                editor.putUnreadInitializer(Tensor.fromFloats(latentName, DataType.FLOAT, shape, latent.get()).toProto());
            }
            float[] scales = layerScales ? new float[] {approximation.scales()[k][0]} : approximation.scales()[k];
            editor.putInitializer(QdqWeights.scales(scaleName, scales, !layerScales));
            editor.addNode(QdqWeights.dequantizeLinear(editor.uniqueName(weight + "_DequantizeLinear" + basis), levelsName, scaleName,
                    zeroPointName, dequantized[k], axis));
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
        QdqWeights.rewire(editor, candidate.layers(), weight, read);
        return read;
    }
}
