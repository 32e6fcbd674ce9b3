package io.condense.sdk.coding;

import ai.onnx.proto.OnnxMl.GraphProto;
import ai.onnx.proto.OnnxMl.ModelProto;
import ai.onnx.proto.OnnxMl.SparseTensorProto;
import ai.onnx.proto.OnnxMl.TensorProto;
import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.UnsafeByteOperations;
import io.condense.sdk.error.CondenseException;
import io.condense.sdk.error.ErrorCode;
import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.HashSet;
import java.util.Set;
import java.util.zip.CRC32C;
import java.util.zip.DataFormatException;
import java.util.zip.Inflater;

/**
 * Decodes a packed model ({@code docs/FORMAT.md}) back into the bytes of an ONNX model whose every tensor is
 * bit-identical to the model that was encoded.
 *
 * <p>It verifies before it trusts: magic, version, the header's CRC32C, the file length, that the sections tile
 * the file, every section's CRC32C, then every declared count against the bytes that carry it, before any
 * allocation those counts size. A file that fails any check is refused with a {@link CondenseException}:
 * {@code TRUNCATED_MODEL} when it is shorter than it declares, {@code RESOURCE_EXHAUSTED} when decoding would
 * exceed {@link #maxDecodedBytes()}, {@code INVALID_MODEL} for everything else. It throws nothing else.
 */
public final class PackedModelDecoder {
    /** The default limit on the decoded ONNX bytes: 2 GiB, the most one protobuf message may hold. */
    public static final long DEFAULT_MAX_DECODED_BYTES = Integer.MAX_VALUE - 8;

    private final long maxDecodedBytes;

    public PackedModelDecoder() {
        this(DEFAULT_MAX_DECODED_BYTES);
    }

    public PackedModelDecoder(long maxDecodedBytes) {
        if (maxDecodedBytes < 1 || maxDecodedBytes > DEFAULT_MAX_DECODED_BYTES) {
            throw new IllegalArgumentException("maxDecodedBytes must be in [1, " + DEFAULT_MAX_DECODED_BYTES + "]: " + maxDecodedBytes);
        }
        this.maxDecodedBytes = maxDecodedBytes;
    }

    public long maxDecodedBytes() {
        return maxDecodedBytes;
    }

