package io.condense.plugin.coding;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowable;
import static org.assertj.core.api.Assumptions.assumeThat;

import io.condense.sdk.coding.PackedModelDecoder;
import io.condense.sdk.error.CondenseException;
import io.condense.sdk.error.ErrorCode;
import io.condense.sdk.model.OnnxModel;
import io.condense.sdk.testkit.SharedData;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The decoder refuses what it cannot verify, with a CondenseException and nothing else: every truncation, every
 * flipped bit (caught by the CRC32Cs), and random changes whose CRCs were recomputed so the structural checks run
 * (Huffman streams, adaptive masks and streams with the default {@code entropy=arithmetic}, and zstd frames with
 * {@code entropy=zstd}).
 */
class DecoderRobustnessTest {
    private static final Map<String, byte[]> PACKED = new HashMap<>();
    private static byte[] packed;

    @BeforeAll
    static void encode() {
        assumeThat(SharedData.isAvailable()).as("shared models folder").isTrue();
        OnnxModel model = Pipelines.run(OnnxModel.load(SharedData.model("pytorch_cnn_mnist.onnx")),
                "prune(sparsity=0.9, storage=dense) | quantize(scheme=kmeans, bits=5)");
        for (String entropy : List.of("arithmetic", "huffman", "zstd")) {
            PACKED.put(entropy, Pipelines.apply(new EncodeTechnique(), model, Map.of("entropy", entropy)).packed().orElseThrow()
                    .toByteArray());
        }
        packed = PACKED.get("huffman");
    }

    @ParameterizedTest(name = "entropy={0}")
    @ValueSource(strings = {"arithmetic", "huffman", "zstd"})
    void everyTruncationIsRefused(String entropy) {
        byte[] packed = PACKED.get(entropy);
        for (int length = 0; length < packed.length; length++) {
            byte[] truncated = java.util.Arrays.copyOf(packed, length);
            Throwable thrown = catchThrowable(() -> new PackedModelDecoder().decode(truncated));
            assertThat(thrown).as("truncated to %d bytes", length).isInstanceOf(CondenseException.class);
            assertThat(((CondenseException) thrown).code()).isIn(ErrorCode.TRUNCATED_MODEL, ErrorCode.INVALID_MODEL);
        }
    }

    @ParameterizedTest(name = "entropy={0}")
    @ValueSource(strings = {"arithmetic", "huffman", "zstd"})
    void everyFlippedBitIsRefused(String entropy) {
        byte[] packed = PACKED.get(entropy);
        Random random = new Random(1);
        for (int i = 0; i < 3000; i++) {
            byte[] damaged = packed.clone();
            int bit = random.nextInt(damaged.length * 8);
            damaged[bit / 8] ^= (byte) (1 << (bit % 8));
            Throwable thrown = catchThrowable(() -> new PackedModelDecoder().decode(damaged));
            assertThat(thrown).as("bit %d flipped", bit).isInstanceOf(CondenseException.class);
        }
    }

    @ParameterizedTest(name = "entropy={0}")
    @ValueSource(strings = {"arithmetic", "huffman", "zstd"})
    void resealedChangesThrowOnlyTheDocumentedError(String entropy) {
        byte[] packed = PACKED.get(entropy);
        Random random = new Random(2);
        int decoded = 0;
        for (int i = 0; i < 5000; i++) {
            byte[] changed = packed.clone();
            int changes = 1 + random.nextInt(4);
            for (int c = 0; c < changes; c++) {
                // bias towards the header, table and section headers, where the counts live
                int at = random.nextInt(4) == 0 ? random.nextInt(changed.length) : random.nextInt(Math.min(changed.length, 400));
                changed[at] = (byte) random.nextInt(256);
            }
            PackedFiles.reseal(changed);
            try {
                OnnxModel.fromBytes(new PackedModelDecoder(64L << 20).decode(changed));
                decoded++;
            } catch (CondenseException expected) {
                assertThat(expected.code()).isIn(ErrorCode.INVALID_MODEL, ErrorCode.TRUNCATED_MODEL, ErrorCode.RESOURCE_EXHAUSTED,
                        ErrorCode.TENSOR_SIZE_MISMATCH, ErrorCode.UNSUPPORTED_MODEL);
            }
        }
        System.out.println("entropy=" + entropy + ": resealed random changes that still decoded: " + decoded + " of 5000");
    }

    @Test
    void aDeclaredLengthBeyondTheFileIsTruncation() {
        byte[] changed = packed.clone();
        ByteBuffer.wrap(changed).order(ByteOrder.LITTLE_ENDIAN).putLong(16, changed.length + 1L);
        PackedFiles.reseal(changed);
        CondenseException thrown = (CondenseException) catchThrowable(() -> new PackedModelDecoder().decode(changed));
        assertThat(thrown.code()).isEqualTo(ErrorCode.TRUNCATED_MODEL);
    }

    @Test
    void anOnnxFileIsNotAPackedModel() {
        byte[] onnx = OnnxModel.load(SharedData.model("mnist8/model.onnx")).toBytes();
        CondenseException thrown = (CondenseException) catchThrowable(() -> new PackedModelDecoder().decode(onnx));
        assertThat(thrown.code()).isEqualTo(ErrorCode.INVALID_MODEL);
        assertThat(thrown.getMessage()).contains("not a packed model");
    }

    @Test
    void theDecoderLimitIsEnforced() {
        CondenseException thrown = (CondenseException) catchThrowable(() -> new PackedModelDecoder(1000).decode(packed));
        assertThat(thrown.code()).isEqualTo(ErrorCode.RESOURCE_EXHAUSTED);
    }
}
