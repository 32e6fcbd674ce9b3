package io.condense.bench;

import static io.condense.bench.BenchSupport.copyArchives;
import static io.condense.bench.BenchSupport.loadAverage;
import static io.condense.bench.BenchSupport.millisSince;
import static io.condense.bench.BenchSupport.option;
import static io.condense.bench.BenchSupport.textOption;

import io.condense.proto.v1.Channel;
import io.condense.proto.v1.ChannelPolicy;
import io.condense.proto.v1.ChannelVersion;
import io.condense.proto.v1.CreateChannelRequest;
import io.condense.proto.v1.PushHeader;
import io.condense.proto.v1.VersionState;
import io.condense.sdk.model.OnnxModel;
import io.condense.sdk.tensor.Tensor;
import io.condense.sdk.testkit.LeNets;
import io.condense.sdk.weights.Safetensors;
import io.condense.server.Folders;
import io.condense.server.cli.CondenseClient;
import io.condense.server.cli.PipelineParser;
import io.condense.server.cli.channel.ChannelClient;
import io.condense.server.platform.CondensePlatform;
import io.condense.server.platform.PlatformConfig;
import java.io.ByteArrayInputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Pushes from a training loop into a channel on the embedded platform: LeNet-300-100 (266,610 parameters, 1.07 MB of
 * float32 weights) with {@code prune(sparsity=0.5) | quantize(bits=8)} and the default latest-wins policy.
 *
 * <ol>
 *   <li>Flat out: {@code benchmark.pushes} (100) full pushes (safetensors of every tensor) as fast as one client can send
 *       them: the push's acknowledgement latency, pushes per second, and what became of the versions (most are
 *       superseded: they waited behind a newer push), with the newest's time from push to compressed.</li>
 *   <li>The same number of delta pushes (only {@code fc3}, the last layer): bytes sent and acknowledgement latency.</li>
 *   <li>Paced: {@code benchmark.paced} (20) full pushes one step-time apart, the step-time being the measured time to
 *       compress one version alone: push-to-compressed of every compressed version in step-times (the goal: the newest
 *       within 2).</li>
 * </ol>
 * After {@code benchmark.warmup} (200) pushes, full and delta alternately, into a channel of their own.
 * Not a test: {@code mvn -q -pl integration-tests test-compile exec:exec@channel-benchmark}.
 */
public final class ChannelPushBenchmark {
    private static final String PIPELINE = "prune(sparsity=0.5) | quantize(bits=8)";

    private ChannelPushBenchmark() {
    }