    /** The decoded model as ONNX bytes: the graph section followed by one initializer message per tensor section. */
    public byte[] decode(byte[] file) {
        if (file == null) {
            throw new CondenseException(ErrorCode.INVALID_MODEL, "no packed file given");
        }
        if (!PackedFormat.isPacked(file)) {
            throw new CondenseException(file.length < PackedFormat.MAGIC.length && isPrefixOfMagic(file) ? ErrorCode.TRUNCATED_MODEL
                    : ErrorCode.INVALID_MODEL, "not a packed model (.cpk): the file does not start with the format's magic bytes");
        }
        String where = "the header";
        try {
            Reader header = new Reader(file, 0, file.length);
            header.skip(PackedFormat.MAGIC.length);
            int major = header.u16();
            int minor = header.u16();
            if (major != PackedFormat.MAJOR_VERSION) {
                throw new PackedFormatException("format version " + major + "." + minor + " is not supported; this decoder reads "
                        + PackedFormat.MAJOR_VERSION + ".x");
            }
            long sections = header.u32();
            long declaredLength = header.u64();
            if (declaredLength != file.length) {
                throw new CondenseException(declaredLength > file.length ? ErrorCode.TRUNCATED_MODEL : ErrorCode.INVALID_MODEL,
                        "packed model is " + file.length + " bytes but its header declares " + Long.toUnsignedString(declaredLength));
            }
            if (sections < 1 || sections > PackedFormat.MAX_SECTIONS) {
                throw new PackedFormatException("section count " + sections + " outside [1, " + PackedFormat.MAX_SECTIONS + "]");
            }
            long tableEnd = PackedFormat.HEADER_BYTES + sections * PackedFormat.SECTION_ENTRY_BYTES;
            if (tableEnd + 4 > file.length) {
                throw new CondenseException(ErrorCode.TRUNCATED_MODEL, "packed model (" + file.length + " bytes) is shorter than its "
                        + sections + "-entry section table");
            }
            CRC32C headerCrc = new CRC32C();
            headerCrc.update(file, 0, (int) tableEnd);
            Reader table = new Reader(file, PackedFormat.HEADER_BYTES, (int) tableEnd + 4);
            int[] kinds = new int[(int) sections];
            int[] flags = new int[(int) sections];
            int[] offsets = new int[(int) sections];
            int[] lengths = new int[(int) sections];
            long[] crcs = new long[(int) sections];
            long expectedOffset = tableEnd + 4;
            for (int i = 0; i < sections; i++) {
                kinds[i] = (int) table.u32();
                flags[i] = (int) table.u32();
                long offset = table.u64();
                long length = table.u64();
                crcs[i] = table.u32();
                long reserved = table.u32();
                if (reserved != 0) {
                    throw new PackedFormatException("section " + i + " has a non-zero reserved field");
                }
                if (offset != expectedOffset) {
                    throw new PackedFormatException("section " + i + " starts at " + Long.toUnsignedString(offset) + ", expected "
                            + expectedOffset + " (sections follow the table and each other without gaps)");
                }
                if (length < 0 || length > file.length - offset) {
                    throw new PackedFormatException("section " + i + " (" + Long.toUnsignedString(length) + " bytes at " + offset
                            + ") runs past the end of the file (" + file.length + " bytes)");
                }
                offsets[i] = (int) offset;
                lengths[i] = (int) length;
                expectedOffset = offset + length;
            }
            if (table.u32() != headerCrc.getValue()) {
                throw new PackedFormatException("the header's CRC32C does not match: the header or section table is damaged");
            }
            if (expectedOffset != file.length) {
                throw new PackedFormatException("the sections end at " + expectedOffset + " but the file has " + file.length + " bytes");
            }
            for (int i = 0; i < sections; i++) {
                CRC32C crc = new CRC32C();
                crc.update(file, offsets[i], lengths[i]);
                if (crc.getValue() != crcs[i]) {
                    throw new PackedFormatException("section " + i + " fails its CRC32C check: the file is damaged");
                }
            }
            if (kinds[0] != PackedFormat.SECTION_GRAPH) {
                throw new PackedFormatException("the first section is of kind " + kinds[0] + ", not the graph (1)");
            }
            where = "the graph section";
            byte[] graph = graph(file, offsets[0], lengths[0], flags[0]);
            Budget budget = new Budget(maxDecodedBytes);
            budget.take(graph.length, "the graph");
            Set<String> names = graphInitializerNames(graph);
            ByteArrayOutputStream out = new ByteArrayOutputStream(graph.length);
            out.write(graph, 0, graph.length);
            for (int i = 1; i < sections; i++) {
                where = "section " + i;
                if (kinds[i] != PackedFormat.SECTION_TENSOR) {
                    throw new PackedFormatException("kind " + kinds[i] + " is not a tensor section (2)");
                }
                if (flags[i] != 0) {
                    throw new PackedFormatException("a tensor section has flags " + flags[i] + "; version 1.0 defines none");
                }
                byte[] fragment = new TensorSection(new Reader(file, offsets[i], offsets[i] + lengths[i]), budget).decode(names);
                budget.take(fragment.length, "the tensors");
                out.write(fragment, 0, fragment.length);
            }
            return out.toByteArray();
        } catch (PackedFormatException e) {
            throw new CondenseException(ErrorCode.INVALID_MODEL, "invalid packed model: " + where + ": " + e.getMessage());
        }
    }

    private static boolean isPrefixOfMagic(byte[] file) {
        for (int i = 0; i < file.length; i++) {
            if (file[i] != PackedFormat.MAGIC[i]) {
                return false;
            }
        }
        return true;
    }

