package io.condense.server.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import org.junit.jupiter.api.Test;

class DurationTextTest {

    @Test
    void readsTheUnitsOperatorsWrite() {
        assertThat(DurationText.parse("--blob-retention", "7d")).isEqualTo(Duration.ofDays(7));
        assertThat(DurationText.parse("--blob-retention", "12h")).isEqualTo(Duration.ofHours(12));
        assertThat(DurationText.parse("--budget", "1.5m")).isEqualTo(Duration.ofSeconds(90));
        assertThat(DurationText.parse("--budget", "90")).isEqualTo(Duration.ofSeconds(90));
        assertThat(DurationText.parse("--budget", "500ms")).isEqualTo(Duration.ofMillis(500));
    }

    @Test
    void refusesWhatIsNotAPositiveDurationNamingTheOption() {
        assertThatThrownBy(() -> DurationText.parse("--blob-retention", "a week"))
                .isInstanceOf(IllegalArgumentException.class).hasMessage("--blob-retention a week is not a duration: write 10m, 90s, 1h or 7d");
        assertThatThrownBy(() -> DurationText.parse("--blob-retention", "0d")).isInstanceOf(IllegalArgumentException.class);
    }
}
