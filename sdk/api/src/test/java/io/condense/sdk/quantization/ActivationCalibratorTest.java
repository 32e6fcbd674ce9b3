package io.condense.sdk.quantization;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.onnx.proto.OnnxMl.NodeProto;
import io.condense.sdk.Onnx;
import io.condense.sdk.data.Dataset;
import io.condense.sdk.data.NdArray;
import io.condense.sdk.error.CondenseException;
import io.condense.sdk.eval.ValueSpec;
import io.condense.sdk.model.OnnxModel;
import io.condense.sdk.tensor.DataType;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class ActivationCalibratorTest {
    /** A language model's input: token ids [batch, sequence], both free. */
    private static final ValueSpec TOKENS = new ValueSpec("tokens", DataType.INT64, new long[] {-1, -1});

    @Test
    void tokenIdInputsAreFedAsIntegersInTheDataSequenceLength() {
        Dataset windows = Dataset.of(NdArray.ofLongs(new long[] {3, 4}, new long[] {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}));
        NdArray batch = ActivationCalibrator.batchInput(windows, 1, 2, TOKENS);
        assertThat(batch.dataType()).isEqualTo(DataType.INT64);
        assertThat(batch.shape()).containsExactly(2, 4);
        assertThat(batch.toLongArray()).containsExactly(5, 6, 7, 8, 9, 10, 11, 12);

        NdArray int32 = ActivationCalibrator.sampleInput(windows, 0, new ValueSpec("ids", DataType.INT32, new long[] {1, -1}));
        assertThat(int32.dataType()).isEqualTo(DataType.INT32);
        assertThat(int32.toLongArray()).containsExactly(1, 2, 3, 4);
    }

    @Test
    void tokenIdsGivenAsFloatsMustBeWholeNumbers() {
        Dataset whole = Dataset.of(NdArray.ofFloats(new long[] {1, 3}, new float[] {4, 0, 62}));
        assertThat(ActivationCalibrator.sampleInput(whole, 0, TOKENS).toLongArray()).containsExactly(4, 0, 62);
        Dataset fractional = Dataset.of(NdArray.ofFloats(new long[] {1, 3}, new float[] {4, 0.5f, 62}));
        assertThatThrownBy(() -> ActivationCalibrator.sampleInput(fractional, 0, TOKENS)).isInstanceOf(CondenseException.class)
                .hasMessageContaining("'tokens' takes INT64 values (token ids) but calibration value 1 is 0.5");
    }

    @Test
    void otherInputTypesAreRefusedNamingTheInput() {
        Dataset data = Dataset.of(NdArray.ofFloats(new long[] {1, 2}, new float[] {1, 2}));
        assertThatThrownBy(() -> ActivationCalibrator.sampleInput(data, 0, new ValueSpec("mask", DataType.UINT8, new long[] {1, 2})))
                .isInstanceOf(CondenseException.class).hasMessageContaining("input 'mask' is UINT8");
    }

    @Test
    void aValueReducedToItsRangeCountsWholeInTheBatchSize() {
        NdArray scalar = NdArray.ofFloats(new long[0], new float[] {1});
        // a 224 x 224 image model's activations: 1 M values a sample, returned as their range alone
        Map<String, NdArray> reduced = Map.of("condense.calibration.min/relu", scalar, "condense.calibration.max/relu", scalar,
                "condense.calibration.size/relu", NdArray.ofLongs(new long[0], new long[] {1 << 20}));
        assertThat(ActivationCalibrator.batchSize(reduced, 1)).isEqualTo(1);
        // a small model's: 10 K values a sample, whole or as a range
        assertThat(ActivationCalibrator.batchSize(Map.of("relu", NdArray.ofFloats(new long[] {10_000}, new float[10_000])), 1))
                .isEqualTo(ActivationCalibrator.MAX_BATCH);
        Map<String, NdArray> small = Map.of("condense.calibration.min/relu", scalar, "condense.calibration.max/relu", scalar,
                "condense.calibration.size/relu", NdArray.ofLongs(new long[0], new long[] {2 * 10_000}));
        assertThat(ActivationCalibrator.batchSize(small, 2)).isEqualTo(ActivationCalibrator.MAX_BATCH);
        // in between: as many samples as keep a run within BATCH_BYTES
        Map<String, NdArray> middle = Map.of("condense.calibration.size/relu", NdArray.ofLongs(new long[0], new long[] {100_000}));
        assertThat(ActivationCalibrator.batchSize(middle, 1)).isEqualTo((int) (ActivationCalibrator.BATCH_BYTES / 400_000));
    }

    @Test
    void aNonNegativeValueOfKnownShapeIsReducedToItsMaximumWithoutACopyToPlainLayout() {
        // x -> Conv 1x1 -> c; Relu(c) = r; Clip(c, -1, 6) = k; Clip(c, 0, 6) = z; Add(r, k) = a
        OnnxModel model = OnnxModel.of(Onnx.model(13, List.of(Onnx.value("x", 1, 2, 3, 3)), List.of(Onnx.value("a", 1, 2, 3, 3)),
                List.of(Onnx.node("Conv", List.of("x", "w"), List.of("c")), Onnx.node("Relu", List.of("c"), List.of("r")),
                        Onnx.node("Clip", List.of("c", "low", "six"), List.of("k")), Onnx.node("Clip", List.of("c", "zero", "six"), List.of("z")),
                        Onnx.node("Add", List.of("r", "k"), List.of("a"))),
                List.of(Onnx.floats("w", new long[] {2, 2, 1, 1}, 1, -2, -1, 0.5f), Onnx.floats("low", new long[0], -1),
                        Onnx.floats("zero", new long[0], 0), Onnx.floats("six", new long[0], 6))));
        List<String> values = List.of("r", "k", "z", "a");
        assertThat(ActivationCalibrator.nonNegative(model, "r")).isTrue();
        assertThat(ActivationCalibrator.nonNegative(model, "z")).isTrue();
        assertThat(ActivationCalibrator.nonNegative(model, "k")).isFalse();
        assertThat(ActivationCalibrator.nonNegative(model, "a")).isFalse();
        // a bound written as a Constant node, as PyTorch exports ReLU6
        OnnxModel relu6 = OnnxModel.of(Onnx.model(13, List.of(Onnx.value("x", 1, 2)), List.of(Onnx.value("y", 1, 2)),
                List.of(NodeProto.newBuilder().setOpType("Constant").addOutput("zero").addAttribute(ai.onnx.proto.OnnxMl.AttributeProto
                        .newBuilder().setName("value").setType(ai.onnx.proto.OnnxMl.AttributeProto.AttributeType.TENSOR)
                        .setT(Onnx.floats("", new long[0], 0))).build(), Onnx.node("Clip", List.of("x", "zero"), List.of("y"))),
                List.of()));
        assertThat(ActivationCalibrator.nonNegative(relu6, "y")).isTrue();
        Map<String, long[]> shapes = ActivationCalibrator.sampleShapes(model, values);
        assertThat(shapes.keySet()).containsExactlyInAnyOrderElementsOf(values);
        assertThat(shapes.get("a")).containsExactly(1, 2, 3, 3);

        OnnxModel reduced = ActivationCalibrator.exposingRanges(model, List.of(), values, shapes);
        List<String> ops = reduced.nodes().stream().map(NodeProto::getOpType).toList();
        assertThat(ops).doesNotContain("Size");
        assertThat(ops.stream().filter("GlobalMaxPool"::equals).count()).isEqualTo(2);
        assertThat(ops.stream().filter("ReduceMin"::equals).count()).isEqualTo(2);
        // without the shapes, every value keeps its minimum and is counted by Size
        List<String> counted = ActivationCalibrator.exposingRanges(model, List.of(), values, Map.of()).nodes().stream()
                .map(NodeProto::getOpType).toList();
        assertThat(counted.stream().filter("Size"::equals).count()).isEqualTo(4);
        assertThat(counted).doesNotContain("GlobalMaxPool");

        // the maxima and minima ONNX Runtime returns are those of the values themselves
        float[] input = new float[18];
        for (int i = 0; i < input.length; i++) {
            input[i] = (i - 9) * 0.7f;
        }
        OnnxModel exposed = ActivationCalibrator.exposing(model, values);
        List<float[]> whole = Onnx.run(exposed, "x", new long[] {1, 2, 3, 3}, input);
        List<String> wholeNames = exposed.outputs().stream().map(output -> output.getName()).toList();
        List<float[]> ranges = Onnx.run(reduced, "x", new long[] {1, 2, 3, 3}, input);
        List<String> names = reduced.outputs().stream().map(output -> output.getName()).toList();
        for (int v = 0; v < values.size(); v++) {
            float[] all = whole.get(wholeNames.indexOf(values.get(v)));
            float max = Float.NEGATIVE_INFINITY;
            float min = Float.POSITIVE_INFINITY;
            for (float x : all) {
                max = Math.max(max, x);
                min = Math.min(min, x);
            }
            assertThat(ranges.get(names.indexOf("condense.calibration.max/" + values.get(v)))[0]).as(values.get(v)).isEqualTo(max);
            int minIndex = names.indexOf("condense.calibration.min/" + values.get(v));
            if (minIndex >= 0) {
                assertThat(ranges.get(minIndex)[0]).as(values.get(v)).isEqualTo(min);
            } else {
                assertThat(min).as(values.get(v)).isGreaterThanOrEqualTo(0f);
            }
        }
    }
}