    private byte[] graph(byte[] file, int offset, int length, int flags) {
        if ((flags & ~PackedFormat.GRAPH_FLAG_ZLIB) != 0) {
            throw new PackedFormatException("unknown flags " + flags);
        }
        if ((flags & PackedFormat.GRAPH_FLAG_ZLIB) == 0) {
            byte[] graph = new byte[length];
            System.arraycopy(file, offset, graph, 0, length);
            return graph;
        }
        Reader reader = new Reader(file, offset, offset + length);
        long inflated = reader.u64();
        long compressed = length - 8L;
        if (inflated < 0 || inflated > compressed * PackedFormat.MAX_INFLATE_RATIO + 64) {
            throw new PackedFormatException("declares " + Long.toUnsignedString(inflated) + " inflated bytes from " + compressed
                    + " compressed bytes, more than zlib can produce");
        }
        if (inflated > maxDecodedBytes) {
            throw new CondenseException(ErrorCode.RESOURCE_EXHAUSTED, "the packed model's graph declares " + inflated
                    + " bytes, more than the decoder's limit of " + maxDecodedBytes);
        }
        byte[] graph = new byte[(int) inflated];
        Inflater inflater = new Inflater();
        try {
            inflater.setInput(file, offset + 8, (int) compressed);
            int produced = 0;
            while (produced < graph.length && !inflater.finished()) {
                int n = inflater.inflate(graph, produced, graph.length - produced);
                if (n == 0 && (inflater.needsInput() || inflater.needsDictionary())) {
                    break;
                }
                produced += n;
            }
            if (produced != graph.length || !inflater.finished() || inflater.getRemaining() != 0) {
                byte[] probe = new byte[1];
                boolean more = !inflater.finished() && inflater.inflate(probe) > 0;
                throw new PackedFormatException("the zlib stream inflates to " + (more ? "more than " : "") + produced
                        + " bytes, not the declared " + inflated + (inflater.getRemaining() != 0 ? ", with bytes after its end" : ""));
            }
        } catch (DataFormatException e) {
            throw new PackedFormatException("the zlib stream is damaged: " + e.getMessage());
        } finally {
            inflater.end();
        }
        return graph;
    }

    private static Set<String> graphInitializerNames(byte[] graph) {
        ModelProto model;
        try {
            model = ModelProto.parseFrom(graph);
        } catch (InvalidProtocolBufferException e) {
            throw new PackedFormatException("the graph is not an ONNX model: " + e.getMessage());
        }
        Set<String> names = new HashSet<>();
        for (TensorProto tensor : model.getGraph().getInitializerList()) {
            names.add(tensor.getName());
        }
        for (SparseTensorProto tensor : model.getGraph().getSparseInitializerList()) {
            names.add(tensor.getValues().getName());
        }
        return names;
    }

    /** The decoded bytes so far against the limit. */
    private static final class Budget {
        private final long limit;
        private long used;

        Budget(long limit) {
            this.limit = limit;
        }

        void check(long bytes, String what) {
            if (bytes < 0 || used + bytes > limit) {
                throw new CondenseException(ErrorCode.RESOURCE_EXHAUSTED, "decoding " + what + " would exceed the decoder's limit of "
                        + limit + " bytes");
            }
        }

        void take(long bytes, String what) {
            check(bytes, what);
            used += bytes;
        }
    }

    /** Little-endian fields over {@code file[position, end)}; reading past the end is a format error. */
    static final class Reader {
        private final byte[] data;
        private final int end;
        private int position;

        Reader(byte[] data, int start, int end) {
            this.data = data;
            this.position = start;
            this.end = end;
        }

        int remaining() {
            return end - position;
        }

        int position() {
            return position;
        }

        byte[] data() {
            return data;
        }

        private void need(long bytes, String what) {
            if (bytes < 0 || bytes > end - position) {
                throw new PackedFormatException("ends inside " + what + " (" + Long.toUnsignedString(bytes) + " bytes needed, "
                        + (end - position) + " left)");
            }
        }

        void skip(long bytes) {
            need(bytes, "a field");
            position += (int) bytes;
        }

        int u8() {
            need(1, "a 1-byte field");
            return data[position++] & 0xFF;
        }

        int u16() {
            need(2, "a 2-byte field");
            int value = (data[position] & 0xFF) | (data[position + 1] & 0xFF) << 8;
            position += 2;
            return value;
        }

        long u32() {
            need(4, "a 4-byte field");
            long value = ByteBuffer.wrap(data, position, 4).order(ByteOrder.LITTLE_ENDIAN).getInt() & 0xFFFFFFFFL;
            position += 4;
            return value;
        }

        long u64() {
            need(8, "an 8-byte field");
            long value = ByteBuffer.wrap(data, position, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();
            position += 8;
            return value;
        }

        String string() {
            int length = u16();
            if (length == 0) {
                throw new PackedFormatException("an empty name");
            }
            need(length, "a name");
            try {
                String value = StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                        .onUnmappableCharacter(CodingErrorAction.REPORT).decode(ByteBuffer.wrap(data, position, length)).toString();
                position += length;
                return value;
            } catch (CharacterCodingException e) {
                throw new PackedFormatException("a name is not valid UTF-8");
            }
        }

        /** A sub-reader over the next {@code bytes} bytes, which this reader skips. */
        BitReader bits(long bytes) {
            need(bytes, "a bit stream");
            BitReader reader = new BitReader(data, position, position + (int) bytes);
            position += (int) bytes;
            return reader;
        }

        byte[] bytes(int count) {
            need(count, "a table");
            byte[] copy = new byte[count];
            System.arraycopy(data, position, copy, 0, count);
            position += count;
            return copy;
        }
    }

