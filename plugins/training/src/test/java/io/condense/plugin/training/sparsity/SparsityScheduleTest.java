package io.condense.plugin.training.sparsity;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Zhu and Gupta's cubic schedule and the linear one, the steps at which masks change. */
class SparsityScheduleTest {

    @Test
    void agpFollowsTheCubicFromTheInitialSparsityToTheTarget() {
        SparsitySchedule schedule = new SparsitySchedule(SparsitySchedule.AGP, 0.2, 0.9, 100, 500, 40);
        assertThat(schedule.sparsityAt(0)).isEqualTo(0.2);
        assertThat(schedule.sparsityAt(100)).isEqualTo(0.2);
        // s_t = s_f + (s_i - s_f)(1 - (t - t0)/(n dt))^3 at a quarter and at half of the way
        assertThat(schedule.sparsityAt(200)).isCloseTo(0.9 + (0.2 - 0.9) * Math.pow(0.75, 3), within(1e-12));
        assertThat(schedule.sparsityAt(300)).isCloseTo(0.9 - 0.7 / 8, within(1e-12));
        assertThat(schedule.sparsityAt(500)).isEqualTo(0.9);
        assertThat(schedule.sparsityAt(10_000)).isEqualTo(0.9);
    }

    @Test
    void linearRisesEvenly() {
        SparsitySchedule schedule = new SparsitySchedule(SparsitySchedule.LINEAR, 0, 0.8, 0, 400, 10);
        assertThat(schedule.sparsityAt(100)).isCloseTo(0.2, within(1e-12));
        assertThat(schedule.sparsityAt(300)).isCloseTo(0.6, within(1e-12));
    }

    @Test
    void masksChangeEveryFrequencyStepsFromTheStartAndAtTheEnd() {
        SparsitySchedule schedule = new SparsitySchedule(SparsitySchedule.AGP, 0, 0.5, 10, 35, 10);
        List<Long> due = new ArrayList<>();
        for (long step = 0; step < 60; step++) {
            if (schedule.due(step)) {
                due.add(step);
            }
        }
        assertThat(due).containsExactly(10L, 20L, 30L, 35L);
        assertThat(schedule.updates()).isEqualTo(due.size());
    }

    @Test
    void theSparsityNeverFalls() {
        for (String kind : List.of(SparsitySchedule.AGP, SparsitySchedule.LINEAR)) {
            SparsitySchedule schedule = new SparsitySchedule(kind, 0.1, 0.97, 5, 905, 7);
            double last = 0;
            for (long step = 0; step < 1000; step++) {
                assertThat(schedule.sparsityAt(step)).as("%s at %d", kind, step).isGreaterThanOrEqualTo(last);
                last = schedule.sparsityAt(step);
            }
        }
    }
}
