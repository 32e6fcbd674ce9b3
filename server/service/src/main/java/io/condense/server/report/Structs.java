package io.condense.server.report;

import com.google.protobuf.ListValue;
import com.google.protobuf.NullValue;
import com.google.protobuf.Struct;
import com.google.protobuf.Value;
import io.condense.sdk.technique.Report;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Converts between the SDK's report values (ordered maps, lists, text, numbers, booleans) and
 * {@code google.protobuf.Struct}, at the server's edge. Struct numbers are doubles: whole numbers that a
 * double holds exactly come back as longs. Non-finite numbers become null, as in the SDK's JSON.
 */
public final class Structs {
    private static final double LARGEST_EXACT_LONG = 9_007_199_254_740_992d;

    private Structs() {
    }

    public static Struct toStruct(Report report) {
        return toStruct(report.values());
    }

    public static Struct toStruct(Map<String, ?> values) {
        Struct.Builder struct = Struct.newBuilder();
        for (Map.Entry<String, ?> entry : values.entrySet()) {
            struct.putFields(entry.getKey(), toValue(entry.getValue()));
        }
        return struct.build();
    }

    public static Value toValue(Object value) {
        if (value == null) {
            return Value.newBuilder().setNullValue(NullValue.NULL_VALUE).build();
        }
        if (value instanceof String text) {
            return Value.newBuilder().setStringValue(text).build();
        }
        if (value instanceof Boolean bool) {
            return Value.newBuilder().setBoolValue(bool).build();
        }
        if (value instanceof Number number) {
            double d = number.doubleValue();
            return Double.isFinite(d) ? Value.newBuilder().setNumberValue(d).build() : Value.newBuilder().setNullValue(NullValue.NULL_VALUE).build();
        }
        if (value instanceof Map<?, ?> map) {
            Struct.Builder struct = Struct.newBuilder();
            for (Map.Entry<?, ?> entry : map.entrySet()) {
                struct.putFields(String.valueOf(entry.getKey()), toValue(entry.getValue()));
            }
            return Value.newBuilder().setStructValue(struct).build();
        }
        if (value instanceof List<?> list) {
            ListValue.Builder items = ListValue.newBuilder();
            for (Object item : list) {
                items.addValues(toValue(item));
            }
            return Value.newBuilder().setListValue(items).build();
        }
        throw new IllegalArgumentException("not a report value: " + value.getClass().getName());
    }

    /** The Struct as ordered Java values (maps keep the Struct's field order). */
    public static Map<String, Object> toMap(Struct struct) {
        Map<String, Object> map = new LinkedHashMap<>();
        for (Map.Entry<String, Value> entry : struct.getFieldsMap().entrySet()) {
            map.put(entry.getKey(), fromValue(entry.getValue()));
        }
        return map;
    }

    public static Object fromValue(Value value) {
        return switch (value.getKindCase()) {
            case NULL_VALUE, KIND_NOT_SET -> null;
            case STRING_VALUE -> value.getStringValue();
            case BOOL_VALUE -> value.getBoolValue();
            case NUMBER_VALUE -> {
                double d = value.getNumberValue();
                yield d == Math.rint(d) && Math.abs(d) <= LARGEST_EXACT_LONG ? (Object) (long) d : (Object) d;
            }
            case STRUCT_VALUE -> toMap(value.getStructValue());
            case LIST_VALUE -> {
                List<Object> items = new ArrayList<>();
                for (Value item : value.getListValue().getValuesList()) {
                    items.add(fromValue(item));
                }
                yield items;
            }
        };
    }

    /** Compact JSON of a Struct, through the SDK's report writer. */
    public static String toJson(Struct struct) {
        Report.Builder builder = Report.builder();
        toMap(struct).forEach(builder::put);
        return builder.build().toJson();
    }
}