    /** One TENSOR section: header, value stream, gap stream, turned into an ONNX initializer message. */
    private static final class TensorSection {
        private final Reader reader;
        private final Budget budget;

        TensorSection(Reader reader, Budget budget) {
            this.reader = reader;
            this.budget = budget;
        }

        byte[] decode(Set<String> names) {
            String name = reader.string();
            int target = reader.u8();
            if (target != PackedFormat.TARGET_INITIALIZER && target != PackedFormat.TARGET_SPARSE_INITIALIZER) {
                throw new PackedFormatException("tensor '" + name + "' has unknown target " + target);
            }
            if (!names.add(name)) {
                throw new PackedFormatException("tensor '" + name + "' is defined twice");
            }
            int dataType = reader.u8();
            int bits = PackedFormat.elementBits(dataType);
            if (bits == 0) {
                throw new PackedFormatException("tensor '" + name + "' has data type " + dataType + ", which the format does not code");
            }
            int rank = reader.u8();
            if (rank > PackedFormat.MAX_RANK) {
                throw new PackedFormatException("tensor '" + name + "' has rank " + rank + " (at most " + PackedFormat.MAX_RANK + ")");
            }
            long[] dims = new long[rank];
            long elements = 1;
            for (int i = 0; i < rank; i++) {
                dims[i] = reader.u64();
                if (dims[i] < 0 || dims[i] > PackedFormat.MAX_ELEMENTS) {
                    throw new PackedFormatException("tensor '" + name + "' has dimension " + Long.toUnsignedString(dims[i]));
                }
                elements = dims[i] == 0 ? 0 : elements;
                if (elements != 0 && elements > PackedFormat.MAX_ELEMENTS / dims[i]) {
                    throw new PackedFormatException("tensor '" + name + "' has more than " + PackedFormat.MAX_ELEMENTS + " elements");
                }
                elements *= dims[i];
            }
            String indicesName = null;
            int indicesForm = 0;
            if (target == PackedFormat.TARGET_SPARSE_INITIALIZER) {
                indicesName = reader.string();
                indicesForm = reader.u8();
                if (indicesForm != PackedFormat.SPARSE_INDICES_LINEAR && indicesForm != PackedFormat.SPARSE_INDICES_COORDINATES) {
                    throw new PackedFormatException("sparse tensor '" + name + "' has unknown indices form " + indicesForm);
                }
            }
            int layout = reader.u8();
            long background = 0;
            int gapWidth = 0;
            long stride = 0;
            if (layout == PackedFormat.LAYOUT_SPARSE || layout == PackedFormat.LAYOUT_MASKED) {
                background = reader.u32();
                if (bits < 32 && background >= 1L << bits) {
                    throw new PackedFormatException("tensor '" + name + "' has background " + background + " wider than " + bits + " bits");
                }
            }
            if (layout == PackedFormat.LAYOUT_SPARSE) {
                gapWidth = reader.u8();
                if (gapWidth < 1 || gapWidth > PackedFormat.MAX_GAP_WIDTH) {
                    throw new PackedFormatException("tensor '" + name + "' has gap width " + gapWidth);
                }
            } else if (layout == PackedFormat.LAYOUT_MASKED) {
                stride = reader.u32();
                if (elements == 0 || stride >= elements / MaskContext.rows(dims)) {
                    throw new PackedFormatException("tensor '" + name + "' has stride " + stride + " for rows of "
                            + (elements == 0 ? 0 : elements / MaskContext.rows(dims)) + " elements");
                }
            } else if (layout != PackedFormat.LAYOUT_DENSE) {
                throw new PackedFormatException("tensor '" + name + "' has unknown layout " + layout);
            }
            if (target == PackedFormat.TARGET_SPARSE_INITIALIZER && (layout == PackedFormat.LAYOUT_DENSE || background != 0)) {
                throw new PackedFormatException("sparse tensor '" + name + "' must use the sparse or masked layout with background 0");
            }
            long elementBytes = (elements * bits + 7) / 8;
            budget.check(elementBytes, "tensor '" + name + "'");
            int valueMode = reader.u8();
            int[] table = null;
            if (valueMode == PackedFormat.VALUES_TABLE) {
                if (bits < 8) {
                    throw new PackedFormatException("tensor '" + name + "' has a value table for " + bits + "-bit elements");
                }
                long entries = reader.u32();
                if (entries < 1 || entries > PackedFormat.MAX_TABLE_ENTRIES) {
                    throw new PackedFormatException("tensor '" + name + "' has a value table of " + entries + " entries");
                }
                int width = bits / 8;
                if (entries * width > reader.remaining()) {
                    throw new PackedFormatException("tensor '" + name + "' has a value table longer than its section");
                }
                table = new int[(int) entries];
                for (int i = 0; i < entries; i++) {
                    table[i] = width == 1 ? reader.u8() : width == 2 ? reader.u16() : (int) reader.u32();
                }
            } else if (valueMode != PackedFormat.VALUES_DIRECT) {
                throw new PackedFormatException("tensor '" + name + "' has unknown value mode " + valueMode);
            }
            long valueLimit = table != null ? table.length : 1L << bits;
            int[] values = stream(name + " values", valueLimit, layout == PackedFormat.LAYOUT_DENSE ? elements : -1);
            int entries = values.length;
            int[] gaps = null;
            int[] masked = null;
            if (layout == PackedFormat.LAYOUT_MASKED) {
                if (entries > elements) {
                    throw new PackedFormatException("tensor '" + name + "' has " + entries + " values for " + elements + " elements");
                }
                masked = mask(name, elements, MaskContext.rows(dims), (int) stride, entries);
            }
            if (layout == PackedFormat.LAYOUT_SPARSE) {
                if (entries > elements) {
                    throw new PackedFormatException("tensor '" + name + "' has " + entries + " entries for " + elements + " elements");
                }
                if (elements > ((long) entries + 1) << gapWidth) {
                    throw new PackedFormatException("tensor '" + name + "' declares " + elements + " elements, more than " + entries
                            + " entries with " + gapWidth + "-bit gaps reach");
                }
                gaps = stream(name + " gaps", 1L << gapWidth, entries);
            }
            if (reader.remaining() != 0) {
                throw new PackedFormatException("tensor '" + name + "' has " + reader.remaining() + " bytes after its streams");
            }
            // element bit patterns, dense
            int count = (int) elements;
            int[] dense = null;
            int[] positions = null;
            int stored = 0;
            if (layout == PackedFormat.LAYOUT_DENSE) {
                dense = new int[count];
                for (int i = 0; i < count; i++) {
                    dense[i] = table != null ? table[values[i]] : values[i];
                }
            } else {
                if (target == PackedFormat.TARGET_SPARSE_INITIALIZER) {
                    positions = new int[entries];
                } else {
                    dense = new int[count];
                    if (background != 0) {
                        java.util.Arrays.fill(dense, (int) background);
                    }
                }
            }
            if (masked != null) {
                for (int i = 0; i < entries; i++) {
                    int value = table != null ? table[values[i]] : values[i];
                    if (value == (int) background) {
                        throw new PackedFormatException("tensor '" + name + "': masked value " + i + " is the background");
                    }
                    if (dense != null) {
                        dense[masked[i]] = value;
                    } else {
                        positions[stored] = masked[i];
                        values[stored] = value;
                        stored++;
                    }
                }
            } else if (layout == PackedFormat.LAYOUT_SPARSE) {
                long position = -1;
                for (int i = 0; i < entries; i++) {
                    position += (gaps[i] & 0xFFFFFFFFL) + 1;
                    if (position >= elements) {
                        throw new PackedFormatException("tensor '" + name + "': entry " + i + " falls at " + position + ", past its "
                                + elements + " elements");
                    }
                    int value = table != null ? table[values[i]] : values[i];
                    if (dense != null) {
                        dense[(int) position] = value;
                    } else if (value != 0) {
                        positions[stored] = (int) position;
                        values[stored] = value;
                        stored++;
                    }
                }
                if (elements - 1 - position >= 1L << gapWidth) {
                    throw new PackedFormatException("tensor '" + name + "' leaves " + (elements - 1 - position)
                            + " trailing elements, more than a " + gapWidth + "-bit gap covers");
                }
            }
            TensorProto.Builder tensor = TensorProto.newBuilder().setDataType(dataType);
            GraphProto.Builder graph = GraphProto.newBuilder();
            if (dense != null) {
                tensor.setName(name);
                for (long dim : dims) {
                    tensor.addDims(dim);
                }
                tensor.setRawData(UnsafeByteOperations.unsafeWrap(raw(dense, count, bits)));
                graph.addInitializer(tensor);
            } else {
                tensor.setName(name).addDims(stored).setRawData(UnsafeByteOperations.unsafeWrap(raw(values, stored, bits)));
                TensorProto.Builder indices = TensorProto.newBuilder().setName(indicesName).setDataType(7).addDims(stored);
                ByteBuffer index;
                if (indicesForm == PackedFormat.SPARSE_INDICES_LINEAR) {
                    index = ByteBuffer.allocate(stored * 8).order(ByteOrder.LITTLE_ENDIAN);
                    for (int i = 0; i < stored; i++) {
                        index.putLong(positions[i]);
                    }
                } else {
                    indices.addDims(rank);
                    budget.check((long) stored * 8 * rank, "the indices of sparse tensor '" + name + "'");
                    index = ByteBuffer.allocate(stored * 8 * rank).order(ByteOrder.LITTLE_ENDIAN);
                    long[] coordinate = new long[rank];
                    for (int i = 0; i < stored; i++) {
                        long rest = positions[i];
                        for (int axis = rank - 1; axis >= 0; axis--) {
                            coordinate[axis] = rest % dims[axis];
                            rest /= dims[axis];
                        }
                        for (long c : coordinate) {
                            index.putLong(c);
                        }
                    }
                }
                indices.setRawData(UnsafeByteOperations.unsafeWrap(index.array()));
                SparseTensorProto.Builder sparse = SparseTensorProto.newBuilder().setValues(tensor).setIndices(indices);
                for (long dim : dims) {
                    sparse.addDims(dim);
                }
                graph.addSparseInitializer(sparse);
            }
            return ModelProto.newBuilder().setGraph(graph).build().toByteArray();
        }

