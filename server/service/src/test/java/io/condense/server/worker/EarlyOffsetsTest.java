package io.condense.server.worker;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import java.util.Map;
import org.apache.kafka.clients.consumer.ConsumerGroupMetadata;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.producer.MockProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.KafkaException;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** The early transaction of a step: claimed by the worker in time, or abandoned and aborted, never both. */
class EarlyOffsetsTest {
    private static final TopicPartition STEPS = new TopicPartition("condense.steps.prune", 0);
    private static final ConsumerGroupMetadata GROUP = new ConsumerGroupMetadata("condense-workers-prune");

    private MockProducer<String, byte[]> producer;

    @BeforeEach
    void transactionalProducer() {
        producer = new MockProducer<>(true, null, new StringSerializer(), new ByteArraySerializer());
        producer.initTransactions();
    }

    @Test
    void aClaimedTransactionCommitsTheOffsetWithTheOutcome() {
        try (EarlyOffsets early = new EarlyOffsets(producer, "test", Duration.ofSeconds(30))) {
            EarlyOffsets.Open open = early.open(STEPS, 8, GROUP);
            assertThat(open.holds(STEPS, 8)).isTrue();
            assertThat(open.holds(STEPS, 9)).isFalse();

            assertThat(open.claim()).isTrue();
            assertThat(producer.transactionInFlight()).isTrue();
            assertThat(producer.uncommittedOffsets()).isEqualTo(Map.of(GROUP.groupId(), Map.of(STEPS, new OffsetAndMetadata(8))));
            producer.send(new ProducerRecord<>("condense.events", "job", new byte[] {1}));
            producer.commitTransaction();
        }
        assertThat(producer.transactionCommitted()).isTrue();
        assertThat(producer.consumerGroupOffsetsHistory()).containsExactly(Map.of(GROUP.groupId(), Map.of(STEPS, new OffsetAndMetadata(8))));
        assertThat(producer.history()).hasSize(1);
    }

    @Test
    void aStepLongerThanTheHoldHasItsEarlyTransactionAbortedAndBeginsItsOwn() throws InterruptedException {
        try (EarlyOffsets early = new EarlyOffsets(producer, "test", Duration.ofMillis(20))) {
            EarlyOffsets.Open open = early.open(STEPS, 8, GROUP);
            Thread.sleep(300); // the step runs past the hold

            assertThat(open.claim()).isFalse();
            assertThat(producer.transactionAborted()).isTrue();
            assertThat(producer.transactionInFlight()).isFalse();
            assertThat(producer.consumerGroupOffsetsHistory()).isEmpty();
            // the worker's own transaction, as before early offsets
            producer.beginTransaction();
            producer.sendOffsetsToTransaction(Map.of(STEPS, new OffsetAndMetadata(8)), GROUP);
            producer.commitTransaction();
        }
        assertThat(producer.consumerGroupOffsetsHistory()).hasSize(1);
    }

    @Test
    void aFailureToSendTheOffsetIsTheClaimersToHandle() {
        producer.sendOffsetsToTransactionException = new KafkaException("coordinator not available");
        try (EarlyOffsets early = new EarlyOffsets(producer, "test", Duration.ofSeconds(30))) {
            EarlyOffsets.Open open = early.open(STEPS, 8, GROUP);

            assertThatThrownBy(open::claim).isInstanceOf(KafkaException.class).hasMessageContaining("coordinator not available");
            // what the worker does with a failed commit: abort and read the record again
            producer.abortTransaction();
        }
        assertThat(producer.consumerGroupOffsetsHistory()).isEmpty();
        assertThat(producer.transactionAborted()).isTrue();
    }

    @Test
    void anAbandonedTransactionIsAbortedAndLeavesTheProducerReady() {
        try (EarlyOffsets early = new EarlyOffsets(producer, "test", Duration.ofSeconds(30))) {
            early.open(STEPS, 8, GROUP).abandon();

            assertThat(producer.transactionAborted()).isTrue();
            producer.beginTransaction();
            producer.commitTransaction();
        }
        assertThat(producer.consumerGroupOffsetsHistory()).isEmpty();
    }
}
