package io.condense.server.report;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.Struct;
import io.condense.sdk.technique.Report;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class StructsTest {

    @Test
    void reportsRoundTripThroughStruct() {
        Report report = Report.builder()
                .put("count", 42L)
                .put("ratio", 2.5)
                .put("name", "prune")
                .put("ok", true)
                .put("nothing", null)
                .put("nan", Double.NaN)
                .addLayer(Map.of("name", "conv1", "sparsity", 0.5))
                .build();
        Struct struct = Structs.toStruct(report);
        Map<String, Object> back = Structs.toMap(struct);
        assertThat(back).containsEntry("count", 42L).containsEntry("ratio", 2.5).containsEntry("name", "prune").containsEntry("ok", true)
                .containsEntry("nothing", null).containsEntry("nan", null);
        assertThat(back.get("layers")).isEqualTo(List.of(Map.of("name", "conv1", "sparsity", 0.5)));
        assertThat(Structs.toJson(struct)).startsWith("{\"count\":42,\"ratio\":2.5,\"name\":\"prune\",\"ok\":true,\"nothing\":null,\"nan\":null,");
    }
}
