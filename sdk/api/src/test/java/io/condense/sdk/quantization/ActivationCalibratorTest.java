package io.condense.sdk.quantization;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.condense.sdk.data.Dataset;
import io.condense.sdk.data.NdArray;
import io.condense.sdk.error.CondenseException;
import io.condense.sdk.eval.ValueSpec;
import io.condense.sdk.tensor.DataType;
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
}