    public static void main(String[] args) throws Exception {
        int pushes = option("benchmark.pushes", 100);
        int paced = option("benchmark.paced", 20);
        int warmup = Math.max(1, option("benchmark.warmup", 200));
        Path pluginArchives = Path.of(textOption("condense.plugins.dir", "../build/plugins"));
        String server = textOption("benchmark.server", null);
        Path work = Files.createTempDirectory("condense-channel-bench-");
        CondensePlatform platform = null;
        try {
            String load = loadAverage();
            Instant started = Instant.now();
            if (server == null) {
                platform = CondensePlatform.start(PlatformConfig.embedded(work.resolve("data"), copyArchives(pluginArchives, work.resolve("plugins"))));
                server = platform.grpcTarget();
            }
            // channel names of their own, so that runs against one server (-Dbenchmark.server) do not meet each other's
            String run = Long.toString(System.currentTimeMillis(), 36);
            String warmupChannel = "warmup-" + run;
            String flatChannel = "flat-" + run;
            String deltaChannel = "delta-" + run;
            String pacedChannel = "paced-" + run;
            try (CondenseClient client = new CondenseClient(server)) {
                ChannelClient channels = new ChannelClient(client.channel());
                String base = client.upload(LeNets.leNet300100(1).toBytes()).getBlobId();
                byte[][] full = new byte[pushes][];
                byte[][] delta = new byte[pushes][];
                for (int i = 0; i < pushes; i++) {
                    Map<String, Tensor> weights = weights(i + 2);
                    full[i] = Safetensors.toBytes(weights);
                    Map<String, Tensor> last = new LinkedHashMap<>();
                    last.put("fc3.weight", weights.get("fc3.weight"));
                    last.put("fc3.bias", weights.get("fc3.bias"));
                    delta[i] = Safetensors.toBytes(last);
                }

                // warm-up: the connection, both push paths and the compressions, until the JIT has compiled them (a
                // training loop pushes into a server that has been running)
                create(channels, base, warmupChannel);
                for (int i = 0; i < warmup; i++) {
                    push(channels, warmupChannel, i, i % 2 == 0 ? full[i % pushes] : delta[i % pushes]);
                }
                awaitVersion(channels, warmupChannel, warmup);

                // 1. flat out, full pushes
                create(channels, base, flatChannel);
                double[] fullAck = new double[pushes];
                long wallStart = System.nanoTime();
                for (int i = 0; i < pushes; i++) {
                    long start = System.nanoTime();
                    push(channels, flatChannel, i, full[i]);
                    fullAck[i] = millisSince(start);
                }
                Sample fullPushes = Sample.of(fullAck, millisSince(wallStart));
                ChannelVersion newest = awaitVersion(channels, flatChannel, pushes);
                Channel flat = channels.get(flatChannel);

                // 2. flat out, delta pushes
                create(channels, base, deltaChannel);
                double[] deltaAck = new double[pushes];
                wallStart = System.nanoTime();
                for (int i = 0; i < pushes; i++) {
                    long start = System.nanoTime();
                    push(channels, deltaChannel, i, delta[i]);
                    deltaAck[i] = millisSince(start);
                }
                Sample deltaPushes = Sample.of(deltaAck, millisSince(wallStart));
                awaitVersion(channels, deltaChannel, pushes);

                // 3. paced: one step-time = the time to compress one version alone
                create(channels, base, pacedChannel);
                double[] alone = new double[3];
                for (int i = 0; i < alone.length; i++) {
                    push(channels, pacedChannel, i, full[i]);
                    ChannelVersion version = awaitVersion(channels, pacedChannel, i + 1);
                    alone[i] = version.getFinishedAtMs() - version.getPushedAtMs();
                }
                double stepMs = Sample.of(alone, 0).percentile(50);
                for (int i = 0; i < paced; i++) {
                    long start = System.nanoTime();
                    push(channels, pacedChannel, alone.length + i, full[i % pushes]);
                    long sleep = (long) (stepMs - millisSince(start));
                    if (sleep > 0 && i < paced - 1) {
                        Thread.sleep(sleep);
                    }
                }
                awaitVersion(channels, pacedChannel, alone.length + paced);
                List<Double> pacedLatency = new ArrayList<>();
                int pacedSuperseded = 0;
                for (ChannelVersion version : channels.get(pacedChannel).getVersionsList()) {
                    if (version.getVersion() <= alone.length) {
                        continue;
                    }
                    if (version.getState() == VersionState.VERSION_STATE_COMPRESSED) {
                        pacedLatency.add((double) (version.getFinishedAtMs() - version.getPushedAtMs()));
                    } else if (version.getState() == VersionState.VERSION_STATE_SUPERSEDED) {
                        pacedSuperseded++;
                    }
                }
                Sample pacedSample = Sample.of(pacedLatency.stream().mapToDouble(Double::doubleValue).toArray(), 0);
                ChannelVersion pacedNewest = channels.get(pacedChannel).getVersions(alone.length + paced - 1);

                System.out.printf(Locale.ROOT, "Channel push benchmark, %s (load %s at start, %s at end), %d cores, server %s; LeNet-300-100 (%d bytes full, %d bytes delta "
                        + "[fc3]), pipeline %s, policy latest%n", started.truncatedTo(ChronoUnit.SECONDS), load, loadAverage(),
                        Runtime.getRuntime().availableProcessors(), platform != null ? "in this JVM" : server, full[0].length, delta[0].length, PIPELINE);
                System.out.printf(Locale.ROOT, "%-44s %6s %8s %8s %8s %10s%n", "", "n", "p50 ms", "p95 ms", "max ms", "pushes/s");
                row("push acknowledged, full (flat out)", fullPushes);
                row("push acknowledged, delta (flat out)", deltaPushes);
                System.out.printf(Locale.ROOT, "bytes sent: full %d per push, %d for %d pushes; delta %d per push, %d for %d pushes (%.0fx fewer)%n",
                        full[0].length, (long) full[0].length * pushes, pushes, delta[0].length, (long) delta[0].length * pushes, pushes,
                        (double) full[0].length / delta[0].length);
                System.out.printf(Locale.ROOT, "flat out: %s; newest version v%d %s %d ms after its push%n", outcomes(flat), newest.getVersion(),
                        newest.getState().name().substring("VERSION_STATE_".length()), newest.getFinishedAtMs() - newest.getPushedAtMs());
                System.out.printf(Locale.ROOT, "paced: step-time %.0f ms (one version compressed alone, p50 of %d); %d pushes one step apart: %d compressed, "
                        + "%d superseded; push -> compressed p50 %.0f ms (%.2f steps), p95 %.0f ms (%.2f steps); newest v%d %s after %d ms (%.2f steps)%n",
                        stepMs, alone.length, paced, pacedLatency.size(), pacedSuperseded, pacedSample.percentile(50), pacedSample.percentile(50) / stepMs,
                        pacedSample.percentile(95), pacedSample.percentile(95) / stepMs, pacedNewest.getVersion(),
                        pacedNewest.getState().name().substring("VERSION_STATE_".length()), pacedNewest.getFinishedAtMs() - pacedNewest.getPushedAtMs(),
                        (pacedNewest.getFinishedAtMs() - pacedNewest.getPushedAtMs()) / stepMs);
            }
        } finally {
            if (platform != null) {
                platform.close();
            }
            Folders.deleteRecursively(work);
        }
        System.exit(0);
    }

