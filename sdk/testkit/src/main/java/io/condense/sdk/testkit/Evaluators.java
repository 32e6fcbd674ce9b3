package io.condense.sdk.testkit;

import io.condense.sdk.eval.Evaluator;
import java.util.Iterator;
import java.util.Optional;
import java.util.ServiceLoader;

/**
 * Finds the host's {@link Evaluator} on the test class path with {@link ServiceLoader}. A plugin's tests get
 * the real ONNX Runtime evaluator by adding {@code io.condense:condense-runtime} as a test dependency; the
 * SDK and the test kit never depend on a native runtime themselves.
 */
public final class Evaluators {
    private static volatile Optional<Evaluator> found;

    private Evaluators() {
    }

    /**
     * The first evaluator registered in {@code META-INF/services/io.condense.sdk.eval.Evaluator}, created once
     * per JVM and shared.
     *
     * @throws IllegalStateException when none is on the class path, saying which dependency to add
     */
    public static Evaluator fromServiceLoader() {
        return find().orElseThrow(() -> new IllegalStateException("No " + Evaluator.class.getName()
                + " was found by ServiceLoader on the test class path: add io.condense:condense-runtime as a test "
                + "dependency (<scope>test</scope>) of this module"));
    }

    /** The first evaluator ServiceLoader finds, if any. */
    public static Optional<Evaluator> find() {
        Optional<Evaluator> current = found;
        if (current == null) {
            synchronized (Evaluators.class) {
                current = found;
                if (current == null) {
                    Iterator<Evaluator> evaluators = ServiceLoader.load(Evaluator.class, classLoader()).iterator();
                    current = evaluators.hasNext() ? Optional.of(evaluators.next()) : Optional.empty();
                    found = current;
                }
            }
        }
        return current;
    }

    private static ClassLoader classLoader() {
        ClassLoader context = Thread.currentThread().getContextClassLoader();
        return context != null ? context : Evaluators.class.getClassLoader();
    }
}
