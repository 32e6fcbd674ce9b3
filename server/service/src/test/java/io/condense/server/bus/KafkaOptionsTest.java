package io.condense.server.bus;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.condense.sdk.error.CondenseException;
import io.condense.sdk.error.ErrorCode;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The operator's Kafka client properties reach every client; Condense's own settings cannot be overridden. */
class KafkaOptionsTest {

    @Test
    void securitySettingsFromTheFileReachEveryClient(@TempDir Path folder) throws Exception {
        Path file = folder.resolve("kafka.properties");
        Files.writeString(file, "# the cluster's SASL settings\nsecurity.protocol=SASL_SSL\nsasl.mechanism=SCRAM-SHA-512\n"
                + "ssl.truststore.location=/etc/condense/truststore.jks\n");
        KafkaSettings settings = new KafkaSettings("broker-1:9093", 4, KafkaOptions.DEFAULTS.withClientProperties(KafkaOptions.readProperties(file)));
        for (Map<String, Object> client : java.util.List.of(settings.admin(), settings.plainProducer("p"), settings.transactionalProducer("t"),
                settings.consumer("g", "c"), settings.stepConsumer("g", "c", "i"))) {
            assertThat(client).containsEntry("security.protocol", "SASL_SSL").containsEntry("sasl.mechanism", "SCRAM-SHA-512")
                    .containsEntry("bootstrap.servers", "broker-1:9093");
        }
        assertThat(settings.consumer("g", "c")).as("Condense's own isolation stays").containsEntry("isolation.level", "read_committed");
        assertThat(new KafkaSettings("b:9092", 1).admin()).containsOnlyKeys("bootstrap.servers");
    }

    @Test
    void condensesOwnSettingsAndBadNumbersAreRefusedWithTheReason(@TempDir Path folder) {
        assertThatThrownBy(() -> new KafkaOptions(Map.of("isolation.level", "read_uncommitted"), 0, 0))
                .isInstanceOfSatisfying(CondenseException.class, e -> {
                    assertThat(e.code()).isEqualTo(ErrorCode.INVALID_PARAMETER);
                    assertThat(e.getMessage()).contains("'isolation.level' is set by Condense itself").contains("--kafka-config");
                });
        assertThatThrownBy(() -> new KafkaOptions(Map.of("bootstrap.servers", "x:1"), 0, 0)).hasMessageContaining("--kafka-bootstrap");
        assertThatThrownBy(() -> KafkaOptions.DEFAULTS.withReplicationFactor(-1)).hasMessageContaining("--replication-factor");
        assertThatThrownBy(() -> KafkaOptions.DEFAULTS.withEmbeddedBrokerPort(70000)).hasMessageContaining("--kafka-port");
        assertThatThrownBy(() -> KafkaOptions.readProperties(folder.resolve("missing.properties")))
                .hasMessageContaining("cannot read the Kafka client properties");
    }
}
