package io.condense.server.plugin;

/** Sets the thread's context class loader to a plugin's for the duration of a call into the plugin. */
public final class ContextClassLoaderSwap implements AutoCloseable {
    private final Thread thread;
    private final ClassLoader previous;

    private ContextClassLoaderSwap(ClassLoader loader) {
        this.thread = Thread.currentThread();
        this.previous = thread.getContextClassLoader();
        thread.setContextClassLoader(loader);
    }

    public static ContextClassLoaderSwap to(ClassLoader loader) {
        return new ContextClassLoaderSwap(loader);
    }

    @Override
    public void close() {
        thread.setContextClassLoader(previous);
    }
}
