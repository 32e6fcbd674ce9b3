package io.condense.sdk.technique;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class ReportTest {

    @Test
    void keepsOrderAndWritesJson() {
        Report report = Report.builder()
                .put("sparsity", 0.5)
                .put("layers_pruned", 2)
                .put("note", "a \"quoted\"\nline")
                .addLayer(Map.of("name", "conv1"))
                .addLayer(Map.of("name", "fc"))
                .put("ratio", Double.POSITIVE_INFINITY)
                .build();

        assertThat(report.values().keySet()).containsExactly("sparsity", "layers_pruned", "note", "ratio", "layers");
        assertThat(report.layers()).extracting(layer -> layer.get("name")).containsExactly("conv1", "fc");
        assertThat(report.toJson()).isEqualTo("{\"sparsity\":0.5,\"layers_pruned\":2,\"note\":\"a \\\"quoted\\\"\\nline\","
                + "\"ratio\":null,\"layers\":[{\"name\":\"conv1\"},{\"name\":\"fc\"}]}");
    }

    @Test
    void valuesAreFrozenCopies() {
        java.util.ArrayList<Object> list = new java.util.ArrayList<>(List.of(1, 2));
        Report report = Report.builder().put("values", list).build();
        list.add(3);

        assertThat(report.get("values")).asInstanceOf(org.assertj.core.api.InstanceOfAssertFactories.LIST).containsExactly(1, 2);
        assertThatThrownBy(() -> report.values().put("x", 1)).isInstanceOf(UnsupportedOperationException.class);
    }

    @Test
    void refusesValuesJsonCannotHold() {
        assertThatThrownBy(() -> Report.builder().put("model", new Object()))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("not a report value");
    }
}
