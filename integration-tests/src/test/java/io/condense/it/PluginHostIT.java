package io.condense.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.condense.sdk.error.CondenseException;
import io.condense.sdk.error.ErrorCode;
import io.condense.server.plugin.PluginHost;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The PF4J host on its own: third-party archives, isolation, and conflicts. */
class PluginHostIT {

    @Test
    void loadsAThirdPartyPluginBuiltAgainstTheSdkAlone(@TempDir Path folder) throws Exception {
        TestPlugins.build("slow", "slow", "1.0.0", ">=0.1.0", folder.resolve("slow-plugin-1.0.0.jar"));
        try (PluginHost host = PluginHost.load(folder)) {
            assertThat(host.techniques()).containsOnlyKeys("slow");
            assertThat(host.technique("slow").orElseThrow().pluginVersion()).isEqualTo("1.0.0");
            assertThat(host.problems()).isEmpty();
        }
    }

    @Test
    void twoPluginsOfferingTheSameTechniqueIsAClearError(@TempDir Path folder) throws Exception {
        TestPlugins.build("explode", "explode", "1.0.0", ">=0.1.0", folder.resolve("explode-plugin-1.0.0.jar"));
        TestPlugins.build("explode", "explode-copy", "1.0.1", ">=0.1.0", folder.resolve("explode-copy-plugin-1.0.1.jar"));
        assertThatThrownBy(() -> PluginHost.load(folder))
                .isInstanceOfSatisfying(CondenseException.class, e -> {
                    assertThat(e.code()).isEqualTo(ErrorCode.PLUGIN_FAILURE);
                    assertThat(e.getMessage()).contains("technique 'explode' is offered by two plugins")
                            .contains("'explode' 1.0.0").contains("'explode-copy' 1.0.1").contains("remove one of them");
                });
    }

    @Test
    void aPluginThatCannotLoadIsReportedAndTheOthersWork(@TempDir Path folder) throws Exception {
        TestPlugins.build("slow", "slow", "1.0.0", ">=0.1.0", folder.resolve("slow-plugin-1.0.0.jar"));
        TestPlugins.build("explode", "future", "2.0.0", ">=99.0.0", folder.resolve("future-plugin-2.0.0.jar"));
        Files.writeString(folder.resolve("corrupt-plugin.jar"), "not a jar");
        try (PluginHost host = PluginHost.load(folder)) {
            assertThat(host.techniques()).containsOnlyKeys("slow");
            assertThat(host.problems()).hasSize(2);
            assertThat(host.problems()).anySatisfy(problem -> {
                assertThat(problem.pluginId()).isEqualTo("future");
                assertThat(problem.pluginVersion()).isEqualTo("2.0.0");
                assertThat(problem.message()).contains("requires SDK >=99.0.0");
            });
        }
    }

    @Test
    void withAnAllowListOnlyTheArchivesItHashesLoad(@TempDir Path folder) throws Exception {
        Path slow = TestPlugins.build("slow", "slow", "1.0.0", ">=0.1.0", folder.resolve("slow-plugin-1.0.0.jar"));
        Path explode = TestPlugins.build("explode", "explode", "1.0.0", ">=0.1.0", folder.resolve("explode-plugin-1.0.0.jar"));
        String slowHash = EndToEndIT.sha256(Files.readAllBytes(slow));
        String explodeHash = EndToEndIT.sha256(Files.readAllBytes(explode));
        Files.writeString(folder.resolve("plugins.lock"), "# checked by the operator\n" + slowHash + "  slow-plugin-1.0.0.jar\n");
        try (PluginHost host = PluginHost.load(folder)) {
            assertThat(host.techniques()).containsOnlyKeys("slow");
            assertThat(host.problems()).singleElement().satisfies(problem -> {
                assertThat(problem.pluginId()).isEqualTo("explode");
                assertThat(problem.message()).contains("not on the allow-list").contains("plugins.lock").contains(explodeHash);
            });
        }

        // the same file name with other bytes (a modified archive) is refused as well
        TestPlugins.build("slow", "slow", "1.0.1", ">=0.1.0", slow);
        try (PluginHost host = PluginHost.load(folder)) {
            assertThat(host.techniques()).isEmpty();
            assertThat(host.problems()).anySatisfy(problem -> {
                assertThat(problem.pluginId()).isEqualTo("slow");
                assertThat(problem.message()).contains("not on the allow-list");
            });
        }

        Files.writeString(folder.resolve("plugins.lock"), slowHash + "  slow\nnot-a-hash explode\n");
        assertThatThrownBy(() -> PluginHost.load(folder)).isInstanceOfSatisfying(CondenseException.class, e -> {
            assertThat(e.code()).isEqualTo(ErrorCode.PLUGIN_FAILURE);
            assertThat(e.getMessage()).contains("plugins.lock has errors").contains("line 2");
        });
    }
}
