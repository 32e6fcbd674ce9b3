package io.condense.sdk.technique;

import static java.util.Objects.requireNonNull;

import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A technique's report: an ordered tree of JSON-like values (text, numbers, booleans, lists and maps of
 * those). By convention per-layer detail goes in a list of maps under {@code "layers"} and totals at the
 * top level. The host turns it into JSON and into protobuf; techniques never see either.
 */
public final class Report {
    private final Map<String, Object> values;

    private Report(Map<String, Object> values) {
        this.values = values;
    }

    public static Builder builder() {
        return new Builder();
    }

    public static Report empty() {
        return new Report(Map.of());
    }

    /** Read-only view of the values, in insertion order. */
    public Map<String, Object> values() {
        return values;
    }

    public Object get(String key) {
        return values.get(key);
    }

    @SuppressWarnings("unchecked")
    public List<Map<String, Object>> layers() {
        Object layers = values.get("layers");
        return layers instanceof List<?> list ? (List<Map<String, Object>>) list : List.of();
    }

    /** Compact JSON, keys in insertion order; non-finite numbers become {@code null}. */
    public String toJson() {
        StringBuilder out = new StringBuilder();
        writeJson(values, out);
        return out.toString();
    }

    @Override
    public String toString() {
        return toJson();
    }

    static void writeJson(Object value, StringBuilder out) {
        if (value == null) {
            out.append("null");
        } else if (value instanceof String text) {
            out.append('"');
            for (int i = 0; i < text.length(); i++) {
                char c = text.charAt(i);
                switch (c) {
                    case '"' -> out.append("\\\"");
                    case '\\' -> out.append("\\\\");
                    case '\n' -> out.append("\\n");
                    case '\r' -> out.append("\\r");
                    case '\t' -> out.append("\\t");
                    default -> {
                        if (c < 0x20) {
                            out.append(String.format("\\u%04x", (int) c));
                        } else {
                            out.append(c);
                        }
                    }
                }
            }
            out.append('"');
        } else if (value instanceof Double || value instanceof Float) {
            double d = ((Number) value).doubleValue();
            out.append(Double.isFinite(d) ? Double.toString(d) : "null");
        } else if (value instanceof Number || value instanceof Boolean) {
            out.append(value);
        } else if (value instanceof Map<?, ?> map) {
            out.append('{');
            boolean first = true;
            for (Map.Entry<?, ?> entry : map.entrySet()) {
                if (!first) {
                    out.append(',');
                }
                first = false;
                writeJson(String.valueOf(entry.getKey()), out);
                out.append(':');
                writeJson(entry.getValue(), out);
            }
            out.append('}');
        } else if (value instanceof List<?> list) {
            out.append('[');
            for (int i = 0; i < list.size(); i++) {
                if (i > 0) {
                    out.append(',');
                }
                writeJson(list.get(i), out);
            }
            out.append(']');
        } else {
            throw new IllegalArgumentException("not a report value: " + value.getClass().getName());
        }
    }

    static Object freeze(Object value) {
        if (value == null || value instanceof String || value instanceof Boolean
                || value instanceof Integer || value instanceof Long || value instanceof Double || value instanceof Float) {
            return value;
        }
        if (value instanceof Number number) {
            return number.doubleValue();
        }
        if (value instanceof Map<?, ?> map) {
            Map<String, Object> copy = new LinkedHashMap<>();
            for (Map.Entry<?, ?> entry : map.entrySet()) {
                copy.put(String.valueOf(requireNonNull(entry.getKey(), "report key is null")), freeze(entry.getValue()));
            }
            return Collections.unmodifiableMap(copy);
        }
        if (value instanceof List<?> list) {
            List<Object> copy = new ArrayList<>(list.size());
            for (Object item : list) {
                copy.add(freeze(item));
            }
            return Collections.unmodifiableList(copy);
        }
        throw new IllegalArgumentException("not a report value (text, number, boolean, list or map): " + value.getClass().getName());
    }

    /** Collects values in order; {@link #build()} freezes them. */
    public static final class Builder {
        private final Map<String, Object> values = new LinkedHashMap<>();
        private final List<Object> layers = new ArrayList<>();

        private Builder() {
        }

        public Builder put(String key, Object value) {
            requireNonNull(key, "key is null");
            values.put(key, freeze(value));
            return this;
        }

        /** Appends one layer's detail to the {@code "layers"} list. */
        public Builder addLayer(Map<String, ?> layer) {
            layers.add(freeze(layer));
            return this;
        }

        public Report build() {
            Map<String, Object> copy = new LinkedHashMap<>(values);
            if (!layers.isEmpty()) {
                copy.put("layers", Collections.unmodifiableList(new ArrayList<>(layers)));
            }
            return new Report(Collections.unmodifiableMap(copy));
        }
    }
}
