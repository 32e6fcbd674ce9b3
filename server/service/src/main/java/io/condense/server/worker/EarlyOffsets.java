package io.condense.server.worker;

import static java.util.Objects.requireNonNull;

import java.time.Duration;
import java.util.Map;
import java.util.concurrent.CancellationException;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.apache.kafka.clients.consumer.ConsumerGroupMetadata;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.producer.Producer;
import org.apache.kafka.common.KafkaException;
import org.apache.kafka.common.TopicPartition;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Opens a step's transaction and adds the step record's consumer offset to it while the step runs, so that writing the
 * outcome afterwards costs only the records and the commit (issue 16). Adding an offset to a transaction is two round
 * trips to the broker (AddOffsetsToTxn, then TxnOffsetCommit through the group coordinator), as long as the rest of the
 * commit together; done at the end, it delayed every job by that much.
 *
 * <p>A transaction may not stay open for long: the broker aborts it after the producer's {@code transaction.timeout.ms},
 * and while it is open the group's committed offset of that partition is pending, so a consumer that takes the partition
 * over waits for it. A step that runs longer than {@link #HOLD} therefore has its early transaction aborted (the offset was
 * not committed: nothing changes) and its outcome is written as before, offset included, in a transaction begun at the
 * end. The offset sent early is the one the outcome commits in every case (the record's offset + 1, whatever the step's
 * outcome), and zombie fencing is unchanged: the offset carries the consumer's group generation as it does at the end.
 *
 * <p>All the early transactional calls (begin, send the offset, abort) run on this object's one thread, one after the
 * other; the worker's own thread touches the transaction again only after {@link Open#claim} has settled who owns it.
 */
final class EarlyOffsets implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(EarlyOffsets.class);
    /** How long an early transaction may stay open: well below the worker producer's transaction timeout. */
    static final Duration HOLD = Duration.ofSeconds(10);

    private enum State { OPEN, CLAIMED, ABANDONED }

    private final Producer<String, byte[]> producer;
    private final Duration hold;
    private final ScheduledExecutorService thread;

    EarlyOffsets(Producer<String, byte[]> producer, String name) {
        this(producer, name, HOLD);
    }

    EarlyOffsets(Producer<String, byte[]> producer, String name, Duration hold) {
        this.producer = requireNonNull(producer, "producer is null");
        this.hold = requireNonNull(hold, "hold is null");
        requireNonNull(name, "name is null");
        this.thread = Executors.newSingleThreadScheduledExecutor(task -> {
            Thread named = new Thread(task, name + "-early-offsets");
            named.setDaemon(true);
            return named;
        });
    }

    /** Begins a transaction and adds {@code partition}'s offset {@code next} to it, on this object's thread. */
    Open open(TopicPartition partition, long next, ConsumerGroupMetadata group) {
        Open open = new Open(partition, next);
        open.offsetSent = thread.submit(() -> {
            producer.beginTransaction();
            producer.sendOffsetsToTransaction(Map.of(partition, new OffsetAndMetadata(next)), group);
            return null;
        });
        open.abandoned = thread.schedule(() -> {
            if (open.state.compareAndSet(State.OPEN, State.ABANDONED)) {
                abort(open);
            }
            return null;
        }, hold.toMillis(), TimeUnit.MILLISECONDS);
        return open;
    }

    private void abort(Open open) {
        try {
            producer.abortTransaction();
        } catch (KafkaException | IllegalStateException e) {
            // nothing was begun (the begin failed) or the producer is closing; the worker's own transaction says more
            log.debug("Early transaction for {} offset {} not aborted: {}", open.partition, open.next, e.toString());
        }
    }

    @Override
    public void close() {
        thread.shutdownNow();
    }

    /** A transaction holding one record's offset, until the worker claims it or it is abandoned. */
    final class Open {
        private final AtomicReference<State> state = new AtomicReference<>(State.OPEN);
        private final TopicPartition partition;
        private final long next;
        private Future<Void> offsetSent;
        private Future<Void> abandoned;

        private Open(TopicPartition partition, long next) {
            this.partition = partition;
            this.next = next;
        }

        /** Whether this transaction holds the offset {@code next} of {@code partition}. */
        boolean holds(TopicPartition partition, long next) {
            return this.partition.equals(partition) && this.next == next;
        }

        /**
         * True: the transaction is open with the offset in it, and the caller adds the outcome and commits (or aborts). False:
         * it was abandoned and is aborted by now; the caller begins a transaction of its own. Throws what sending the offset
         * threw (the transaction is then the caller's to abort).
         */
        boolean claim() {
            if (state.compareAndSet(State.OPEN, State.CLAIMED)) {
                abandoned.cancel(false);
                settle(offsetSent);
                return true;
            }
            try {
                settle(abandoned);
            } catch (KafkaException e) {
                // the abort is logged where it failed; the caller's own transaction finds out whether the producer is usable
            }
            return false;
        }

        /** Gives the transaction up (the step's record is not to be committed): aborted on this object's thread. */
        void abandon() {
            if (state.compareAndSet(State.OPEN, State.ABANDONED)) {
                abandoned.cancel(false);
                try {
                    settle(thread.submit(() -> {
                        abort(this);
                        return null;
                    }));
                } catch (KafkaException e) {
                    log.debug("Early transaction not aborted: {}", e.toString());
                }
            }
        }
    }

    /** Waits for an early call and throws what it threw. */
    private static void settle(Future<Void> call) {
        try {
            call.get();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new org.apache.kafka.common.errors.InterruptException(e);
        } catch (CancellationException e) {
            throw new KafkaException("the early transaction was cancelled (the worker is stopping)", e);
        } catch (ExecutionException e) {
            if (e.getCause() instanceof RuntimeException runtime) {
                throw runtime;
            }
            throw new KafkaException(e.getCause());
        }
    }
}
