package io.condense.sdk.testkit;

import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.classes;
import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.noClasses;
import static org.assertj.core.api.Assertions.assertThat;

import com.tngtech.archunit.core.domain.JavaClasses;
import com.tngtech.archunit.core.importer.ClassFileImporter;
import com.tngtech.archunit.lang.ArchRule;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

/**
 * A plugin's own classes use the SDK and their family's libraries only: no class of another plugin, of the server or of
 * the generated API, and nothing of the host-owned runtimes (ONNX Runtime, DJL), gRPC or Kafka. Every module under
 * {@code plugins/} runs this test on its compiled classes ({@code plugins/pom.xml} scans the test kit for it and passes the
 * module's package and classes folder as {@code condense.plugin.package} and {@code condense.plugin.classes}); the
 * dependencies themselves are checked by the enforcer rule beside it. A violation fails the build.
 */
public class PluginBoundariesTest {
    /** Packages a plugin's classes may not use, besides other plugins' packages. */
    public static final String[] FORBIDDEN = {"io.condense.server..", "io.condense.proto..", "io.grpc..", "org.apache.kafka..",
            "ai.onnxruntime..", "ai.djl.."};

    @Test
    void pluginUsesOnlyTheSdkAndItsOwnFamily() {
        String family = System.getProperty("condense.plugin.package");
        String folder = System.getProperty("condense.plugin.classes");
        Assumptions.assumeTrue(family != null && folder != null && Files.isDirectory(Path.of(folder)),
                "not run from a plugin module (condense.plugin.package and condense.plugin.classes unset)");
        JavaClasses own = new ClassFileImporter().importPath(Path.of(folder));
        assertThat(own.size()).as("classes in %s", folder).isPositive();
        rules(family).forEach(rule -> rule.check(own));
    }

    /** The rules for a plugin whose classes live in {@code family} (for example {@code io.condense.plugin.pruning}). */
    public static java.util.List<ArchRule> rules(String family) {
        return java.util.List.of(
                classes().should().resideInAPackage(family + "..")
                        .because("a plugin's classes live in its family's package, io.condense.plugin.<family>"),
                noClasses().should().dependOnClassesThat().resideInAnyPackage(FORBIDDEN)
                        .because("plugins reach the host only through the SDK's interfaces (plugins/README.md)"),
                noClasses().should().dependOnClassesThat(com.tngtech.archunit.base.DescribedPredicate.describe(
                                "belong to another plugin", (com.tngtech.archunit.core.domain.JavaClass target) ->
                                        target.getPackageName().startsWith("io.condense.plugin.")
                                                && !(target.getPackageName().equals(family) || target.getPackageName().startsWith(family + "."))))
                        .because("plugins share through the SDK only: what two plugins need goes into io.condense.sdk"));
    }
}
