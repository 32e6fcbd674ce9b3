package io.condense.server.cli;

import io.condense.proto.v1.JobEvent;
import io.condense.proto.v1.StepResult;
import java.io.PrintStream;
import me.tongfei.progressbar.ProgressBar;
import me.tongfei.progressbar.ProgressBarBuilder;
import me.tongfei.progressbar.ProgressBarStyle;

/** Shows a job's events: a progress bar on a terminal, plain lines otherwise (logs, pipes, CI). */
abstract class JobDisplay implements AutoCloseable {

    static JobDisplay create(int stepCount, PrintStream out) {
        return System.console() != null ? new Bar(stepCount) : new Lines(stepCount, out);
    }

    abstract void show(JobEvent event);

    @Override
    public abstract void close();

    static String describe(StepResult result) {
        return String.format("%s done in %d ms, %d -> %d bytes", result.getTechnique(), result.getDurationMs(), result.getBytesIn(), result.getBytesOut());
    }

    private static final class Bar extends JobDisplay {
        private final ProgressBar bar;
        private final int stepCount;

        Bar(int stepCount) {
            this.stepCount = stepCount;
            this.bar = new ProgressBarBuilder().setTaskName("Compressing").setInitialMax(stepCount * 100L)
                    .setStyle(ProgressBarStyle.COLORFUL_UNICODE_BLOCK).setUpdateIntervalMillis(100).continuousUpdate().build();
        }

        @Override
        void show(JobEvent event) {
            switch (event.getEventCase()) {
                case STEP_STARTED -> {
                    bar.stepTo((event.getStepStarted().getStep() - 1) * 100L);
                    bar.setExtraMessage(step(event.getStepStarted().getStep()) + " " + event.getStepStarted().getTechnique());
                }
                case PROGRESS -> {
                    var progress = event.getProgress();
                    bar.stepTo((progress.getStep() - 1) * 100L + Math.round(progress.getFraction() * 100));
                    bar.setExtraMessage(step(progress.getStep()) + " " + progress.getTechnique() + ": " + progress.getMessage());
                }
                case STEP_COMPLETED -> {
                    // a step chained after this one may have started already (its StepStarted is written first): never go back
                    bar.stepTo(Math.max(bar.getCurrent(), event.getStepCompleted().getResult().getStep() * 100L));
                    bar.setExtraMessage(step(event.getStepCompleted().getResult().getStep()) + " " + describe(event.getStepCompleted().getResult()));
                }
                case COMPLETED -> bar.stepTo(stepCount * 100L);
                default -> {
                    // accepted, retries and the end are reported after the bar
                }
            }
        }

        private String step(int number) {
            return "[" + number + "/" + stepCount + "]";
        }

        @Override
        public void close() {
            bar.close();
        }
    }

    private static final class Lines extends JobDisplay {
        private final int stepCount;
        private final PrintStream out;

        Lines(int stepCount, PrintStream out) {
            this.stepCount = stepCount;
            this.out = out;
        }

        @Override
        void show(JobEvent event) {
            switch (event.getEventCase()) {
                case ACCEPTED -> out.println("Job " + event.getJobId() + " accepted (" + stepCount + " step" + (stepCount == 1 ? "" : "s") + ")");
                case STEP_STARTED -> out.println(step(event.getStepStarted().getStep()) + " " + event.getStepStarted().getTechnique() + " started"
                        + (event.getStepStarted().getAttempt() > 1 ? " (attempt " + event.getStepStarted().getAttempt() + ")" : ""));
                case PROGRESS -> out.printf("%s %s %3d%% %s%n", step(event.getProgress().getStep()), event.getProgress().getTechnique(),
                        Math.round(event.getProgress().getFraction() * 100), event.getProgress().getMessage());
                case STEP_RETRY -> out.println(step(event.getStepRetry().getStep()) + " " + event.getStepRetry().getTechnique() + " failed ("
                        + event.getStepRetry().getError().getCode() + "), retrying: " + event.getStepRetry().getError().getMessage());
                case STEP_COMPLETED -> out.println(step(event.getStepCompleted().getResult().getStep()) + " " + describe(event.getStepCompleted().getResult()));
                default -> {
                    // the end is reported by the caller
                }
            }
            out.flush();
        }

        private String step(int number) {
            return "[step " + number + "/" + stepCount + "]";
        }

        @Override
        public void close() {
            out.flush();
        }
    }
}
