package io.condense.plugin.training;

import io.condense.sdk.context.StepContext;
import io.condense.sdk.data.Dataset;
import io.condense.sdk.data.NdArray;
import io.condense.sdk.error.CondenseException;
import io.condense.sdk.error.ErrorCode;
import io.condense.sdk.model.ModelEditor;
import io.condense.sdk.model.OnnxModel;
import io.condense.sdk.quantization.IncrementalPowerOfTwo;
import io.condense.sdk.technique.Report;
import io.condense.sdk.technique.TechniqueResult;
import io.condense.sdk.tensor.DataType;
import io.condense.sdk.tensor.Tensor;
import io.condense.sdk.training.Trainer;
import io.condense.sdk.training.TrainingListener;
import io.condense.sdk.training.TrainingParameters;
import io.condense.sdk.training.TrainingRequest;
import io.condense.sdk.training.TrainingResult;
import io.condense.sdk.training.TrainingSteps;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;

/**
 * {@code finetune} of a model that {@code quantize(scheme=pow2, incremental=...)} left part-way through INQ's schedule
 * (Zhou et al. 2017, {@link IncrementalPowerOfTwo} in its metadata): for each remaining stage, the weights already on the
 * power-of-two grid are frozen (gradient masks) while the rest retrain, then the largest of the rest are rounded until the
 * stage's share is on the grid. After the last stage (share 1) every weight of those layers is zero or a signed power of
 * two, checked on the written model; the metadata is dropped. {@code epochs} are spread over the retraining phases (at
 * least one each), each with its own learning-rate schedule from {@code lr}.
 */
final class IncrementalFinetune {
    private IncrementalFinetune() {
    }

    static TechniqueResult apply(OnnxModel input, IncrementalPowerOfTwo schedule, TrainingParameters.Settings settings, boolean keepZeros,
            Dataset data, Trainer trainer, StepContext context) {
        OnnxModel current = IncrementalPowerOfTwo.removeFrom(input);
        for (String name : schedule.bottoms().keySet()) {
            if (!current.isInitializer(name) || current.tensor(name).dataType() != DataType.FLOAT) {
                throw new CondenseException(ErrorCode.UNSUPPORTED_MODEL, "finetune cannot run INQ's schedule: layer weight '" + name
                        + "' that quantize(scheme=pow2, incremental=...) rounded is no longer a float initializer; run finetune "
                        + "straight after that quantize");
            }
        }
        Map<String, boolean[]> frozen = new LinkedHashMap<>();
        Map<String, Long> onGridBefore = new LinkedHashMap<>();
        for (Map.Entry<String, Integer> layer : schedule.bottoms().entrySet()) {
            float[] weights = current.tensor(layer.getKey()).toFloatArray();
            boolean[] mask = new boolean[weights.length];
            long count = 0;
            for (int i = 0; i < weights.length; i++) {
                mask[i] = IncrementalPowerOfTwo.onGrid(weights[i], layer.getValue(), schedule.bits());
                count += mask[i] ? 1 : 0;
            }
            frozen.put(layer.getKey(), mask);
            onGridBefore.put(layer.getKey(), count);
        }
        TrainingParameters.Split split = settings.split(data, FinetuneTechnique.ID);
        List<Double> shares = schedule.shares();
        int phases = shares.size() - schedule.done();
        List<Map<String, Object>> stages = new ArrayList<>();
        for (int phase = 0; phase < phases; phase++) {
            context.checkCancelled();
            double share = shares.get(schedule.done() + phase);
            int epochs = Math.max(1, settings.epochs() * (phase + 1) / phases - settings.epochs() * phase / phases);
            TrainingRequest.Builder request = TrainingRequest.builder(current, split.training()).inputScale(settings.inputScale())
                    .optimizer(settings.optimizer()).schedule(TrainingParameters.schedule(settings.scheduleName(), settings.rate(), epochs))
                    .epochs(epochs).batchSize(settings.batch()).seed(settings.seed() + phase).freezeZeros(keepZeros)
                    .listener(TrainingListener.reportingTo(context)).cancelled(context::isCancelled);
            split.validation().ifPresent(request::validationData);
            for (Map.Entry<String, boolean[]> mask : frozen.entrySet()) {
                request.gradientMask(mask.getKey(), gradientMask(current.tensor(mask.getKey()).shape(), mask.getValue()));
            }
            TrainingResult result = TrainingSteps.train(trainer, request.build(), "INQ retraining phase " + (phase + 1) + " of " + phases);
            ModelEditor editor = result.model().edit();
            long rounded = 0;
            for (Map.Entry<String, Integer> layer : schedule.bottoms().entrySet()) {
                Tensor tensor = result.model().tensor(layer.getKey());
                float[] weights = tensor.toFloatArray();
                rounded += IncrementalPowerOfTwo.freeze(weights, frozen.get(layer.getKey()), share, layer.getValue(), schedule.bits());
                editor.putInitializer(Tensor.fromFloats(layer.getKey(), DataType.FLOAT, tensor.shape(), weights).toProto());
            }
            current = editor.build();
            Map<String, Object> stage = new LinkedHashMap<>();
            stage.put("share_after", share);
            stage.put("epochs", epochs);
            stage.put("rounded", rounded);
            stage.put("history", TrainingSteps.history(result));
            stages.add(stage);
        }
        Report.Builder report = Report.builder().put("inq", true).put("bits", schedule.bits()).put("shares", shares)
                .put("stages_before", schedule.done()).put("retraining_phases", phases).put("epochs", settings.epochs())
                .put("lr", settings.rate()).put("schedule", settings.scheduleName()).put("stages", stages);
        boolean allOnGrid = true;
        for (Map.Entry<String, Integer> layer : schedule.bottoms().entrySet()) {
            float[] weights = current.tensor(layer.getKey()).toFloatArray();
            long onGrid = 0;
            TreeSet<Float> magnitudes = new TreeSet<>();
            for (float weight : weights) {
                if (IncrementalPowerOfTwo.onGrid(weight, layer.getValue(), schedule.bits())) {
                    onGrid++;
                    magnitudes.add(Math.abs(weight));
                }
            }
            allOnGrid &= onGrid == weights.length;
            Map<String, Object> entry = new LinkedHashMap<>();
            entry.put("name", layer.getKey());
            entry.put("form", "inq");
            entry.put("elements", (long) weights.length);
            entry.put("bottom_exponent", layer.getValue());
            entry.put("on_grid_before", onGridBefore.get(layer.getKey()));
            entry.put("on_grid_after", onGrid);
            entry.put("magnitudes_used", (long) magnitudes.size());
            report.addLayer(entry);
        }
        boolean finished = shares.get(shares.size() - 1) == 1.0;
        if (finished && !allOnGrid) {
            throw new CondenseException(ErrorCode.INTERNAL_ERROR, "finetune ran INQ's schedule to 100% but a weight is off the "
                    + "power-of-two grid; report this with the model");
        }
        report.put("every_weight_power_of_two", allOnGrid);
        return new TechniqueResult(current, report.build());
    }

    private static NdArray gradientMask(long[] shape, boolean[] frozen) {
        float[] mask = new float[frozen.length];
        for (int i = 0; i < frozen.length; i++) {
            mask[i] = frozen[i] ? 0f : 1f;
        }
        return NdArray.ofFloats(shape, mask);
    }
}
