package io.condense.server.channel;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.protobuf.NullValue;
import com.google.protobuf.Struct;
import com.google.protobuf.Value;
import io.condense.sdk.error.CondenseException;
import org.junit.jupiter.api.Test;

class GateTest {
    private static Struct report(double accuracyBefore, double accuracyAfter, double agreement, Value sqnr) {
        Struct evaluation = Struct.newBuilder()
                .putFields("accuracy_before", number(accuracyBefore))
                .putFields("accuracy_after", number(accuracyAfter))
                .putFields("top1_agreement", number(agreement))
                .putFields("sqnr_db", sqnr)
                .build();
        return Struct.newBuilder().putFields("evaluation", Value.newBuilder().setStructValue(evaluation).build()).build();
    }

    private static Value number(double value) {
        return Value.newBuilder().setNumberValue(value).build();
    }

    @Test
    void passesWhenEveryConditionHoldsAndNamesTheFiguresWhenOneDoesNot() {
        Gate gate = Gate.parse("accuracy>=0.85, agreement > 0.9, sqnr>=20");
        Gate.Verdict good = gate.judge(report(0.97, 0.96, 0.99, number(31.5)));
        assertThat(good.passed()).isTrue();
        assertThat(good.figures()).containsEntry("accuracy", 0.96).containsEntry("agreement", 0.99).containsEntry("sqnr", 31.5);

        Gate.Verdict bad = gate.judge(report(0.97, 0.80, 0.95, number(12)));
        assertThat(bad.passed()).isFalse();
        assertThat(bad.reason()).contains("accuracy is 0.8000, the gate asks accuracy>=0.85").contains("sqnr is 12.0000")
                .doesNotContain("agreement is");
    }

    @Test
    void aMissingFigureFailsAndAnInfiniteSqnrPasses() {
        Gate.Verdict noAccuracy = Gate.parse("accuracy>=0.5").judge(Struct.getDefaultInstance());
        assertThat(noAccuracy.passed()).isFalse();
        assertThat(noAccuracy.reason()).contains("the evaluation has no accuracy");
        Value infinite = Value.newBuilder().setNullValue(NullValue.NULL_VALUE).build();
        assertThat(Gate.parse("sqnr>=40").judge(report(1, 1, 1, infinite)).passed()).isTrue();
        assertThat(Gate.parse("accuracy_drop<=0.01").judge(report(0.97, 0.95, 1, infinite)).passed()).isFalse();
        assertThat(Gate.parse("").judge(Struct.getDefaultInstance()).passed()).isTrue();
    }

    @Test
    void refusesWhatItCannotRead() {
        assertThatThrownBy(() -> Gate.parse("accuracy=0.85")).isInstanceOf(CondenseException.class).hasMessageContaining("FIGURE OP NUMBER");
        assertThatThrownBy(() -> Gate.parse("f1>=0.85")).hasMessageContaining("unknown figure 'f1'");
        assertThat(Gate.parse("accuracy>=0.85").needsLabels()).isTrue();
        assertThat(Gate.parse("sqnr>=20").needsLabels()).isFalse();
    }
}
