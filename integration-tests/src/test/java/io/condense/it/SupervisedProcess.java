package io.condense.it;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;

/**
 * What an orchestrator does for one replica: starts it, and starts it again whenever it exits, whether it was
 * killed or exited on its own (a process exits on purpose when it cannot work). Watched by a thread of its own;
 * {@link #close()} stops the watching and then the process, by its PID.
 */
final class SupervisedProcess implements AutoCloseable {
    private static final long CHECK_MILLIS = 200;

    private final String name;
    private final Callable<ServerProcess> launcher;
    private final List<String> exits = new ArrayList<>();
    private final Thread watcher;
    private volatile ServerProcess current;
    private volatile boolean closed;
    /** No restart before this time ({@link System#nanoTime}): an outage that lasts. */
    private volatile long downUntilNanos = System.nanoTime();
    private int starts;

    private SupervisedProcess(String name, Callable<ServerProcess> launcher) {
        this.name = name;
        this.launcher = launcher;
        this.watcher = new Thread(this::watch, "supervise-" + name);
        this.watcher.setDaemon(true);
    }

    /** Starts the process (waiting until it is ready) and watches it from then on. */
    static SupervisedProcess start(String name, Callable<ServerProcess> launcher) throws Exception {
        SupervisedProcess supervised = new SupervisedProcess(name, launcher);
        supervised.current = launcher.call();
        supervised.countStart();
        supervised.watcher.start();
        return supervised;
    }

    private void watch() {
        while (!closed) {
            try {
                Thread.sleep(CHECK_MILLIS);
                ServerProcess process = current;
                if (process != null && !process.alive() && !closed) {
                    recordExit(name + " pid " + process.pid() + " exited with " + process.exitValue());
                    current = null;
                }
                if (current == null && !closed && System.nanoTime() - downUntilNanos >= 0) {
                    current = launcher.call();
                    countStart();
                }
            } catch (InterruptedException e) {
                return;
            } catch (Exception e) {
                // it died before it was ready (the broker was away, say): try again on the next round
                recordExit(name + " failed to start: " + e.getMessage());
            }
        }
    }

    private synchronized void countStart() {
        starts++;
    }

    private synchronized void recordExit(String exit) {
        exits.add(exit);
    }

    String name() {
        return name;
    }

    /** Whether the process is up now (it may be between an exit and its restart). */
    boolean alive() {
        ServerProcess process = current;
        return process != null && process.alive();
    }

    /** kill -9 of the running process, if there is one; the watcher starts it again. Whether one was killed. */
    boolean kill() throws InterruptedException {
        ServerProcess process = current;
        if (process == null || !process.alive()) {
            return false;
        }
        process.kill();
        return true;
    }

    /** SIGTERM (the process closes what it holds) and waits for the exit; the watcher starts it again after {@code down}. */
    void stop(Duration down) throws InterruptedException {
        downUntilNanos = System.nanoTime() + down.toNanos();
        ServerProcess process = current;
        if (process != null) {
            process.close();
        }
    }

    synchronized int starts() {
        return starts;
    }

    synchronized List<String> exits() {
        return List.copyOf(exits);
    }

    @Override
    public void close() throws InterruptedException {
        closed = true;
        watcher.interrupt();
        watcher.join(Duration.ofMinutes(4).toMillis());
        ServerProcess process = current;
        if (process != null) {
            process.close();
        }
    }
}
