package io.condense.server.training;

import ai.djl.engine.Engine;
import ai.djl.pytorch.jni.JniUtils;
import io.condense.sdk.error.CondenseException;
import io.condense.sdk.error.ErrorCode;

/**
 * The JVM's one PyTorch engine (DJL), loaded on first use. DJL runs offline: the native library comes from the
 * {@code pytorch-native-cpu} jar on the class path and is unpacked into {@code ENGINE_CACHE_DIR} (or
 * {@code DJL_CACHE_DIR}, else {@code ~/.djl.ai}) once. Threads follow DJL's {@code ai.djl.pytorch.num_threads} and
 * {@code ai.djl.pytorch.num_interop_threads} system properties.
 *
 * <p>PyTorch 2.7.1's oneDNN convolution kernels for AVX2 and AVX-512 return NaN or infinite weight gradients at random
 * batches for some small channel counts (a 5x5 convolution to 4 channels behind one to 2: NaN in 1,600 to 2,900 of
 * 3,000 steps in {@code ConvolutionGradientTest}), and its AVX and AVX2 kernels compute pytorch_cnn_mnist's forward
 * pass on a batch wrong ({@code ForwardAgreementTest}); the SSE4.1 kernels get both right, about a third slower. oneDNN
 * reads its {@code DNNL_MAX_CPU_ISA} environment variable when the library loads, which a running JVM cannot set for
 * itself: the {@code condense} launcher, the image and the build's test JVMs set it to {@code SSE41}; without it a
 * non-finite loss says so ({@link #isaAdvice()}).
 */
final class PyTorchEngine {
    static final String ENGINE_NAME = "PyTorch";
    static final String ISA_VARIABLE = "DNNL_MAX_CPU_ISA";
    private static volatile Engine engine;

    private PyTorchEngine() {
    }

    /** Empty when oneDNN's instruction set is limited, else the advice a non-finite loss adds to its message. */
    static String isaAdvice() {
        String isa = System.getenv(ISA_VARIABLE);
        if (isa != null && !isa.isBlank()) {
            return "";
        }
        return "; if the learning rate is not the cause: this JVM runs without " + ISA_VARIABLE + "=SSE41, and PyTorch's oneDNN "
                + "AVX-512 convolution kernels give NaN gradients at random for some small channel counts: start the "
                + "JVM with that environment variable (the condense launcher does)";
    }

    /**
     * The engine, with autograd off on the calling thread. PyTorch keeps its grad mode per thread and starts every thread
     * with it on; DJL turns it off only on the thread that loads the engine, and a {@code GradientCollector} restores on
     * close whatever mode it found. On any other thread (a server runs each job on a worker thread of its own) the mode
     * stayed on after the first batch's backward pass, and the optimizer's in-place update of a weight then failed with
     * PyTorch's "a leaf Variable that requires grad is being used in an in-place operation": every training after the
     * process's first failed. Every entry point calls this on its own thread, so the update runs without autograd.
     */
    static Engine get() {
        Engine loaded = load();
        JniUtils.setGradMode(false);
        return loaded;
    }

    private static Engine load() {
        Engine loaded = engine;
        if (loaded != null) {
            return loaded;
        }
        synchronized (PyTorchEngine.class) {
            if (engine == null) {
                if (System.getProperty("ai.djl.offline") == null) {
                    System.setProperty("ai.djl.offline", "true");
                }
                try {
                    engine = Engine.getEngine(ENGINE_NAME);
                } catch (RuntimeException | LinkageError e) {
                    throw new CondenseException(ErrorCode.RUNTIME_FAILURE, "cannot start the PyTorch training runtime (DJL "
                            + "did not load its native library): " + e.getMessage() + ". Check that pytorch-native-cpu "
                            + "(linux-x86_64) is on the class path and that ENGINE_CACHE_DIR or DJL_CACHE_DIR is writable", e);
                }
            }
            return engine;
        }
    }
}
