package io.condense.sdk.testkit;

import static org.assertj.core.api.Assertions.assertThat;

import com.tngtech.archunit.core.domain.JavaClasses;
import com.tngtech.archunit.core.importer.ClassFileImporter;
import com.tngtech.archunit.lang.ArchRule;
import io.condense.plugin.fake.BorrowingTechnique;
import io.condense.plugin.fake.CleanTechnique;
import org.junit.jupiter.api.Test;

/** The rules every plugin module runs refuse what they should and accept what they should. */
class PluginBoundariesRulesTest {

    @Test
    void aClassUsingTheSdkOnlyPasses() {
        JavaClasses classes = new ClassFileImporter().importClasses(CleanTechnique.class);
        for (ArchRule rule : PluginBoundariesTest.rules("io.condense.plugin.fake")) {
            assertThat(rule.evaluate(classes).hasViolation()).as(rule.getDescription()).isFalse();
        }
    }

    @Test
    void aClassUsingAnotherPluginFails() {
        JavaClasses classes = new ClassFileImporter().importClasses(BorrowingTechnique.class);
        assertThat(PluginBoundariesTest.rules("io.condense.plugin.fake")).anySatisfy(rule ->
                assertThat(rule.evaluate(classes).getFailureReport().getDetails()).anySatisfy(detail ->
                        assertThat(detail).contains("io.condense.plugin.other.OtherPluginHelper")));
    }

    @Test
    void aClassOutsideTheFamilyPackageFails() {
        JavaClasses classes = new ClassFileImporter().importClasses(CleanTechnique.class);
        assertThat(PluginBoundariesTest.rules("io.condense.plugin.pruning"))
                .anySatisfy(rule -> assertThat(rule.evaluate(classes).hasViolation()).isTrue());
    }
}
