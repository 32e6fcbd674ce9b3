package io.condense.sdk.training;

import static java.util.Objects.requireNonNull;

import io.condense.sdk.data.Dataset;
import io.condense.sdk.error.CondenseException;
import io.condense.sdk.error.ErrorCode;
import io.condense.sdk.model.OnnxModel;
import io.condense.sdk.technique.InvalidParametersException;
import io.condense.sdk.technique.ParameterProblem;
import io.condense.sdk.technique.ParameterSpec;
import io.condense.sdk.technique.Parameters;
import io.condense.sdk.technique.Range;
import java.util.List;
import java.util.Optional;

/**
 * The training parameters every technique that trains in the host's runtime takes ({@code finetune}, {@code distill}),
 * declared once so their names, ranges and meanings stay the same across techniques, as
 * {@link io.condense.sdk.quantization.CalibrationParameters} does for calibration; and the {@link Settings} they give.
 */
public final class TrainingParameters {
    public static final String EPOCHS = "epochs";
    public static final String LR = "lr";
    public static final String BATCH = "batch";
    public static final String OPTIMIZER = "optimizer";
    public static final String MOMENTUM = "momentum";
    public static final String WEIGHT_DECAY = "weight_decay";
    public static final String SCHEDULE = "schedule";
    public static final String SEED = "seed";
    public static final String VALIDATION = "validation";
    public static final String INPUT_SCALE = "input_scale";
    public static final double DEFAULT_SGD_RATE = 0.01;
    public static final double DEFAULT_ADAM_RATE = 0.001;
    /**
     * The schedule a technique that trains should default to: cosine annealing from lr to 0 (SGDR, Loshchilov and Hutter,
     * 2017), which ends at a small rate instead of stopping at the initial one (plugins/training README, "Defaults").
     */
    public static final String DEFAULT_SCHEDULE = "cosine";

    private TrainingParameters() {
    }

    /**
     * The specs, in the order epochs, lr, batch, optimizer, momentum, weight_decay, schedule, seed, validation, input_scale.
     *
     * @param defaultEpochs the default of {@code epochs}
     * @param defaultSchedule the default of {@code schedule}: constant, step or cosine
     * @param seedDocumentation what {@code seed} seeds, for its description
     */
    public static List<ParameterSpec> specs(int defaultEpochs, String defaultSchedule, String seedDocumentation) {
        requireNonNull(defaultSchedule, "defaultSchedule is null");
        requireNonNull(seedDocumentation, "seedDocumentation is null");
        return List.of(
                ParameterSpec.integerParameter(EPOCHS, defaultEpochs, Range.closed(1, 1000), "Passes over the training data."),
                ParameterSpec.doubleParameter(LR, DEFAULT_SGD_RATE, Range.closed(1e-8, 10),
                        "Initial learning rate; when not given, 0.01 for sgd and 0.001 for adam."),
                ParameterSpec.integerParameter(BATCH, 64, Range.closed(1, 65_536), "Samples per training step."),
                ParameterSpec.choiceParameter(OPTIMIZER, "sgd", List.of("sgd", "adam"),
                        "sgd: SGD with 'momentum'; adam: Adam (beta1 0.9, beta2 0.999)."),
                ParameterSpec.doubleParameter(MOMENTUM, 0.9, Range.closedOpen(0, 1),
                        "Momentum of optimizer=sgd; given with adam, it is refused."),
                ParameterSpec.doubleParameter(WEIGHT_DECAY, 0, Range.closed(0, 1), "L2 weight decay added to the gradient; when not "
                        + "given, 0 with adam."),
                ParameterSpec.choiceParameter(SCHEDULE, defaultSchedule, List.of("constant", "step", "cosine"),
                        "constant: lr throughout; step: lr x 0.1 after every third of the epochs (at least one epoch each); "
                                + "cosine: cosine annealing per batch from lr to 0."),
                ParameterSpec.integerParameter(SEED, 42, Range.atLeast(0), seedDocumentation),
                ParameterSpec.doubleParameter(VALIDATION, 0.1, Range.closed(0, 0.5),
                        "Share of the training data (its last samples) held out to measure accuracy before, after and every epoch; "
                                + "0: none (then accuracy is measured only on evaluation data). When not given and the job has "
                                + "labelled evaluation data, nothing is held out: every training sample trains."),
                ParameterSpec.doubleParameter(INPUT_SCALE, 1, Range.greaterThan(0),
                        "Every input value is multiplied by this while training and measuring (1/255 = 0.00392156862745098 for "
                                + "uint8 pixels a model expects in [0, 1])."));
    }

