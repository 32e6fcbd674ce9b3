/**
 * Training models in the host's runtime: the {@link io.condense.sdk.training.Trainer} a technique gets from
 * {@link io.condense.sdk.context.StepContext#trainer()}, the {@link io.condense.sdk.training.TrainingRequest} it
 * fills in and the {@link io.condense.sdk.training.TrainingResult} it gets back. No runtime types appear here.
 */
package io.condense.sdk.training;
