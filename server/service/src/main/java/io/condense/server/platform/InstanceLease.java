package io.condense.server.platform;

import static java.util.Objects.requireNonNull;

import io.condense.sdk.error.CondenseException;
import io.condense.sdk.error.ErrorCode;
import io.condense.server.bus.KafkaSettings;
import io.condense.server.bus.Topics;
import java.time.Duration;
import java.util.Collection;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.ConsumerGroupDescription;
import org.apache.kafka.clients.admin.MemberDescription;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.errors.GroupIdNotFoundException;
import org.apache.kafka.common.errors.WakeupException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Holds this process's instance id for as long as it runs: a member of the Kafka consumer group
 * {@code condense-instance-<id>}, kept alive by a thread that polls. A second process with the same id finds a live
 * member there and refuses to start; a process killed without closing stays a member until its session expires
 * ({@link #SESSION}), so a restart under the same id waits that long at most. Two processes starting at the same
 * moment both join; the one whose member id sorts later gives way.
 */
final class InstanceLease implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(InstanceLease.class);
    static final Duration SESSION = Duration.ofSeconds(6);
    private static final Duration WAIT_FOR_DEAD_MEMBER = SESSION.plusSeconds(6);
    private static final Duration JOIN_TIMEOUT = Duration.ofSeconds(60);

    private final KafkaConsumer<String, byte[]> consumer;
    private final Thread thread;
    private volatile boolean running = true;

    private InstanceLease(KafkaConsumer<String, byte[]> consumer) {
        this.consumer = consumer;
        this.thread = new Thread(this::keepAlive, "condense-instance-lease");
        this.thread.setDaemon(true);
    }

    static String group(String instanceId) {
        return "condense-instance-" + instanceId;
    }

    /**
     * @throws CondenseException INVALID_PARAMETER when another live process holds the id, UNAVAILABLE when Kafka cannot
     *     tell
     */
    static InstanceLease acquire(KafkaSettings settings, String instanceId) {
        requireNonNull(instanceId, "instanceId is null");
        String group = group(instanceId);
        try (Admin admin = Admin.create(settings.admin())) {
            long deadline = System.nanoTime() + WAIT_FOR_DEAD_MEMBER.toNanos();
            List<MemberDescription> members = members(admin, group);
            while (!members.isEmpty() && System.nanoTime() < deadline) {
                // a process killed a moment ago stays a member until its session expires
                Thread.sleep(500);
                members = members(admin, group);
            }
            if (!members.isEmpty()) {
                throw taken(instanceId, group, members);
            }
            Map<String, Object> config = settings.consumer(group, group + "-" + ProcessHandle.current().pid());
            config.put(ConsumerConfig.SESSION_TIMEOUT_MS_CONFIG, (int) SESSION.toMillis());
            config.put(ConsumerConfig.HEARTBEAT_INTERVAL_MS_CONFIG, 1_000);
            KafkaConsumer<String, byte[]> consumer = new KafkaConsumer<>(config);
            InstanceLease lease = new InstanceLease(consumer);
            try {
                consumer.subscribe(List.of(Topics.INSTANCES));
                long joinDeadline = System.nanoTime() + JOIN_TIMEOUT.toNanos();
                while (consumer.groupMetadata().generationId() <= 0) {
                    if (System.nanoTime() > joinDeadline) {
                        throw new CondenseException(ErrorCode.UNAVAILABLE, "could not join the Kafka consumer group " + group
                                + " that holds this process's instance id within " + JOIN_TIMEOUT.toSeconds() + " s");
                    }
                    consumer.poll(Duration.ofMillis(100));
                }
                String me = consumer.groupMetadata().memberId();
                members = members(admin, group);
                if (members.size() > 1) {
                    MemberDescription first = members.stream().min(Comparator.comparing(MemberDescription::consumerId)).orElseThrow();
                    if (!first.consumerId().equals(me)) {
                        throw taken(instanceId, group, members.stream().filter(member -> !member.consumerId().equals(me)).toList());
                    }
                }
            } catch (RuntimeException e) {
                consumer.close(Duration.ofSeconds(5));
                throw e;
            }
            lease.thread.start();
            return lease;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new CondenseException(ErrorCode.UNAVAILABLE, "interrupted while checking the instance id", e);
        }
    }

    /**
     * Which of these instance ids a live process holds now (its lease group has a member), asked in one request.
     *
     * @throws CondenseException UNAVAILABLE when Kafka cannot tell
     */
    static java.util.Set<String> live(KafkaSettings settings, Collection<String> instanceIds) {
        if (instanceIds.isEmpty()) {
            return java.util.Set.of();
        }
        List<String> groups = instanceIds.stream().map(InstanceLease::group).toList();
        try (Admin admin = Admin.create(settings.admin())) {
            Map<String, ConsumerGroupDescription> descriptions = admin.describeConsumerGroups(groups).all().get(30, TimeUnit.SECONDS);
            java.util.Set<String> live = new java.util.HashSet<>();
            for (String instanceId : instanceIds) {
                ConsumerGroupDescription description = descriptions.get(group(instanceId));
                if (description != null && !description.members().isEmpty()) {
                    live.add(instanceId);
                }
            }
            return live;
        } catch (ExecutionException e) {
            if (e.getCause() instanceof GroupIdNotFoundException && instanceIds.size() == 1) {
                return java.util.Set.of();
            }
            if (e.getCause() instanceof GroupIdNotFoundException) {
                // one unknown group fails the whole request: ask for each id alone
                java.util.Set<String> live = new java.util.HashSet<>();
                for (String instanceId : instanceIds) {
                    live.addAll(live(settings, List.of(instanceId)));
                }
                return live;
            }
            throw new CondenseException(ErrorCode.UNAVAILABLE, "cannot ask Kafka which instance ids are in use: "
                    + (e.getCause() == null ? e : e.getCause()).getMessage(), e);
        } catch (TimeoutException e) {
            throw new CondenseException(ErrorCode.UNAVAILABLE, "Kafka did not answer which instance ids are in use within 30 s", e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new CondenseException(ErrorCode.UNAVAILABLE, "interrupted while asking which instance ids are in use", e);
        }
    }

    private static CondenseException taken(String instanceId, String group, Collection<MemberDescription> members) {
        MemberDescription other = members.iterator().next();
        return new CondenseException(ErrorCode.INVALID_PARAMETER, "another Condense process is running with the instance id '"
                + instanceId + "' (client " + other.clientId() + " on " + other.host() + ", a member of the Kafka consumer group "
                + group + "): give every process its own --instance-id, or leave --instance-id out and each process makes a "
                + "unique one");
    }

    private static List<MemberDescription> members(Admin admin, String group) throws InterruptedException {
        try {
            ConsumerGroupDescription description = admin.describeConsumerGroups(List.of(group)).all().get(30, TimeUnit.SECONDS).get(group);
            return description == null ? List.of() : List.copyOf(description.members());
        } catch (ExecutionException e) {
            if (e.getCause() instanceof GroupIdNotFoundException) {
                return List.of();
            }
            throw new CondenseException(ErrorCode.UNAVAILABLE, "cannot ask Kafka whether the instance id is in use: "
                    + (e.getCause() == null ? e : e.getCause()).getMessage(), e);
        } catch (TimeoutException e) {
            throw new CondenseException(ErrorCode.UNAVAILABLE, "Kafka did not answer whether the instance id is in use within 30 s", e);
        }
    }

    private void keepAlive() {
        try {
            while (running) {
                consumer.poll(Duration.ofSeconds(1));
            }
        } catch (WakeupException e) {
            // closing
        } catch (RuntimeException e) {
            if (running) {
                log.error("The instance id lease stopped: {}", e.toString());
            }
        } finally {
            consumer.close(Duration.ofSeconds(5));
        }
    }

    @Override
    public void close() throws InterruptedException {
        running = false;
        consumer.wakeup();
        thread.join(10_000);
    }
}
