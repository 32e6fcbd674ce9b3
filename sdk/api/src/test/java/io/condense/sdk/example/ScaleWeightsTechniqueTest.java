package io.condense.sdk.example;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.condense.sdk.SharedFiles;
import io.condense.sdk.context.StepContext;
import io.condense.sdk.data.Dataset;
import io.condense.sdk.error.CondenseException;
import io.condense.sdk.eval.Evaluator;
import io.condense.sdk.model.OnnxModel;
import io.condense.sdk.technique.InvalidParametersException;
import io.condense.sdk.technique.Parameters;
import io.condense.sdk.technique.TechniqueResult;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;

/** Runs the README's example technique, so the example stays correct. */
class ScaleWeightsTechniqueTest {

    @Test
    void scalesEveryWeightAndReportsEachLayer() {
        OnnxModel model = OnnxModel.load(SharedFiles.require("models/pytorch_cnn_mnist.onnx"));
        ScaleWeightsTechnique technique = new ScaleWeightsTechnique();
        Parameters parameters = Parameters.validate(technique.descriptor().parameters(), Map.of("factor", "2"));
        FakeContext context = new FakeContext(parameters);
        TechniqueResult result = technique.apply(model, parameters, context);
        assertThat(result.report().layers()).hasSize(4);
        assertThat(result.report().get("layers_scaled")).isEqualTo(4);
        assertThat(context.progress).hasSize(4).endsWith(1.0);
        String weight = model.weightLayers().get(0).weightName();
        float before = model.tensor(weight).getFloat(0);
        assertThat(result.model().tensor(weight).getFloat(0)).isEqualTo(before * 2f);
        assertThat(model.tensor(weight).getFloat(0)).isEqualTo(before); // the input is untouched
    }

    @Test
    void refusesOutOfRangeFactorsAndModelsWithoutWeights() {
        ScaleWeightsTechnique technique = new ScaleWeightsTechnique();
        assertThatThrownBy(() -> Parameters.validate(technique.descriptor().parameters(), Map.of("factor", "50")))
                .isInstanceOf(InvalidParametersException.class).hasMessageContaining("factor");
        OnnxModel classifier = OnnxModel.load(SharedFiles.require("models/skl_lr_mnist.onnx"));
        Parameters parameters = Parameters.validate(technique.descriptor().parameters(), Map.of());
        assertThatThrownBy(() -> technique.apply(classifier, parameters, new FakeContext(parameters)))
                .isInstanceOf(CondenseException.class).hasMessageContaining("no Conv, Gemm or MatMul");
    }

    /** A hand-written step context: parameters, a simple registry and recorded progress. */
    private static final class FakeContext implements StepContext {
        private final Parameters parameters;
        private final MeterRegistry registry = new SimpleMeterRegistry();
        final List<Double> progress = new ArrayList<>();

        FakeContext(Parameters parameters) {
            this.parameters = parameters;
        }

        @Override
        public String techniqueId() {
            return "scale";
        }

        @Override
        public Parameters parameters() {
            return parameters;
        }

        @Override
        public MeterRegistry meterRegistry() {
            return registry;
        }

        @Override
        public void progress(double fraction, String message) {
            progress.add(fraction);
        }

        @Override
        public boolean isCancelled() {
            return false;
        }

        @Override
        public Optional<Evaluator> evaluator() {
            return Optional.empty();
        }

        @Override
        public Optional<Dataset> calibrationData() {
            return Optional.empty();
        }

        @Override
        public Optional<Dataset> evaluationData() {
            return Optional.empty();
        }

        @Override
        public Path scratchDirectory() {
            return Path.of(System.getProperty("java.io.tmpdir"));
        }
    }
}