        /**
         * Reads a MASKED tensor's mask (a u64 payload length and an adaptive payload of one bit per element, in
         * {@link MaskContext}'s contexts) and returns the positions of its set bits, which must be exactly
         * {@code entries}.
         */
        private int[] mask(String name, long elements, long rows, int stride, int entries) {
            RangeDecoder in = adaptivePayload("tensor '" + name + "' mask", elements);
            MaskContext context = new MaskContext((int) (elements / rows), stride);
            AdaptiveModel model = new AdaptiveModel(MaskContext.CONTEXTS);
            int[] positions = new int[entries];
            int set = 0;
            for (int p = 0; p < elements; p++) {
                int c = context.next();
                int bit = in.bit(model.probabilityOfZero(c));
                model.update(c, bit);
                context.record(bit);
                if (bit == 1) {
                    if (set == entries) {
                        throw new PackedFormatException("tensor '" + name + "' mask sets more than its " + entries + " values");
                    }
                    positions[set++] = p;
                }
            }
            if (set != entries) {
                throw new PackedFormatException("tensor '" + name + "' mask sets " + set + " elements for " + entries + " values");
            }
            in.finish("tensor '" + name + "' mask");
            return positions;
        }

        /** Reads one stream of symbols, each below {@code limit}; {@code expected} is its required count, or -1 for any. */
        private int[] stream(String what, long limit, long expected) {
            long count = reader.u64();
            if (count < 0 || (expected >= 0 && count != expected)) {
                throw new PackedFormatException(what + ": " + Long.toUnsignedString(count) + " symbols, expected " + expected);
            }
            int coding = reader.u8();
            if (coding == PackedFormat.CODING_FIXED) {
                int width = reader.u8();
                if (width < 1 || width > 32) {
                    throw new PackedFormatException(what + ": fixed width " + width + " outside [1, 32]");
                }
                long payload = reader.u64();
                if (count > PackedFormat.MAX_ELEMENTS || payload != (count * width + 7) / 8) {
                    throw new PackedFormatException(what + ": " + Long.toUnsignedString(payload) + " payload bytes for " + count
                            + " symbols of " + width + " bits");
                }
                BitReader bits = reader.bits(payload);
                int[] symbols = new int[(int) count];
                for (int i = 0; i < symbols.length; i++) {
                    long symbol = bits.read(width);
                    if (symbol >= limit) {
                        throw new PackedFormatException(what + ": symbol " + symbol + " is not below " + limit);
                    }
                    symbols[i] = (int) symbol;
                }
                bits.finish();
                return symbols;
            }
            if (coding == PackedFormat.CODING_ZSTD) {
                return zstdStream(what, limit, count);
            }
            if (coding == PackedFormat.CODING_ADAPTIVE) {
                return adaptiveStream(what, limit, count);
            }
            if (coding != PackedFormat.CODING_HUFFMAN && coding != PackedFormat.CODING_HUFFMAN_RUNS) {
                throw new PackedFormatException(what + ": unknown coding " + coding);
            }
            long alphabet = reader.u32();
            if (alphabet < 1 || alphabet > PackedFormat.MAX_HUFFMAN_ALPHABET || alphabet > limit) {
                throw new PackedFormatException(what + ": Huffman alphabet of " + alphabet + " symbols (at most "
                        + Math.min(limit, PackedFormat.MAX_HUFFMAN_ALPHABET) + ")");
            }
            int[] lengths = coding == PackedFormat.CODING_HUFFMAN ? packedLengths(what, (int) alphabet) : runLengths(what, (int) alphabet);
            int longest = 0;
            for (int length : lengths) {
                longest = Math.max(longest, length);
            }
            long payload = payloadLength(what);
            if (count > payload * 8) {
                throw new PackedFormatException(what + ": " + count + " symbols cannot fit in " + payload + " bytes");
            }
            int[] codes;
            try {
                codes = CanonicalHuffman.codes(lengths);
            } catch (IllegalArgumentException e) {
                throw new PackedFormatException(what + ": " + e.getMessage());
            }
            BitReader bits = reader.bits(payload);
            int[] symbols = new int[(int) count];
            if (count > 0) {
                if (longest == 0) {
                    throw new PackedFormatException(what + ": a Huffman code without symbols");
                }
                int[] lookup = new int[1 << longest];
                for (int symbol = 0; symbol < lengths.length; symbol++) {
                    int length = lengths[symbol];
                    if (length != 0) {
                        int shift = longest - length;
                        int first = codes[symbol] << shift;
                        java.util.Arrays.fill(lookup, first, first + (1 << shift), symbol << 4 | length);
                    }
                }
                for (int i = 0; i < symbols.length; i++) {
                    int entry = lookup[bits.peek(longest)];
                    if (entry == 0) {
                        throw new PackedFormatException(what + ": a bit sequence that is no code of its Huffman table");
                    }
                    bits.skip(entry & 0x0F);
                    symbols[i] = entry >>> 4;
                }
            }
            bits.finish();
            return symbols;
        }

