package io.condense.plugin.quantization;

import java.lang.management.ManagementFactory;
import java.lang.management.MemoryPoolMXBean;
import java.lang.management.MemoryType;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Peaks of this JVM's memory over a measured section, for benchmarks: heap used (sampled every 5 ms, and the sum of the
 * heap pools' own peaks), and from /proc/self/status the resident set's high-water mark (VmHWM, reset at the start when
 * the kernel allows) and sampled peaks of its anonymous (heap, native buffers) and file-backed (mapped files, libraries)
 * parts.
 */
final class ProcessMemory implements AutoCloseable {
    private final AtomicLong heapPeak = new AtomicLong();
    private final AtomicLong anonymousPeak = new AtomicLong();
    private final AtomicLong filePeak = new AtomicLong();
    private final Thread sampler;
    private final boolean highWaterReset;
    private long poolPeaks;

    private ProcessMemory() {
        System.gc();
        highWaterReset = resetHighWater();
        for (MemoryPoolMXBean pool : ManagementFactory.getMemoryPoolMXBeans()) {
            pool.resetPeakUsage();
        }
        sample();
        sampler = new Thread(() -> {
            while (!Thread.currentThread().isInterrupted()) {
                sample();
                try {
                    Thread.sleep(5);
                } catch (InterruptedException e) {
                    return;
                }
            }
        }, "memory-sampler");
        sampler.setDaemon(true);
        sampler.start();
    }

    static ProcessMemory start() {
        return new ProcessMemory();
    }

    private void sample() {
        heapPeak.accumulateAndGet(ManagementFactory.getMemoryMXBean().getHeapMemoryUsage().getUsed(), Math::max);
        anonymousPeak.accumulateAndGet(status("RssAnon") << 10, Math::max);
        filePeak.accumulateAndGet(status("RssFile") << 10, Math::max);
    }

    @Override
    public void close() throws InterruptedException {
        sampler.interrupt();
        sampler.join();
        sample();
        for (MemoryPoolMXBean pool : ManagementFactory.getMemoryPoolMXBeans()) {
            if (pool.getType() == MemoryType.HEAP) {
                poolPeaks += pool.getPeakUsage().getUsed();
            }
        }
    }

    long heapPeakBytes() {
        return heapPeak.get();
    }

    long heapPoolPeakBytes() {
        return poolPeaks;
    }

    long residentPeakBytes() {
        return status("VmHWM") << 10;
    }

    boolean highWaterReset() {
        return highWaterReset;
    }

    long anonymousPeakBytes() {
        return anonymousPeak.get();
    }

    long filePeakBytes() {
        return filePeak.get();
    }

    /** Resets VmHWM to the current resident set (writing 5 to /proc/self/clear_refs); false when the kernel refuses. */
    static boolean resetHighWater() {
        try {
            Files.writeString(Path.of("/proc/self/clear_refs"), "5");
            return true;
        } catch (Exception e) {
            return false;
        }
    }

    /** A kB figure of /proc/self/status, or -1. */
    static long status(String key) {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
                if (line.startsWith(key + ":")) {
                    return Long.parseLong(line.substring(key.length() + 1).replace("kB", "").trim());
                }
            }
        } catch (Exception e) {
            // not Linux
        }
        return -1;
    }
}
