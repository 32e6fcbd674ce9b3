package io.condense.sdk.testkit;

import io.condense.sdk.training.Trainer;
import java.util.Iterator;
import java.util.Optional;
import java.util.ServiceLoader;

/**
 * Finds the host's {@link Trainer} on the test class path with {@link ServiceLoader}, as {@link Evaluators} finds the
 * evaluator. A plugin's tests get the real training runtime (PyTorch through DJL) by adding
 * {@code io.condense:condense-training} as a test dependency; the SDK and the test kit never depend on it themselves.
 */
public final class Trainers {
    private static volatile Optional<Trainer> found;

    private Trainers() {
    }

    /**
     * The first trainer registered in {@code META-INF/services/io.condense.sdk.training.Trainer}, created once per JVM
     * and shared (the host's loads its native library once per JVM).
     *
     * @throws IllegalStateException when none is on the class path, saying which dependency to add
     */
    public static Trainer fromServiceLoader() {
        return find().orElseThrow(() -> new IllegalStateException("No " + Trainer.class.getName()
                + " was found by ServiceLoader on the test class path: add io.condense:condense-training as a test "
                + "dependency (<scope>test</scope>) of this module, or override trainer() in the kit's subclass"));
    }

    /** The first trainer ServiceLoader finds, if any. */
    public static Optional<Trainer> find() {
        Optional<Trainer> current = found;
        if (current == null) {
            synchronized (Trainers.class) {
                current = found;
                if (current == null) {
                    ClassLoader context = Thread.currentThread().getContextClassLoader();
                    Iterator<Trainer> trainers = ServiceLoader.load(Trainer.class,
                            context != null ? context : Trainers.class.getClassLoader()).iterator();
                    current = trainers.hasNext() ? Optional.of(trainers.next()) : Optional.empty();
                    found = current;
                }
            }
        }
        return current;
    }
}
