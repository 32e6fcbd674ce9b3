package io.condense.server.search;

import static org.assertj.core.api.Assertions.assertThat;

import io.condense.proto.v1.PipelineStep;
import io.condense.server.cli.PipelineParser;
import java.util.List;
import org.junit.jupiter.api.Test;

class SearchSpaceTest {
    private static final SearchSpec SIZE = SearchSpec.of(SearchSpec.parse("max_drop=0.005, objective=size"));

    @Test
    void theTrainedSizeFamilyPrunesWhileTrainingThenSharesWeightsRetrainsAndEncodes() {
        Family trained = SearchSpace.families(SIZE, true, true).stream()
                .filter(family -> family.name().equals("gradual+kmeans4+finetune+encode")).findFirst().orElseThrow();
        List<PipelineStep> steps = PipelineParser.parse(trained.at(0.89).pipeline());
        assertThat(steps).extracting(PipelineStep::getTechnique).containsExactly("finetune", "quantize", "finetune", "quantize", "encode");
        assertThat(steps.get(0).getParametersMap()).containsEntry("sparsity", "0.890").containsEntry("validation", "0");
        assertThat(steps.get(1).getParametersMap()).containsEntry("scheme", "kmeans").containsEntry("bits", "4");
        // what stays float32 (biases, codebooks) is stored as float16 before the packed coding
        assertThat(steps.get(3).getParametersMap()).containsEntry("dtype", "fp16").containsEntry("scope", "initializers");
        // both retrainings learn from the labels alone: distillation from the submitted model (distill_alpha=0.7) measured
        // worse on LeNet-5 at S=0.89 (server/service README, "Distillation in the trained family")
        assertThat(steps.get(0).getParametersMap()).doesNotContainKey("distill_alpha");
        assertThat(steps.get(2).getParametersMap()).doesNotContainKey("distill_alpha").doesNotContainKey("sparsity");
    }

    @Test
    void int4FamiliesArePackedWhenTheObjectiveIsSizeAndEncodeIsAllowed() {
        for (String name : List.of("int4", "lowrank+int4")) {
            Family family = SearchSpace.families(SIZE, true, false).stream().filter(f -> f.name().equals(name)).findFirst().orElseThrow();
            List<PipelineStep> steps = PipelineParser.parse(family.at(0.5).pipeline());
            assertThat(steps.get(steps.size() - 3).getParametersMap()).as(name).containsEntry("method", "gptq");
            assertThat(steps.get(steps.size() - 2).getParametersMap()).as(name).containsEntry("dtype", "fp16")
                    .containsEntry("scope", "initializers");
            assertThat(steps.get(steps.size() - 1).getTechnique()).as(name).isEqualTo("encode");
            assertThat(family.techniques()).contains("encode");
        }
        // without encode, or for MACs, they end as plain ONNX int4
        SearchSpec quantizeOnly = SearchSpec.of(SearchSpec.parse("max_drop=0.005, objective=size, techniques=quantize+lowrank"));
        SearchSpec macs = SearchSpec.of(SearchSpec.parse("max_drop=0.005, objective=macs"));
        for (SearchSpec spec : List.of(quantizeOnly, macs)) {
            Family int4 = SearchSpace.families(spec, false, false).stream().filter(f -> f.name().equals("int4")).findFirst().orElseThrow();
            assertThat(int4.at(0).pipeline()).isEqualTo("quantize(bits=4, granularity=block)");
        }
    }

    @Test
    void withoutTrainingDataNoCandidateTrains() {
        assertThat(SearchSpace.families(SIZE, true, false)).allSatisfy(family -> assertThat(family.techniques()).doesNotContain("finetune"));
        assertThat(SearchSpace.families(SIZE, true, true)).anySatisfy(family -> assertThat(family.techniques()).contains("finetune"));
    }
}