        /** An ADAPTIVE stream: u8 width, u64 payload length, the range-coded symbols as binary trees of that width. */
        private int[] adaptiveStream(String what, long limit, long count) {
            int width = reader.u8();
            if (width < 1 || width > PackedFormat.MAX_ADAPTIVE_WIDTH) {
                throw new PackedFormatException(what + ": adaptive width " + width + " outside [1, " + PackedFormat.MAX_ADAPTIVE_WIDTH + "]");
            }
            if (count > PackedFormat.MAX_ELEMENTS) {
                throw new PackedFormatException(what + ": " + count + " symbols, more than a tensor may hold");
            }
            RangeDecoder in = adaptivePayload(what, count * width);
            AdaptiveModel model = new AdaptiveModel(1 << width);
            int[] symbols = new int[(int) count];
            for (int i = 0; i < symbols.length; i++) {
                int symbol = in.symbol(model, width);
                if (symbol >= limit) {
                    throw new PackedFormatException(what + ": symbol " + symbol + " is not below " + limit);
                }
                symbols[i] = symbol;
            }
            in.finish(what);
            return symbols;
        }

        /** A u64 payload length, checked against what is left of the section. */
        private long payloadLength(String what) {
            long payload = reader.u64();
            if (payload < 0 || payload > reader.remaining()) {
                throw new PackedFormatException(what + ": " + Long.toUnsignedString(payload) + " payload bytes, only "
                        + reader.remaining() + " left in the section");
            }
            return payload;
        }