    private static Map<String, Tensor> weights(long seed) {
        OnnxModel model = LeNets.leNet300100(seed);
        Map<String, Tensor> tensors = new LinkedHashMap<>();
        model.initializers().forEach(info -> tensors.put(info.name(), model.tensor(info.name())));
        return tensors;
    }

    private static void create(ChannelClient channels, String base, String name) {
        channels.create(CreateChannelRequest.newBuilder().setName(name).setModelId(base).addAllSteps(PipelineParser.parse(PIPELINE))
                .setPolicy(ChannelPolicy.CHANNEL_POLICY_LATEST).build());
    }

    private static void push(ChannelClient channels, String name, long step, byte[] weights) throws java.io.IOException {
        channels.push(PushHeader.newBuilder().setChannel(name).setStep(step).build(), new ByteArrayInputStream(weights));
    }

    /** Waits until every version up to {@code last} has an outcome; the last one. */
    private static ChannelVersion awaitVersion(ChannelClient channels, String name, long last) {
        ChannelVersion[] seen = new ChannelVersion[1];
        // versions arrive in order, so the last one arriving means every earlier one has an outcome too
        channels.watch(name, 1, version -> {
            seen[0] = version;
            return version.getVersion() < last;
        });
        return seen[0];
    }

    private static String outcomes(Channel channel) {
        Map<String, Integer> counts = new LinkedHashMap<>();
        channel.getVersionsList().forEach(version -> counts.merge(version.getState().name().substring("VERSION_STATE_".length()).toLowerCase(Locale.ROOT), 1,
                Integer::sum));
        return counts.toString();
    }

    private static void row(String name, Sample sample) {
        System.out.printf(Locale.ROOT, "%-44s %6d %8.2f %8.2f %8.2f %10.1f%n", name, sample.count(), sample.percentile(50), sample.percentile(95),
                sample.max(), sample.perSecond());
    }
}
