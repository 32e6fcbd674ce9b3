package io.condense.sdk.stats;

import static org.assertj.core.api.Assertions.assertThat;

import io.condense.sdk.SharedFiles;
import io.condense.sdk.model.OnnxModel;
import io.condense.sdk.tensor.DataType;
import io.condense.sdk.tensor.Tensor;
import org.junit.jupiter.api.Test;

class ModelStatsTest {

    @Test
    void countsMnist8() {
        OnnxModel model = OnnxModel.load(SharedFiles.require("models/mnist8/model.onnx"));
        ModelStats stats = ModelStats.of(model);
        // 5,998 as the models README says: 200 + 8 + 3,200 + 16 + 2,560 + 10 float weights, plus two int64 shape tensors of 2
        assertThat(stats.parameters()).isEqualTo(5998);
        assertThat(stats.bytesByDataType()).containsEntry(DataType.FLOAT, 5994L * 4).containsEntry(DataType.INT64, 4L * 8);
        assertThat(stats.nonZeroParameters()).isBetween(5900L, 5998L);
        assertThat(stats.serializedBytes()).isEqualTo(model.toBytes().length);
        // by hand: conv1 (5x5, SAME) 8x28x28 outputs x 1 input channel x 25 = 156,800;
        // conv2 (5x5, SAME) 16x14x14 x 8 x 25 = 627,200; MatMul [1,256]x[256,10] = 2,560
        assertThat(stats.macsByNode().values()).containsExactlyInAnyOrder(156_800L, 627_200L, 2_560L);
        assertThat(stats.macs()).isEqualTo(786_560L);
    }

    @Test
    void countsPytorchCnnAndUltraface() {
        ModelStats pytorch = ModelStats.of(OnnxModel.load(SharedFiles.require("models/pytorch_cnn_mnist.onnx")));
        assertThat(pytorch.parameters()).isEqualTo(21_840);
        assertThat(pytorch.macs()).isPositive();
        assertThat(pytorch.macsByNode()).hasSize(4).doesNotContainValue(0L);

        OnnxModel ultraface = OnnxModel.load(SharedFiles.require("models/ultraface/version-RFB-320.onnx"));
        ModelStats stats = ModelStats.of(ultraface);
        assertThat(stats.parameters()).isBetween(250_000L, 300_000L);
        assertThat(stats.macsByNode()).hasSize(52).doesNotContainValue(0L);
        assertThat(stats.macs()).isBetween(100_000_000L, 400_000_000L);
    }

    @Test
    void macsOfWellKnownTopologiesMatchPublishedFigures() {
        // ResNet-50 at 224x224 is about 4.1 GMACs, VGG-19 about 19.6 GMACs; their weights here come from
        // ConstantOfShape nodes, so shapes (not initializers) drive the count
        ModelStats resnet = ModelStats.of(OnnxModel.load(SharedFiles.require("models/onnx_light/light_resnet50.onnx")));
        assertThat(resnet.macs()).isBetween(4_000_000_000L, 4_200_000_000L);
        assertThat(resnet.macsByNode()).doesNotContainValue(0L);
        ModelStats vgg = ModelStats.of(OnnxModel.load(SharedFiles.require("models/onnx_light/light_vgg19.onnx")));
        assertThat(vgg.macs()).isBetween(19_400_000_000L, 19_800_000_000L);
    }

    @Test
    void countsSparseInitializersByTheirDenseSizeAndStoredBytes() {
        OnnxModel model = OnnxModel.load(SharedFiles.require("models/mnist8/model.onnx"));
        Tensor weight = model.tensor("Parameter193");
        float[] values = weight.toFloatArray();
        for (int i = 0; i < values.length; i += 2) {
            values[i] = 0f;
        }
        OnnxModel sparse = model.edit()
                .putSparseInitializer(Tensor.fromFloats("Parameter193", DataType.FLOAT, weight.shape(), values).toSparseProto()).build();
        ModelStats stats = ModelStats.of(sparse);
        assertThat(stats.parameters()).isEqualTo(5998);
        assertThat(stats.nonZeroParameters()).isEqualTo(ModelStats.of(model).nonZeroParameters() - 1280);
        assertThat(stats.bytesByDataType().get(DataType.FLOAT)).isEqualTo((5994L - 2560) * 4 + 1280 * 4 + 1280 * 8);
    }
}