        /**
         * An adaptive payload (u64 length, then the range-coded bytes) that is to hold {@code bits} binary decisions: refused
         * when they cannot fit at the coder's best ratio, so a forged count never allocates more than the file can carry.
         */
        private RangeDecoder adaptivePayload(String what, long bits) {
            long payload = payloadLength(what);
            if (bits > payload * PackedFormat.MAX_ADAPTIVE_RATIO) {
                throw new PackedFormatException(what + ": " + bits + " bits cannot be coded in " + payload + " bytes");
            }
            int start = reader.position();
            reader.skip(payload);
            return new RangeDecoder(reader.data(), start, start + (int) payload, what);
        }

        /** Code lengths as 4-bit nibbles, symbol 2j in the high nibble of byte j (coding HUFFMAN). */
        private int[] packedLengths(String what, int alphabet) {
            byte[] packed = reader.bytes((alphabet + 1) / 2);
            int[] lengths = new int[alphabet];
            for (int i = 0; i < alphabet; i++) {
                lengths[i] = (i % 2 == 0 ? packed[i / 2] >>> 4 : packed[i / 2]) & 0x0F;
            }
            if (alphabet % 2 == 1 && (packed[packed.length - 1] & 0x0F) != 0) {
                throw new PackedFormatException(what + ": the unused last code-length nibble is not zero");
            }
            return lengths;
        }