    /**
     * The settings the parameters give.
     *
     * @throws InvalidParametersException when momentum is given with optimizer=adam
     */
    public static Settings settings(Parameters parameters) {
        return settings(parameters, parameters.getString(OPTIMIZER));
    }

    /**
     * The settings the parameters give, with {@code defaultOptimizer} (sgd or adam) when neither {@code optimizer} nor
     * {@code momentum} is given: for a technique that knows its model trains better with another optimizer than the
     * parameters' default. The learning rate, when not given, is that optimizer's default.
     *
     * @throws InvalidParametersException when momentum is given with optimizer=adam
     */
    public static Settings settings(Parameters parameters, String defaultOptimizer) {
        requireNonNull(parameters, "parameters is null");
        requireNonNull(defaultOptimizer, "defaultOptimizer is null");
        List<ParameterProblem> problems = problems(parameters);
        if (!problems.isEmpty()) {
            throw new InvalidParametersException(problems);
        }
        String optimizerName = parameters.isExplicit(OPTIMIZER) || parameters.isExplicit(MOMENTUM) ? parameters.getString(OPTIMIZER)
                : defaultOptimizer;
        if (!optimizerName.equals("adam") && !optimizerName.equals("sgd")) {
            throw new IllegalArgumentException("defaultOptimizer must be sgd or adam, got " + defaultOptimizer);
        }
        boolean adam = optimizerName.equals("adam");
        int epochs = parameters.getInt(EPOCHS);
        double rate = parameters.isExplicit(LR) ? parameters.getDouble(LR) : adam ? DEFAULT_ADAM_RATE : DEFAULT_SGD_RATE;
        // a technique's default weight decay is SGD's: Adam adds L2 to the gradient it then normalises, which is not the
        // decoupled decay the SGD default stands for, so Adam's default stays 0
        double weightDecay = parameters.isExplicit(WEIGHT_DECAY) || !adam ? parameters.getDouble(WEIGHT_DECAY) : 0;
        Optimizer optimizer = adam ? new Optimizer.Adam(0.9, 0.999, 1e-8, weightDecay)
                : Optimizer.sgd(parameters.getDouble(MOMENTUM), weightDecay);
        String scheduleName = parameters.getString(SCHEDULE);
        return new Settings(epochs, parameters.getInt(BATCH), optimizerName, optimizer, rate, scheduleName,
                schedule(scheduleName, rate, epochs), parameters.getLong(SEED), parameters.getDouble(VALIDATION),
                (float) parameters.getDouble(INPUT_SCALE));
    }

    /** The rules across the training parameters that these break (momentum with optimizer=adam): for a technique's validate. */
    public static List<ParameterProblem> problems(Parameters parameters) {
        requireNonNull(parameters, "parameters is null");
        if (parameters.getString(OPTIMIZER).equals("adam") && parameters.isExplicit(MOMENTUM)) {
            return List.of(new ParameterProblem(MOMENTUM, parameters.getString(MOMENTUM),
                    "applies to optimizer=sgd only, and optimizer is adam"));
        }
        return List.of();
    }

    /** The schedule called {@code name} (constant, step or cosine) starting at {@code rate}, for a run of {@code epochs}. */
    public static LearningRateSchedule schedule(String name, double rate, int epochs) {
        return switch (name) {
            case "constant" -> LearningRateSchedule.constant(rate);
            case "step" -> new LearningRateSchedule.Step(rate, Math.max(1, (epochs + 2) / 3), 0.1);
            case "cosine" -> new LearningRateSchedule.Cosine(rate, 0);
            default -> throw new IllegalStateException("schedule '" + name + "' passed validation but is not handled");
        };
    }

