package io.condense.sdk;

import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.noClasses;
import static org.assertj.core.api.Assertions.assertThat;

import com.tngtech.archunit.core.domain.JavaClasses;
import com.tngtech.archunit.core.importer.ClassFileImporter;
import com.tngtech.archunit.core.importer.ImportOption;
import com.tngtech.archunit.lang.ArchRule;
import io.condense.sdk.model.OnnxModel;
import org.junit.jupiter.api.Test;

/**
 * The SDK is what a plugin compiles against, so it depends on nothing of the host: no server, gRPC, Kafka, generated API
 * (proto) or plugin class, and none of the host-owned runtimes (ONNX Runtime, DJL). A violation fails the build.
 */
class SdkBoundariesTest {
    /** Packages no SDK class may use. */
    static final String[] FORBIDDEN = {"io.condense.server..", "io.condense.plugin..", "io.condense.proto..", "io.grpc..",
            "org.apache.kafka..", "ai.onnxruntime..", "ai.djl.."};

    /** The SDK's compiled classes (its classes folder or jar), nothing else of the class path. */
    private static final JavaClasses SDK = new ClassFileImporter().withImportOption(ImportOption.Predefined.DO_NOT_INCLUDE_TESTS)
            .importLocations(java.util.Set.of(com.tngtech.archunit.core.importer.Location.of(
                    OnnxModel.class.getProtectionDomain().getCodeSource().getLocation())));

    @Test
    void sdkUsesNothingOfTheHost() {
        assertThat(SDK.size()).as("SDK classes found").isGreaterThan(50);
        ArchRule rule = noClasses().that().resideInAPackage("io.condense.sdk..").should().dependOnClassesThat()
                .resideInAnyPackage(FORBIDDEN)
                .because("plugins compile against the SDK alone (sdk/README.md); what the host offers reaches them through its interfaces");
        rule.check(SDK);
    }

    @Test
    void theRuleCatchesAViolation() {
        // a test class that uses ONNX Runtime, as no SDK class may: the same rule must refuse it
        JavaClasses violating = new ClassFileImporter().importClasses(Onnx.class);
        ArchRule rule = noClasses().that().resideInAPackage("io.condense.sdk..").should().dependOnClassesThat()
                .resideInAnyPackage(FORBIDDEN);
        assertThat(rule.evaluate(violating).hasViolation()).isTrue();
    }
}
