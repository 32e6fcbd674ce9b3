package io.condense.plugin.coding;

import static java.util.Objects.requireNonNull;

import io.condense.sdk.coding.MaskContext;
import io.condense.sdk.coding.PackedFormat;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Codes one tensor into a TENSOR section ({@code docs/FORMAT.md}), choosing by measuring: dense, or sparse around
 * its most frequent element (zero for pruned weights, the zero point for levels, the zero centroid's index for
 * k-means indices) with relative gap indices of the width (1 to 16 bits) that makes gaps plus values smallest,
 * filler entries where a gap overflows (Deep Compression's scheme); values direct (the element bits) or through a
 * table of the distinct values (float patterns: shared weights stored once); each stream fixed-width at its real
 * width or canonical Huffman, whichever is smaller. All sizes are computed from histograms before anything is written.
 */
final class TensorCoder {
    /** What to code: one initializer's element bit patterns, dense, in row-major order. */
    record Input(String name, int target, int dataType, long[] dims, int[] patterns, String indicesName, int indicesForm) {
        Input {
            requireNonNull(name, "name is null");
            requireNonNull(dims, "dims is null");
            requireNonNull(patterns, "patterns is null");
        }
    }

    /** The written section and its sizes, for the report. */
    record Coded(byte[] section, Map<String, Object> report, long valueBytes, long gapBytes, long tableBytes, long huffmanGainBytes) {
    }

    private TensorCoder() {
    }

    static Coded code(Input input, Entropy entropy) {
        int bits = PackedFormat.elementBits(input.dataType());
        int[] patterns = input.patterns();
        int count = patterns.length;
        // distinct patterns and their counts
        int[] sorted = patterns.clone();
        Arrays.sort(sorted);
        int distinct = 0;
        for (int i = 0; i < count; i++) {
            if (i == 0 || sorted[i] != sorted[i - 1]) {
                distinct++;
            }
        }
        int[] values = new int[distinct];
        long[] valueCounts = new long[distinct];
        for (int i = 0, d = -1; i < count; i++) {
            if (i == 0 || sorted[i] != sorted[i - 1]) {
                values[++d] = sorted[i];
            }
            valueCounts[d]++;
        }
        sorted = null;
        int background = 0;
        if (input.target() == PackedFormat.TARGET_INITIALIZER) {
            long best = -1;
            for (int d = 0; d < distinct; d++) {
                if (valueCounts[d] > best) {
                    best = valueCounts[d];
                    background = values[d];
                }
            }
        }
        // value symbols: direct (bits <= 16) or a table ordered by descending count (bits >= 16, at most 2^16 entries)
        boolean tableAllowed = bits >= 16 && distinct + 1 <= PackedFormat.MAX_TABLE_ENTRIES;
        boolean directAllowed = bits <= 16;
        int[] order = tableOrder(values, valueCounts, background);
        // gaps between non-background elements, and the trailing run
        int entries = 0;
        for (int p : patterns) {
            if (p != background) {
                entries++;
            }
        }
        int[] gaps = new int[entries];
        int last = -1;
        for (int i = 0, e = 0; i < count; i++) {
            if (patterns[i] != background) {
                gaps[e++] = i - last - 1;
                last = i;
            }
        }
        int trailing = count - 1 - last;

        Plan best = null;
        for (int mode : new int[] {PackedFormat.VALUES_DIRECT, PackedFormat.VALUES_TABLE}) {
            if (mode == PackedFormat.VALUES_DIRECT && !directAllowed && bits != 32) {
                continue;
            }
            if (mode == PackedFormat.VALUES_TABLE && !tableAllowed) {
                continue;
            }
            long tableBytes = mode == PackedFormat.VALUES_TABLE ? 4 + (long) order.length * (bits / 8) : 0;
            if (input.target() == PackedFormat.TARGET_INITIALIZER) {
                long[] histogram = valueHistogram(mode, bits, values, valueCounts, order, -1, 0);
                StreamCode valueCode = valueCode(mode, bits, histogram, count, entropy);
                best = better(best, new Plan(PackedFormat.LAYOUT_DENSE, 0, mode, valueCode, null,
                        1 + tableBytes + valueCode.bytes(), tableBytes));
            }
            for (int width = 1; width <= PackedFormat.MAX_GAP_WIDTH; width++) {
                int max = (1 << width) - 1;
                long[] gapHistogram = new long[1 << width];
                long fillers = trailing >>> width;
                for (int gap : gaps) {
                    fillers += gap >>> width;
                    gapHistogram[gap & max]++;
                }
                gapHistogram[max] += fillers;
                long[] histogram = valueHistogram(mode, bits, values, valueCounts, order, background, fillers);
                StreamCode valueCode = valueCode(mode, bits, histogram, entries + fillers, entropy);
                StreamCode gapCode = StreamCode.choose(gapHistogram, entropy);
                best = better(best, new Plan(PackedFormat.LAYOUT_SPARSE, width, mode, valueCode, gapCode,
                        6 + tableBytes + valueCode.bytes() + gapCode.bytes(), tableBytes));
                if (fillers == 0) {
                    break; // no gap overflows: wider gaps give the same histograms, so the same sizes
                }
            }
        }
        if (entropy == Entropy.ARITHMETIC && count > 0) {
            best = adaptivePlan(input, best, bits, background, values, order, directAllowed, tableAllowed, entries);
        }
        return write(input, bits, best, background, order, values, gaps, trailing);
    }

    /**
     * The best of {@code best} and the plans with adaptive coding: DENSE with an ADAPTIVE value stream, and MASKED (the
     * mask range-coded in context, with the stride that measures smallest; the values of its set elements Huffman,
     * fixed or ADAPTIVE, whichever is smallest). Their sizes are known only by coding, so they are coded here.
     */
    private static Plan adaptivePlan(Input input, Plan huffman, int bits, int background, int[] values, int[] order,
            boolean directAllowed, boolean tableAllowed, int entries) {
        Plan best = huffman;
        int[] patterns = input.patterns();
        long rows = MaskContext.rows(input.dims());
        int columns = (int) (patterns.length / rows);
        int stride = AdaptiveCoding.stride(patterns, background, columns);
        byte[] mask = AdaptiveCoding.mask(patterns, background, columns, stride);
        for (int mode : new int[] {PackedFormat.VALUES_DIRECT, PackedFormat.VALUES_TABLE}) {
            // direct 32-bit values (floats with too many distinct values for a table) stay fixed-width
            boolean raw = mode == PackedFormat.VALUES_DIRECT && bits == 32;
            if (mode == PackedFormat.VALUES_DIRECT ? !directAllowed && !raw : !tableAllowed) {
                continue;
            }
            int[] index = mode == PackedFormat.VALUES_TABLE ? tableIndex(values, order) : null;
            long tableBytes = mode == PackedFormat.VALUES_TABLE ? 4 + (long) order.length * (bits / 8) : 0;
            // a range-coded dense stream only where at least a quarter is not background: below that the mask wins,
            // and coding every element of a large sparse tensor bit by bit costs more time than anything else here
            if (input.target() == PackedFormat.TARGET_INITIALIZER && !raw && entries >= patterns.length / 4) {
                int[] all = new int[patterns.length];
                for (int i = 0; i < all.length; i++) {
                    all[i] = symbol(patterns[i], values, index);
                }
                StreamCode code = StreamCode.adaptive(all, all.length, StreamCode.widthOf(max(all, all.length) + 1L));
                if (code != null) {
                    best = better(best, new Plan(PackedFormat.LAYOUT_DENSE, 0, mode, code, null, 1 + tableBytes + code.bytes(), tableBytes));
                }
            }
            int[] kept = new int[entries];
            for (int i = 0, e = 0; i < patterns.length; i++) {
                if (patterns[i] != background) {
                    kept[e++] = symbol(patterns[i], values, index);
                }
            }
            StreamCode code = raw ? StreamCode.fixed(entries, 32, Entropy.HUFFMAN) : StreamCode.choose(histogram(kept, entries), Entropy.HUFFMAN);
            if (entries > 0 && !raw) {
                code = StreamCode.smaller(code, StreamCode.adaptive(kept, entries, StreamCode.widthOf(max(kept, entries) + 1L)));
            }
            best = better(best, new Plan(PackedFormat.LAYOUT_MASKED, 0, mode, code, null,
                    4 + 4 + 1 + 8 + mask.length + tableBytes + code.bytes(), tableBytes, stride, mask));
        }
        // range decoding runs about 6x slower than Huffman decoding (CodingBenchmark): worth it only for a real saving
        return best.bytes <= huffman.bytes - huffman.bytes / MIN_ADAPTIVE_SAVING ? best : huffman;
    }

    /** An adaptive layout is kept only when it saves at least 1/50 (2%) of the Huffman plan's bytes. */
    private static final long MIN_ADAPTIVE_SAVING = 50;

    private static int max(int[] symbols, int count) {
        int max = 0;
        for (int i = 0; i < count; i++) {
            max = Math.max(max, symbols[i]);
        }
        return max;
    }

    private record Plan(int layout, int gapWidth, int valueMode, StreamCode valueCode, StreamCode gapCode, long bytes, long tableBytes,
            int stride, byte[] mask) {
        Plan(int layout, int gapWidth, int valueMode, StreamCode valueCode, StreamCode gapCode, long bytes, long tableBytes) {
            this(layout, gapWidth, valueMode, valueCode, gapCode, bytes, tableBytes, 0, null);
        }
    }

    private static Plan better(Plan best, Plan candidate) {
        return best == null || candidate.bytes < best.bytes ? candidate : best;
    }

    private static StreamCode valueCode(int mode, int bits, long[] histogram, long symbols, Entropy entropy) {
        if (mode == PackedFormat.VALUES_DIRECT && bits == 32) {
            return StreamCode.fixed(symbols, 32, entropy);
        }
        return StreamCode.choose(histogram, entropy);
    }

    /** Table entries: the background first (the filler value), then the rest by descending count, ties by pattern. */
    private static int[] tableOrder(int[] values, long[] counts, int background) {
        Integer[] indices = new Integer[values.length];
        for (int i = 0; i < values.length; i++) {
            indices[i] = i;
        }
        Arrays.sort(indices, (a, b) -> {
            boolean aBackground = values[a] == background;
            boolean bBackground = values[b] == background;
            if (aBackground != bBackground) {
                return aBackground ? -1 : 1;
            }
            int byCount = Long.compare(counts[b], counts[a]);
            return byCount != 0 ? byCount : Integer.compareUnsigned(values[a], values[b]);
        });
        boolean hasBackground = values.length > 0 && values[indices[0]] == background;
        int[] order = new int[values.length + (hasBackground ? 0 : 1)];
        int at = 0;
        if (!hasBackground) {
            order[at++] = background;
        }
        for (Integer index : indices) {
            order[at++] = values[index];
        }
        return order;
    }

    /**
     * Symbol counts of the value stream: every element ({@code skip=-1}, dense) or the non-background ones plus
     * {@code fillers} background fillers (sparse). Direct symbols are the patterns; table symbols their table index.
     */
    private static long[] valueHistogram(int mode, int bits, int[] values, long[] counts, int[] order, long skip, long fillers) {
        if (mode == PackedFormat.VALUES_DIRECT) {
            if (bits == 32) {
                return new long[0];
            }
            long[] histogram = new long[1 << bits];
            for (int d = 0; d < values.length; d++) {
                if (values[d] != skip) {
                    histogram[values[d]] += counts[d];
                }
            }
            if (skip >= 0) {
                histogram[(int) skip] += fillers;
            }
            return histogram;
        }
        long[] histogram = new long[order.length];
        int[] index = tableIndex(values, order);
        for (int d = 0; d < values.length; d++) {
            if (skip < 0 || values[d] != (int) skip) {
                histogram[index[d]] += counts[d];
            }
        }
        if (skip >= 0) {
            histogram[0] += fillers;
        }
        return histogram;
    }

    /** For each distinct value (sorted ascending), its index in the table {@code order}. */
    private static int[] tableIndex(int[] values, int[] order) {
        int[] index = new int[values.length];
        for (int i = 0; i < order.length; i++) {
            int d = Arrays.binarySearch(values, order[i]);
            if (d >= 0) {
                index[d] = i;
            }
        }
        return index;
    }

    /** The value symbol of a pattern: itself (direct) or its table index. */
    private static int symbol(int pattern, int[] values, int[] index) {
        return index == null ? pattern : index[Arrays.binarySearch(values, pattern)];
    }

    private static Coded write(Input input, int bits, Plan plan, int background, int[] order, int[] values, int[] gaps, int trailing) {
        int[] patterns = input.patterns();
        ByteSink out = new ByteSink();
        out.string(input.name()).u8(input.target()).u8(input.dataType()).u8(input.dims().length);
        for (long dim : input.dims()) {
            out.u64(dim);
        }
        if (input.target() == PackedFormat.TARGET_SPARSE_INITIALIZER) {
            out.string(input.indicesName()).u8(input.indicesForm());
        }
        out.u8(plan.layout);
        if (plan.layout == PackedFormat.LAYOUT_SPARSE) {
            out.u32(background & 0xFFFFFFFFL).u8(plan.gapWidth);
        } else if (plan.layout == PackedFormat.LAYOUT_MASKED) {
            out.u32(background & 0xFFFFFFFFL).u32(plan.stride);
        }
        out.u8(plan.valueMode);
        int[] index = null;
        if (plan.valueMode == PackedFormat.VALUES_TABLE) {
            out.u32(order.length);
            for (int value : order) {
                if (bits == 16) {
                    out.u16(value);
                } else {
                    out.u32(value & 0xFFFFFFFFL);
                }
            }
            index = tableIndex(values, order);
        }
        int headerBytes = out.size() - (int) plan.tableBytes;
        int[] valueSymbols;
        int[] gapSymbols = null;
        int symbols;
        long fillers = 0;
        if (plan.layout == PackedFormat.LAYOUT_DENSE) {
            symbols = patterns.length;
            valueSymbols = new int[symbols];
            for (int i = 0; i < symbols; i++) {
                valueSymbols[i] = symbol(patterns[i], values, index);
            }
        } else if (plan.layout == PackedFormat.LAYOUT_MASKED) {
            symbols = gaps.length;
            valueSymbols = new int[symbols];
            for (int i = 0, e = 0; i < patterns.length; i++) {
                if (patterns[i] != background) {
                    valueSymbols[e++] = symbol(patterns[i], values, index);
                }
            }
        } else {
            int width = plan.gapWidth;
            int max = (1 << width) - 1;
            fillers = trailing >>> width;
            for (int gap : gaps) {
                fillers += gap >>> width;
            }
            symbols = Math.toIntExact(gaps.length + fillers);
            valueSymbols = new int[symbols];
            gapSymbols = new int[symbols];
            int fillerSymbol = index == null ? background : 0;
            int at = 0;
            int position = -1;
            for (int gap : gaps) {
                for (int f = gap >>> width; f > 0; f--) {
                    gapSymbols[at] = max;
                    valueSymbols[at++] = fillerSymbol;
                }
                position += gap + 1;
                gapSymbols[at] = gap & max;
                int pattern = patterns[position];
                valueSymbols[at++] = symbol(pattern, values, index);
            }
            for (int f = trailing >>> width; f > 0; f--) {
                gapSymbols[at] = max;
                valueSymbols[at++] = fillerSymbol;
            }
        }
        int beforeValues = out.size();
        String valueCoding = plan.valueCode.write(out, valueSymbols, symbols);
        long valueBytes = out.size() - beforeValues;
        long gapBytes = 0;
        String gapCoding = null;
        if (gapSymbols != null) {
            int beforeGaps = out.size();
            gapCoding = plan.gapCode.write(out, gapSymbols, symbols);
            gapBytes = out.size() - beforeGaps;
        }
        if (plan.mask != null) {
            out.u64(plan.mask.length).bytes(plan.mask);
            gapBytes = 8 + plan.mask.length;
        }
        // a mask's baseline: its entries' gaps at the fixed width of the largest, without fillers
        long fixedBytes = fixedCost(plan, valueSymbols, plan.mask != null ? gaps : gapSymbols, symbols, bits);
        long gain = fixedBytes - (valueBytes + gapBytes);
        Map<String, Object> report = new LinkedHashMap<>();
        report.put("name", input.name());
        report.put("elements", (long) patterns.length);
        report.put("layout", plan.layout == PackedFormat.LAYOUT_DENSE ? "dense" : plan.layout == PackedFormat.LAYOUT_MASKED ? "masked" : "sparse");
        if (plan.layout == PackedFormat.LAYOUT_MASKED) {
            report.put("entries", (long) gaps.length);
            report.put("stride", plan.stride);
            report.put("gap_coding", "adaptive mask");
        }
        if (plan.layout == PackedFormat.LAYOUT_SPARSE) {
            report.put("entries", (long) gaps.length);
            report.put("fillers", fillers);
            report.put("gap_bits", plan.gapWidth);
            report.put("gap_coding", gapCoding);
        }
        report.put("values", plan.valueMode == PackedFormat.VALUES_TABLE ? "table of " + order.length : "direct");
        report.put("value_coding", valueCoding);
        report.put("value_bytes", valueBytes);
        report.put("gap_bytes", gapBytes);
        report.put("table_bytes", plan.tableBytes);
        report.put("header_bytes", (long) headerBytes);
        report.put("huffman_gain_bytes", gain);
        report.put("section_bytes", (long) out.size());
        return new Coded(out.toByteArray(), report, valueBytes, gapBytes, plan.tableBytes, gain);
    }

    /** The same streams coded at fixed width: the baseline of the report's Huffman gain. */
    private static long fixedCost(Plan plan, int[] valueSymbols, int[] gapSymbols, int symbols, int bits) {
        long cost;
        if (plan.valueMode == PackedFormat.VALUES_DIRECT && bits == 32) {
            cost = plan.valueCode.bytes();
        } else {
            cost = StreamCode.choose(histogram(valueSymbols, symbols), Entropy.NONE).bytes();
        }
        if (gapSymbols != null) {
            cost += StreamCode.choose(histogram(gapSymbols, symbols), Entropy.NONE).bytes();
        }
        return cost;
    }

    private static long[] histogram(int[] symbols, int count) {
        int max = 0;
        for (int i = 0; i < count; i++) {
            max = Math.max(max, symbols[i]);
        }
        long[] histogram = new long[max + 1];
        for (int i = 0; i < count; i++) {
            histogram[symbols[i]]++;
        }
        return histogram;
    }
}