    /**
     * What the training parameters say.
     *
     * @param validationShare share of the training data held out for validation, in [0, 0.5]
     */
    public record Settings(int epochs, int batch, String optimizerName, Optimizer optimizer, double rate, String scheduleName,
            LearningRateSchedule schedule, long seed, double validationShare, float inputScale) {
        public Settings {
            requireNonNull(optimizerName, "optimizerName is null");
            requireNonNull(optimizer, "optimizer is null");
            requireNonNull(scheduleName, "scheduleName is null");
            requireNonNull(schedule, "schedule is null");
        }

        /** These settings with another initial learning rate (the schedule restarted from it). */
        public Settings withRate(double newRate) {
            return new Settings(epochs, batch, optimizerName, optimizer, newRate, scheduleName,
                    TrainingParameters.schedule(scheduleName, newRate, epochs),
                    seed, validationShare, inputScale);
        }

        /** These settings for another number of epochs (the schedule spread over them). */
        public Settings withEpochs(int newEpochs) {
            return new Settings(newEpochs, batch, optimizerName, optimizer, rate, scheduleName,
                    TrainingParameters.schedule(scheduleName, rate, newEpochs), seed, validationShare, inputScale);
        }

        /** These settings with another L2 weight decay, the optimizer otherwise the same. */
        public Settings withWeightDecay(double weightDecay) {
            Optimizer changed = optimizer instanceof Optimizer.Adam adam
                    ? new Optimizer.Adam(adam.beta1(), adam.beta2(), adam.epsilon(), weightDecay)
                    : Optimizer.sgd(((Optimizer.Sgd) optimizer).momentum(), weightDecay);
            return new Settings(epochs, batch, optimizerName, changed, rate, scheduleName, schedule, seed, validationShare, inputScale);
        }

        /** These settings with another seed (shuffling, new weights). */
        public Settings withSeed(long newSeed) {
            return new Settings(epochs, batch, optimizerName, optimizer, rate, scheduleName, schedule, newSeed, validationShare, inputScale);
        }

        /** These settings holding out {@code share} of the training data for validation instead. */
        public Settings withValidationShare(double share) {
            return new Settings(epochs, batch, optimizerName, optimizer, rate, scheduleName, schedule, seed, share, inputScale);
        }

        /** A request for {@code model} on {@code training} with these settings (input scale, optimizer, schedule, epochs, batch, seed). */
        public TrainingRequest.Builder request(OnnxModel model, Dataset training) {
            return TrainingRequest.builder(model, training).inputScale(inputScale).optimizer(optimizer).schedule(schedule)
                    .epochs(epochs).batchSize(batch).seed(seed);
        }

        /**
         * The job's training data split into the samples trained on and the last {@code validationShare} held out (at
         * least one sample when the share is above 0).
         *
         * @param techniqueId for the message when nothing is left to train on
         * @throws CondenseException INVALID_DATA when nothing is left to train on
         */
        public Split split(Dataset data, String techniqueId) {
            requireNonNull(data, "data is null");
            int heldOut = validationShare > 0 ? Math.max(1, (int) Math.floor(data.size() * validationShare)) : 0;
            int trainCount = data.size() - heldOut;
            if (trainCount < 1) {
                throw new CondenseException(ErrorCode.INVALID_DATA, techniqueId + " has " + data.size() + " training samples and "
                        + "holds out " + heldOut + " for validation, leaving none to train on: supply more samples or lower 'validation'");
            }
            Optional<Dataset> validation = heldOut > 0 ? Optional.of(new Dataset(data.inputs().slice(trainCount, heldOut),
                    data.labels().map(labels -> labels.slice(trainCount, heldOut)))) : Optional.empty();
            return new Split(data.head(trainCount), validation);
        }
    }

    /** Training data and the held-out validation samples, if any. */
    public record Split(Dataset training, Optional<Dataset> validation) {
        public Split {
            requireNonNull(training, "training is null");
            validation = validation == null ? Optional.empty() : validation;
        }
    }
}
