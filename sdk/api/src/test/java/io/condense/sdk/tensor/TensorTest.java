package io.condense.sdk.tensor;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.onnx.proto.OnnxMl.SparseTensorProto;
import ai.onnx.proto.OnnxMl.TensorProto;
import com.google.protobuf.ByteString;
import io.condense.sdk.error.CondenseException;
import io.condense.sdk.error.ErrorCode;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.ReadOnlyBufferException;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class TensorTest {
    private static final float[] SPECIAL_FLOATS = {0f, -0f, 1f, -1.5f, Float.NaN, Float.intBitsToFloat(0x7FC00123),
        Float.intBitsToFloat(0xFF800001), Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY, Float.MIN_VALUE, -Float.MIN_VALUE,
        Float.MIN_NORMAL, Float.intBitsToFloat(0x007FFFFF), Float.MAX_VALUE, -Float.MAX_VALUE, 3.1415927f};

    @Test
    void indexOfNonFiniteFindsTheFirstNanOrInfinityOfEachFloatType() {
        long[] shape = {5};
        assertThat(Tensor.fromFloats("w", DataType.FLOAT, shape, new float[] {1, 2, -3, 4, 5}).indexOfNonFinite()).isEqualTo(-1);
        assertThat(Tensor.fromFloats("w", DataType.FLOAT, shape, new float[] {1, 2, Float.POSITIVE_INFINITY, Float.NaN, 5})
                .indexOfNonFinite()).isEqualTo(2);
        assertThat(Tensor.fromFloats("w", DataType.FLOAT16, shape, new float[] {1, 2, 3, Float.NaN, 5}).indexOfNonFinite()).isEqualTo(3);
        assertThat(Tensor.fromFloats("w", DataType.BFLOAT16, shape, new float[] {Float.NEGATIVE_INFINITY, 2, 3, 4, 5})
                .indexOfNonFinite()).isZero();
        assertThat(Tensor.fromInts("w", DataType.INT8, shape, new int[] {1, -2, 3, 4, 5}).indexOfNonFinite()).isEqualTo(-1);
    }

    @Test
    void wrapRawSharesTheArrayAndFromRawCopiesIt() {
        byte[] raw = new byte[12];
        ByteBuffer.wrap(raw).order(ByteOrder.LITTLE_ENDIAN).putFloat(4, 1.5f).putFloat(8, -2f);
        Tensor wrapped = Tensor.wrapRaw("w", DataType.FLOAT, new long[] {2}, raw, 4, 8);
        Tensor copied = Tensor.fromRaw("w", DataType.FLOAT, new long[] {2}, java.util.Arrays.copyOfRange(raw, 4, 12));
        assertThat(wrapped.toFloatArray()).containsExactly(1.5f, -2f);
        ByteBuffer.wrap(raw).order(ByteOrder.LITTLE_ENDIAN).putFloat(4, 7f);
        assertThat(wrapped.getFloat(0)).isEqualTo(7f);
        assertThat(copied.getFloat(0)).isEqualTo(1.5f);
    }

    @Test
    void float32RoundTripsBitExactlyIncludingSpecialValues() {
        Tensor tensor = Tensor.fromFloats("w", DataType.FLOAT, new long[] {4, 4}, SPECIAL_FLOATS);
        float[] back = tensor.toFloatArray();
        for (int i = 0; i < SPECIAL_FLOATS.length; i++) {
            assertThat(Float.floatToRawIntBits(back[i])).as("element %d", i).isEqualTo(Float.floatToRawIntBits(SPECIAL_FLOATS[i]));
        }
        Tensor again = Tensor.fromProto(tensor.toProto());
        assertThat(again.rawByteString()).isEqualTo(tensor.rawByteString());
        assertThat(again.name()).isEqualTo("w");
        assertThat(again.shape()).containsExactly(4, 4);
        assertThat(again.elementCount()).isEqualTo(16);
        assertThat(Float.floatToRawIntBits(again.getFloat(1))).isEqualTo(0x80000000);
    }

    @Test
    void float16AndBfloat16RoundTripEveryBitPattern() {
        for (DataType type : new DataType[] {DataType.FLOAT16, DataType.BFLOAT16}) {
            byte[] raw = new byte[0x10000 * 2];
            ByteBuffer buffer = ByteBuffer.wrap(raw).order(ByteOrder.LITTLE_ENDIAN);
            for (int bits = 0; bits < 0x10000; bits++) {
                buffer.putShort((short) bits);
            }
            Tensor tensor = Tensor.fromRaw("h", type, new long[] {0x10000}, raw);
            float[] values = tensor.toFloatArray();
            Tensor back = Tensor.fromFloats("h", type, new long[] {0x10000}, values);
            assertThat(back.rawByteString()).as(type.name()).isEqualTo(ByteString.copyFrom(raw));
            assertThat(Tensor.fromProto(back.toProto()).rawByteString()).isEqualTo(ByteString.copyFrom(raw));
        }
        Tensor special = Tensor.fromFloats("s", DataType.FLOAT16, new long[] {SPECIAL_FLOATS.length}, SPECIAL_FLOATS);
        float[] values = special.toFloatArray();
        assertThat(values[2]).isEqualTo(1f);
        assertThat(values[4]).isNaN();
        assertThat(values[7]).isEqualTo(Float.POSITIVE_INFINITY);
        assertThat(values[13]).isEqualTo(Float.POSITIVE_INFINITY); // float max overflows half
        assertThat(Float.floatToRawIntBits(values[1])).isEqualTo(0x80000000);
    }

    @Test
    void integerTypesRoundTripTheirWholeRangeWithOddCounts() {
        checkIntegers(DataType.INT8, -128, 127);
        checkIntegers(DataType.UINT8, 0, 255);
        checkIntegers(DataType.INT4, -8, 7);
        checkIntegers(DataType.UINT4, 0, 15);
        int[] int32 = {Integer.MIN_VALUE, -1, 0, 1, Integer.MAX_VALUE};
        Tensor tensor = Tensor.fromInts("i", DataType.INT32, new long[] {5}, int32);
        assertThat(tensor.toIntArray()).containsExactly(int32);
        assertThat(Tensor.fromProto(tensor.toProto()).toIntArray()).containsExactly(int32);
        long[] int64 = {Long.MIN_VALUE, -1, 0, 1, Long.MAX_VALUE};
        Tensor longs = Tensor.fromLongs("l", new long[] {5}, int64);
        assertThat(longs.toLongArray()).containsExactly(int64);
        assertThat(Tensor.fromProto(longs.toProto()).toLongArray()).containsExactly(int64);
        assertThat(longs.toFloatArray()[4]).isEqualTo((float) Long.MAX_VALUE);
    }

    private static void checkIntegers(DataType type, int minimum, int maximum) {
        int count = (maximum - minimum + 1) * 2 + 1; // odd, so 4-bit types end on a half byte
        int[] values = new int[count];
        for (int i = 0; i < count; i++) {
            values[i] = minimum + i % (maximum - minimum + 1);
        }
        Tensor tensor = Tensor.fromInts("t", type, new long[] {count}, values);
        assertThat(tensor.byteSize()).isEqualTo(type.byteSize(count));
        assertThat(tensor.toIntArray()).as(type.name()).containsExactly(values);
        float[] floats = tensor.toFloatArray();
        for (int i = 0; i < count; i++) {
            assertThat(floats[i]).isEqualTo(values[i]);
        }
        Tensor fromFloats = Tensor.fromFloats("t", type, new long[] {count}, floats);
        assertThat(fromFloats.rawByteString()).isEqualTo(tensor.rawByteString());
        assertThat(Tensor.fromProto(tensor.toProto()).rawByteString()).isEqualTo(tensor.rawByteString());
        long[] longs = tensor.toLongArray();
        assertThat(longs[count - 1]).isEqualTo(values[count - 1]);
    }

    @Test
    void fourBitValuesArePackedLowNibbleFirst() {
        Tensor signed = Tensor.fromInts("q", DataType.INT4, new long[] {3}, new int[] {1, -2, 3});
        assertThat(bytes(signed)).containsExactly((byte) 0xE1, (byte) 0x03);
        Tensor unsigned = Tensor.fromInts("q", DataType.UINT4, new long[] {3}, new int[] {15, 0, 7});
        assertThat(bytes(unsigned)).containsExactly((byte) 0x0F, (byte) 0x07);
        assertThat(unsigned.getFloat(2)).isEqualTo(7f);
        assertThat(signed.getFloat(1)).isEqualTo(-2f);
    }

    @Test
    void typedFieldsGiveTheSameValuesAsRawData() {
        TensorProto floats = TensorProto.newBuilder().setName("f").setDataType(1).addDims(3)
                .addFloatData(1.5f).addFloatData(-0f).addFloatData(Float.NaN).build();
        assertThat(Tensor.fromProto(floats).rawByteString())
                .isEqualTo(Tensor.fromFloats("f", DataType.FLOAT, new long[] {3}, new float[] {1.5f, -0f, Float.NaN}).rawByteString());

        TensorProto int8 = TensorProto.newBuilder().setName("i").setDataType(3).addDims(3)
                .addInt32Data(-128).addInt32Data(0).addInt32Data(127).build();
        assertThat(Tensor.fromProto(int8).toIntArray()).containsExactly(-128, 0, 127);

        TensorProto uint8 = TensorProto.newBuilder().setName("u").setDataType(2).addDims(2).addInt32Data(255).addInt32Data(1).build();
        assertThat(Tensor.fromProto(uint8).toIntArray()).containsExactly(255, 1);

        TensorProto half = TensorProto.newBuilder().setName("h").setDataType(10).addDims(2).addInt32Data(0x3C00).addInt32Data(0xC000).build();
        assertThat(Tensor.fromProto(half).toFloatArray()).containsExactly(1f, -2f);

        TensorProto brain = TensorProto.newBuilder().setName("b").setDataType(16).addDims(1).addInt32Data(0x3F80).build();
        assertThat(Tensor.fromProto(brain).toFloatArray()).containsExactly(1f);

        // int4 in int32_data: each entry holds one packed byte, two elements, the first in the low nibble
        TensorProto int4 = TensorProto.newBuilder().setName("n").setDataType(22).addDims(3).addInt32Data(0xE1).addInt32Data(0x03).build();
        assertThat(Tensor.fromProto(int4).toIntArray()).containsExactly(1, -2, 3);

        TensorProto int32 = TensorProto.newBuilder().setName("i32").setDataType(6).addDims(2).addInt32Data(-7).addInt32Data(9).build();
        assertThat(Tensor.fromProto(int32).toIntArray()).containsExactly(-7, 9);

        TensorProto int64 = TensorProto.newBuilder().setName("l").setDataType(7).addDims(2).addInt64Data(-5).addInt64Data(1L << 40).build();
        assertThat(Tensor.fromProto(int64).toLongArray()).containsExactly(-5, 1L << 40);
        assertThat(Tensor.fromProto(int64).toProto().getRawData().size()).isEqualTo(16);
    }

    @Test
    void declaredSizeThatDisagreesWithTheBytesIsATypedError() {
        TensorProto broken = TensorProto.newBuilder().setName("conv.weight").setDataType(1).addDims(2).addDims(3)
                .setRawData(ByteString.copyFrom(new byte[20])).build();
        assertThatThrownBy(() -> Tensor.fromProto(broken))
                .isInstanceOf(CondenseException.class)
                .satisfies(e -> assertThat(((CondenseException) e).code()).isEqualTo(ErrorCode.TENSOR_SIZE_MISMATCH))
                .hasMessageContaining("conv.weight").hasMessageContaining("float32").hasMessageContaining("[2, 3]")
                .hasMessageContaining("24").hasMessageContaining("20");
        TensorProto typed = TensorProto.newBuilder().setName("t").setDataType(1).addDims(3).addFloatData(1f).build();
        assertThatThrownBy(() -> Tensor.fromProto(typed)).isInstanceOf(CondenseException.class).hasMessageContaining("float_data");
    }

    @Test
    void unsupportedTypesFailOnlyWhenViewed() {
        TensorProto doubles = TensorProto.newBuilder().setName("d").setDataType(11).addDims(1).addDoubleData(1.0).build();
        assertThatThrownBy(() -> Tensor.fromProto(doubles)).isInstanceOf(CondenseException.class)
                .satisfies(e -> assertThat(((CondenseException) e).code()).isEqualTo(ErrorCode.UNSUPPORTED_MODEL));
    }

    @Test
    void fromFloatsRoundsHalfToEvenAndSaturates() {
        float[] values = {127.6f, -200f, 2.5f, 3.5f, -2.5f, Float.NaN, Float.POSITIVE_INFINITY, 0.49f};
        assertThat(Tensor.fromFloats("q", DataType.INT8, new long[] {8}, values).toIntArray())
                .containsExactly(127, -128, 2, 4, -2, 0, 127, 0);
        assertThat(Tensor.fromFloats("q", DataType.UINT8, new long[] {8}, values).toIntArray())
                .containsExactly(128, 0, 2, 4, 0, 0, 255, 0);
        assertThat(Tensor.fromFloats("q", DataType.INT4, new long[] {8}, values).toIntArray())
                .containsExactly(7, -8, 2, 4, -2, 0, 7, 0);
        assertThat(Tensor.fromFloats("q", DataType.UINT4, new long[] {8}, values).toIntArray())
                .containsExactly(15, 0, 2, 4, 0, 0, 15, 0);
        assertThat(Tensor.fromFloats("q", DataType.INT32, new long[] {3}, new float[] {3e9f, -3e9f, 1.5f}).toIntArray())
                .containsExactly(Integer.MAX_VALUE, Integer.MIN_VALUE, 2);
        assertThatThrownBy(() -> Tensor.fromInts("q", DataType.INT4, new long[] {1}, new int[] {8}))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("[-8, 7]");
    }

    @Test
    void rawIsAReadOnlyLittleEndianView() {
        Tensor tensor = Tensor.fromInts("i", DataType.INT32, new long[] {1}, new int[] {0x01020304});
        ByteBuffer raw = tensor.raw();
        assertThat(raw.order()).isEqualTo(ByteOrder.LITTLE_ENDIAN);
        assertThat(raw.get(0)).isEqualTo((byte) 0x04);
        assertThat(raw.isReadOnly()).isTrue();
        assertThatThrownBy(() -> raw.put(0, (byte) 1)).isInstanceOf(ReadOnlyBufferException.class);
    }

    @Test
    void toFloatArrayFillsACallerBuffer() {
        Tensor tensor = Tensor.fromFloats("w", DataType.BFLOAT16, new long[] {2}, new float[] {1f, -3f});
        float[] out = new float[2];
        tensor.toFloatArray(out);
        assertThat(out).containsExactly(1f, -3f);
        assertThatThrownBy(() -> tensor.toFloatArray(new float[3])).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void sparseFormRoundTripsBitExactly() {
        SplittableRandom random = new SplittableRandom(7);
        for (DataType type : DataType.values()) {
            int count = 35;
            float[] values = new float[count];
            for (int i = 0; i < count; i++) {
                values[i] = random.nextInt(3) == 0 ? (float) random.nextInt(-7, 8) : 0f;
            }
            values[3] = type.isFloatingPoint() ? -0f : 0f;
            Tensor dense = Tensor.fromFloats("w", type, new long[] {5, 7}, values);
            SparseTensorProto sparse = dense.toSparseProto();
            assertThat(sparse.getValues().getName()).isEqualTo("w");
            assertThat(sparse.getDimsList()).containsExactly(5L, 7L);
            Tensor back = Tensor.fromSparseProto(sparse);
            assertThat(back.rawByteString()).as(type.name()).isEqualTo(dense.rawByteString());
            assertThat(back.shape()).containsExactly(5, 7);
        }
    }

    @Test
    void sparseCoordinatesAreDensified() {
        TensorProto values = Tensor.fromFloats("s", DataType.FLOAT, new long[] {2}, new float[] {4f, 5f}).toProto();
        TensorProto indices = Tensor.fromLongs("s_indices", new long[] {2, 2}, new long[] {0, 1, 2, 0}).toProto();
        SparseTensorProto sparse = SparseTensorProto.newBuilder().setValues(values).setIndices(indices).addDims(3).addDims(2).build();
        assertThat(Tensor.fromSparseProto(sparse).toFloatArray()).containsExactly(0f, 4f, 0f, 0f, 5f, 0f);
        TensorProto outside = Tensor.fromLongs("s_indices", new long[] {2}, new long[] {0, 6}).toProto();
        assertThatThrownBy(() -> Tensor.fromSparseProto(sparse.toBuilder().setIndices(outside).build()))
                .isInstanceOf(CondenseException.class).hasMessageContaining("outside");
    }

    @Test
    void countsNonZeros() {
        Tensor tensor = Tensor.fromFloats("w", DataType.FLOAT, new long[] {5}, new float[] {0f, -0f, 1f, Float.NaN, 2f});
        assertThat(tensor.countNonZero()).isEqualTo(3);
        assertThat(Tensor.fromInts("q", DataType.INT4, new long[] {3}, new int[] {0, -1, 0}).countNonZero()).isEqualTo(1);
        assertThat(Tensor.fromLongs("l", new long[] {2}, new long[] {0, 1L << 40}).countNonZero()).isEqualTo(1);
    }

    @Test
    void withNameKeepsTheData() {
        Tensor tensor = Tensor.fromFloats("a", DataType.FLOAT, new long[] {1}, new float[] {2f});
        Tensor renamed = tensor.withName("b");
        assertThat(renamed.name()).isEqualTo("b");
        assertThat(renamed.toProto().getName()).isEqualTo("b");
        assertThat(renamed.rawByteString()).isSameAs(tensor.rawByteString());
    }

    private static byte[] bytes(Tensor tensor) {
        ByteBuffer raw = tensor.raw();
        byte[] bytes = new byte[raw.remaining()];
        raw.get(bytes);
        return bytes;
    }
}
