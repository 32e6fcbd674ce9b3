package io.condense.sdk.quantization;

import static java.util.Objects.requireNonNull;

import ai.onnx.proto.OnnxMl.ModelProto;
import ai.onnx.proto.OnnxMl.StringStringEntryProto;
import io.condense.sdk.model.OnnxModel;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * Incremental network quantization (INQ, Zhou et al. 2017) between two steps: {@code quantize(scheme=pow2,
 * incremental=...)} rounds the first share of each layer's weights (the largest magnitudes) to zero or a signed power of
 * two and leaves the rest float; {@code finetune} retrains the rest, rounds the next share, and so on until every weight
 * is on the grid. The model carries what the next step needs in its metadata ({@value #METADATA_KEY}): the bits, the
 * shares, how many are done, and per layer weight the lowest exponent of its window ({@link PowerOfTwo}), fixed from the
 * float weights as the paper fixes n1 and n2 once.
 *
 * @param bits bits per weight (sign, zero and {@code 2^(bits-1) - 1} exponents)
 * @param shares cumulative shares of each layer's weights on the grid after each stage, increasing, the last 1
 * @param done stages already applied (1 after quantize)
 * @param bottoms per layer weight (initializer name), the lowest exponent of its window
 */
public record IncrementalPowerOfTwo(int bits, List<Double> shares, int done, Map<String, Integer> bottoms) {
    public static final String METADATA_KEY = "condense.inq";
    /** The paper's schedule: 50%, 75%, 87.5%, 100%. */
    public static final List<Double> PAPER_SHARES = List.of(0.5, 0.75, 0.875, 1.0);

    public IncrementalPowerOfTwo {
        requireNonNull(shares, "shares is null");
        requireNonNull(bottoms, "bottoms is null");
        shares = List.copyOf(shares);
        bottoms = Collections.unmodifiableMap(new LinkedHashMap<>(bottoms));
        Optional<String> problem = scheduleProblem(shares);
        if (problem.isPresent()) {
            throw new IllegalArgumentException(problem.get());
        }
        if (done < 0 || done > shares.size()) {
            throw new IllegalArgumentException("done stages " + done + " outside [0, " + shares.size() + "]");
        }
    }

    /**
     * The shares of a schedule written as numbers separated by commas ("0.5,0.75,0.875,1"): an empty list for blank text,
     * empty when a part is not a number (check the list with {@link #scheduleProblem}).
     */
    public static Optional<List<Double>> parseShares(String text) {
        requireNonNull(text, "text is null");
        if (text.isBlank()) {
            return Optional.of(List.of());
        }
        List<Double> shares = new ArrayList<>();
        try {
            for (String part : text.trim().split(",")) {
                shares.add(Double.parseDouble(part.trim()));
            }
        } catch (NumberFormatException e) {
            return Optional.empty();
        }
        return Optional.of(List.copyOf(shares));
    }

    /** What is wrong with a schedule (shares increasing in (0, 1], the last 1), or empty. */
    public static Optional<String> scheduleProblem(List<Double> shares) {
        if (shares.isEmpty()) {
            return Optional.of("an INQ schedule needs at least one share");
        }
        double previous = 0;
        for (double share : shares) {
            if (!(share > previous && share <= 1)) {
                return Optional.of("INQ shares must increase within (0, 1], got " + shares);
            }
            previous = share;
        }
        if (shares.get(shares.size() - 1) != 1.0) {
            return Optional.of("the last INQ share must be 1 (every weight on the grid), got " + shares);
        }
        return Optional.empty();
    }

    /** The state a model carries, if any. */
    public static Optional<IncrementalPowerOfTwo> of(OnnxModel model) {
        for (StringStringEntryProto entry : model.proto().getMetadataPropsList()) {
            if (entry.getKey().equals(METADATA_KEY)) {
                return Optional.of(parse(entry.getValue()));
            }
        }
        return Optional.empty();
    }

    private static IncrementalPowerOfTwo parse(String text) {
        int bits = 0;
        List<Double> shares = new ArrayList<>();
        int done = 0;
        Map<String, Integer> bottoms = new LinkedHashMap<>();
        for (String line : text.split("\n")) {
            if (line.startsWith("bits=")) {
                bits = Integer.parseInt(line.substring(5));
            } else if (line.startsWith("shares=")) {
                Arrays.stream(line.substring(7).split(",")).map(Double::parseDouble).forEach(shares::add);
            } else if (line.startsWith("done=")) {
                done = Integer.parseInt(line.substring(5));
            } else if (line.startsWith("layer ")) {
                String[] parts = line.split(" ", 3);
                bottoms.put(parts[2], Integer.parseInt(parts[1]));
            } else if (!line.isBlank()) {
                throw new IllegalArgumentException("unreadable INQ metadata line '" + line + "'");
            }
        }
        return new IncrementalPowerOfTwo(bits, shares, done, bottoms);
    }

    /** The model with this state in its metadata (replacing any). */
    public OnnxModel writeTo(OnnxModel model) {
        StringBuilder text = new StringBuilder().append("bits=").append(bits).append('\n').append("shares=");
        for (int i = 0; i < shares.size(); i++) {
            text.append(i == 0 ? "" : ",").append(shares.get(i));
        }
        text.append('\n').append("done=").append(done).append('\n');
        bottoms.forEach((name, bottom) -> text.append("layer ").append(bottom).append(' ').append(name).append('\n'));
        ModelProto.Builder proto = removeFrom(model).proto().toBuilder();
        proto.addMetadataProps(StringStringEntryProto.newBuilder().setKey(METADATA_KEY).setValue(text.toString()));
        return OnnxModel.of(proto.build());
    }

    /** The model without INQ metadata. */
    public static OnnxModel removeFrom(OnnxModel model) {
        ModelProto proto = model.proto();
        if (proto.getMetadataPropsList().stream().noneMatch(entry -> entry.getKey().equals(METADATA_KEY))) {
            return model;
        }
        ModelProto.Builder builder = proto.toBuilder().clearMetadataProps();
        for (StringStringEntryProto entry : proto.getMetadataPropsList()) {
            if (!entry.getKey().equals(METADATA_KEY)) {
                builder.addMetadataProps(entry);
            }
        }
        return OnnxModel.of(builder.build());
    }

    /** The same state with {@code stages} done. */
    public IncrementalPowerOfTwo withDone(int stages) {
        return new IncrementalPowerOfTwo(bits, shares, stages, bottoms);
    }

    /** Whether {@code value} is 0 or a signed power of two of the window starting at {@code bottom}. */
    public static boolean onGrid(float value, int bottom, int bits) {
        return PowerOfTwo.value(value, bottom, bits) == value;
    }

    /**
     * Rounds more of {@code weights} onto the grid, in place: of the weights not yet {@code frozen}, the largest
     * magnitudes, until {@code ceil(share x n)} are frozen (the paper's pruning-inspired partition); each newly frozen
     * weight becomes its nearest power of two or zero. Returns how many were frozen now.
     */
    public static int freeze(float[] weights, boolean[] frozen, double share, int bottom, int bits) {
        int target = (int) Math.min(weights.length, Math.ceil(share * weights.length - 1e-9));
        int already = 0;
        List<Integer> open = new ArrayList<>();
        for (int i = 0; i < weights.length; i++) {
            if (frozen[i]) {
                already++;
            } else {
                open.add(i);
            }
        }
        int needed = Math.max(0, target - already);
        // largest magnitude first, index order among equals
        open.sort((a, b) -> {
            int byMagnitude = Float.compare(Math.abs(weights[b]), Math.abs(weights[a]));
            return byMagnitude != 0 ? byMagnitude : Integer.compare(a, b);
        });
        for (int k = 0; k < needed; k++) {
            int i = open.get(k);
            weights[i] = (float) PowerOfTwo.value(weights[i], bottom, bits);
            frozen[i] = true;
        }
        return needed;
    }

    /** The window's lowest exponent for a layer whose largest magnitude is {@code maxMagnitude} (0 for an all-zero layer). */
    public static int bottom(float[] weights, int bits) {
        float maximum = 0;
        for (float weight : weights) {
            maximum = Math.max(maximum, Math.abs(weight));
        }
        return maximum > 0 ? PowerOfTwo.bottomExponent(maximum, bits) : 0;
    }
}
