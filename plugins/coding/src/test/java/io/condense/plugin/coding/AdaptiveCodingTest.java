package io.condense.plugin.coding;

import static org.assertj.core.api.Assertions.assertThat;

import ai.onnx.proto.OnnxMl.ModelProto;
import ai.onnx.proto.OnnxMl.TensorProto;
import com.google.protobuf.InvalidProtocolBufferException;
import io.condense.sdk.coding.PackedFormat;
import io.condense.sdk.coding.PackedModelDecoder;
import io.condense.sdk.error.CondenseException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * The format's adaptive coding (MASKED layout, ADAPTIVE streams) against the SDK decoder, on tensors built to stress
 * it: masks with image structure, dense and empty masks, every rank, values of several widths; each decoded
 * bit-identically, and the encoder picks the adaptive layout where it is smaller, with the stride the structure has.
 */
class AdaptiveCodingTest {
    @Test
    void masksWithImageStructurePickTheImageWidthAsStrideAndBeatHuffmanGaps() throws Exception {
        int rows = 64;
        int width = 20;
        int[] patterns = receptiveFields(rows, width, new Random(3));
        TensorCoder.Coded arithmetic = TensorCoder.code(input("w", 2, new long[] {rows, width * width}, patterns), Entropy.ARITHMETIC);
        TensorCoder.Coded huffman = TensorCoder.code(input("w", 2, new long[] {rows, width * width}, patterns), Entropy.HUFFMAN);
        assertThat(arithmetic.report().get("layout")).isEqualTo("masked");
        assertThat(arithmetic.report().get("stride")).isEqualTo(width);
        assertThat(arithmetic.section().length).isLessThan(huffman.section().length);
        assertThat(decode(arithmetic, 2, new long[] {rows, width * width})).isEqualTo(patterns);
    }

    @Test
    void everyShapeAndDensityDecodesExactly() throws Exception {
        Random random = new Random(7);
        List<long[]> shapes = List.of(new long[] {5000}, new long[] {40, 50}, new long[] {16, 8, 3, 3}, new long[] {1, 1, 2000},
                new long[] {3000, 1});
        for (long[] dims : shapes) {
            int count = (int) Arrays.stream(dims).reduce(1, (a, b) -> a * b);
            for (double density : new double[] {0, 0.001, 0.05, 0.5, 0.97, 1}) {
                for (int dataType : new int[] {2, 22, 1}) {
                    int bits = PackedFormat.elementBits(dataType);
                    int[] patterns = new int[count];
                    for (int i = 0; i < count; i++) {
                        if (random.nextDouble() < density) {
                            patterns[i] = dataType == 1 ? Float.floatToRawIntBits((float) random.nextGaussian())
                                    : 1 + random.nextInt((1 << bits) - 1);
                        }
                    }
                    TensorCoder.Coded coded = TensorCoder.code(input("t", dataType, dims, patterns), Entropy.ARITHMETIC);
                    assertThat(decode(coded, dataType, dims)).as("%s density %s type %d (%s)", Arrays.toString(dims), density,
                            dataType, coded.report().get("layout")).isEqualTo(patterns);
                }
            }
        }
    }

    @Test
    void aDamagedMaskIsRefused() {
        Random random = new Random(5);
        int[] patterns = receptiveFields(40, 20, random);
        TensorCoder.Coded coded = TensorCoder.code(input("m", 2, new long[] {40, 400}, patterns), Entropy.ARITHMETIC);
        assertThat(coded.report().get("layout")).isEqualTo("masked");
        byte[] section = coded.section();
        int refused = 0;
        for (int trial = 0; trial < 200; trial++) {
            byte[] damaged = section.clone();
            // the mask payload is the section's tail
            int at = damaged.length - 1 - random.nextInt(Math.min(200, damaged.length / 3));
            damaged[at] ^= (byte) (1 + random.nextInt(255));
            try {
                int[] decoded = decode(damaged, 2, new long[] {40, 400});
                assertThat(decoded).hasSize(patterns.length);
            } catch (CondenseException expected) {
                refused++;
            } catch (InvalidProtocolBufferException e) {
                throw new AssertionError(e);
            }
        }
        // a changed payload almost always changes the number of set bits or leaves bytes unread
        assertThat(refused).isGreaterThan(150);
    }

    /**
     * Rows of a pruned layer over {@code width x width} images: each row (a neuron) keeps the pixels of a disc at a
     * random place (its receptive field) with a few strays, values from a 6-bit codebook.
     */
    private static int[] receptiveFields(int rows, int width, Random random) {
        int[] patterns = new int[rows * width * width];
        for (int r = 0; r < rows; r++) {
            double cx = width * random.nextDouble();
            double cy = width * random.nextDouble();
            double radius = 2 + 3 * random.nextDouble();
            for (int y = 0; y < width; y++) {
                for (int x = 0; x < width; x++) {
                    boolean inside = Math.hypot(x - cx, y - cy) < radius;
                    if (inside ? random.nextDouble() < 0.9 : random.nextDouble() < 0.01) {
                        patterns[r * width * width + y * width + x] = 1 + random.nextInt(63);
                    }
                }
            }
        }
        return patterns;
    }

    private static TensorCoder.Input input(String name, int dataType, long[] dims, int[] patterns) {
        return new TensorCoder.Input(name, PackedFormat.TARGET_INITIALIZER, dataType, dims, patterns, null, 0);
    }

    private static int[] decode(TensorCoder.Coded coded, int dataType, long[] dims) throws InvalidProtocolBufferException {
        return decode(coded.section(), dataType, dims);
    }

    /** A file of an empty graph and this one section, decoded by the SDK; the tensor's element patterns. */
    private static int[] decode(byte[] section, int dataType, long[] dims) throws InvalidProtocolBufferException {
        byte[] file = PackedFileWriter.write(List.of(
                new PackedFileWriter.Section(PackedFormat.SECTION_GRAPH, 0, ModelProto.newBuilder().setIrVersion(8).build().toByteArray()),
                new PackedFileWriter.Section(PackedFormat.SECTION_TENSOR, 0, section)));
        TensorProto tensor = ModelProto.parseFrom(new PackedModelDecoder().decode(file)).getGraph().getInitializer(0);
        assertThat(tensor.getDimsList()).containsExactlyElementsOf(Arrays.stream(dims).boxed().toList());
        ByteBuffer raw = tensor.getRawData().asReadOnlyByteBuffer().order(ByteOrder.LITTLE_ENDIAN);
        int count = (int) Arrays.stream(dims).reduce(1, (a, b) -> a * b);
        int[] patterns = new int[count];
        int bits = PackedFormat.elementBits(dataType);
        for (int i = 0; i < count; i++) {
            patterns[i] = switch (bits) {
                case 32 -> raw.getInt(4 * i);
                case 16 -> raw.getShort(2 * i) & 0xFFFF;
                case 8 -> raw.get(i) & 0xFF;
                default -> (raw.get(i / 2) >> (i % 2 == 0 ? 0 : 4)) & 0x0F;
            };
        }
        return patterns;
    }
}