        /** Code lengths as runs, each byte a length (high nibble) repeated 1 to 16 times (low nibble + 1) (coding HUFFMAN_RUNS). */
        private int[] runLengths(String what, int alphabet) {
            long runs = reader.u32();
            if (runs < 1 || runs > alphabet || runs > reader.remaining()) {
                throw new PackedFormatException(what + ": " + runs + " code-length runs for " + alphabet + " symbols");
            }
            byte[] packed = reader.bytes((int) runs);
            int[] lengths = new int[alphabet];
            int at = 0;
            for (byte run : packed) {
                int repeat = (run & 0x0F) + 1;
                if (repeat > alphabet - at) {
                    throw new PackedFormatException(what + ": the code-length runs cover more than the " + alphabet + " symbols");
                }
                java.util.Arrays.fill(lengths, at, at + repeat, (run >>> 4) & 0x0F);
                at += repeat;
            }
            if (at != alphabet) {
                throw new PackedFormatException(what + ": the code-length runs cover " + at + " of the " + alphabet + " symbols");
            }
            return lengths;
        }

        /** A ZSTD stream after its count and coding: symbol width, payload length, one zstd frame of count x width bytes. */
        private int[] zstdStream(String what, long limit, long count) {
            int width = reader.u8();
            if (width != 1 && width != 2 && width != 4) {
                throw new PackedFormatException(what + ": zstd symbol width " + width + " bytes (1, 2 or 4)");
            }
            long payload = payloadLength(what);
            long bytes = count * width;
            if (count > PackedFormat.MAX_ELEMENTS || bytes > PackedFormat.MAX_ELEMENTS || bytes > payload * PackedFormat.MAX_ZSTD_RATIO) {
                throw new PackedFormatException(what + ": " + count + " symbols of " + width + " bytes cannot come from a "
                        + payload + "-byte zstd frame");
            }
            budget.check(bytes + count * 4, what);
            int start = reader.position();
            reader.skip(payload);
            byte[] raw = ZstdFrame.decompress(reader.data(), start, (int) payload, bytes, what);
            int[] symbols = new int[(int) count];
            for (int i = 0, at = 0; i < symbols.length; i++, at += width) {
                long symbol = switch (width) {
                    case 1 -> raw[at] & 0xFF;
                    case 2 -> (raw[at] & 0xFF) | (raw[at + 1] & 0xFF) << 8;
                    default -> ((raw[at] & 0xFF) | (raw[at + 1] & 0xFF) << 8 | (raw[at + 2] & 0xFF) << 16 | (raw[at + 3] & 0xFF) << 24)
                            & 0xFFFFFFFFL;
                };
                if (symbol >= limit) {
                    throw new PackedFormatException(what + ": symbol " + symbol + " is not below " + limit);
                }
                symbols[i] = (int) symbol;
            }
            return symbols;
        }

        private static byte[] raw(int[] patterns, int count, int bits) {
            byte[] raw = new byte[(int) (((long) count * bits + 7) / 8)];
            switch (bits) {
                case 4 -> {
                    for (int i = 0; i < count; i++) {
                        raw[i >> 1] |= (byte) ((patterns[i] & 0x0F) << ((i & 1) * 4));
                    }
                }
                case 8 -> {
                    for (int i = 0; i < count; i++) {
                        raw[i] = (byte) patterns[i];
                    }
                }
                case 16 -> {
                    for (int i = 0; i < count; i++) {
                        raw[2 * i] = (byte) patterns[i];
                        raw[2 * i + 1] = (byte) (patterns[i] >>> 8);
                    }
                }
                default -> {
                    for (int i = 0; i < count; i++) {
                        int p = patterns[i];
                        raw[4 * i] = (byte) p;
                        raw[4 * i + 1] = (byte) (p >>> 8);
                        raw[4 * i + 2] = (byte) (p >>> 16);
                        raw[4 * i + 3] = (byte) (p >>> 24);
                    }
                }
            }
            return raw;
        }
    }
}
