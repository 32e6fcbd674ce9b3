package io.condense.server.security;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.condense.sdk.error.CondenseException;
import io.condense.sdk.error.ErrorCode;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The tokens file holds hashes, never tokens; a malformed file stops the start with every bad line named. */
class TokenAuthenticatorTest {
    @TempDir
    Path folder;

    @Test
    void theHashIsTheSha256OfTheTokensUtf8Bytes() {
        // printf %s test | sha256sum
        assertThat(TokenAuthenticator.hash("test")).isEqualTo("9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08");
    }

    @Test
    void everyMalformedLineIsReportedAtOnce() throws Exception {
        Path file = folder.resolve("tokens");
        Files.writeString(file, "# team tokens\n"
                + "sha256:" + TokenAuthenticator.hash("a") + " team-a\n"
                + "plain-token team-b\n"
                + "sha256:" + TokenAuthenticator.hash("a") + " team-c\n"
                + "sha256:" + TokenAuthenticator.hash("d") + " bad/tenant\n");
        assertThatThrownBy(() -> TokenAuthenticator.load(file)).isInstanceOfSatisfying(CondenseException.class, e -> {
            assertThat(e.code()).isEqualTo(ErrorCode.INVALID_PARAMETER);
            assertThat(e.getMessage()).contains("line 3: expected").contains("line 4: the same token is listed twice").contains("line 5: expected")
                    .doesNotContain("line 2");
        });
        Files.writeString(file, "# nobody\n");
        assertThatThrownBy(() -> TokenAuthenticator.load(file)).hasMessageContaining("lists no token");
        assertThatThrownBy(() -> TokenAuthenticator.load(folder.resolve("missing"))).hasMessageContaining("cannot read the tokens file");
    }

    @Test
    void limitsFollowTheTenantAndEveryBadOneIsNamed() throws Exception {
        Path file = folder.resolve("limited");
        Files.writeString(file, "sha256:" + TokenAuthenticator.hash("a") + " team-a jobs=20 stored=50GiB\n"
                + "sha256:" + TokenAuthenticator.hash("b") + " team-a jobs=20 stored=50GiB\n"
                + "sha256:" + TokenAuthenticator.hash("c") + " team-c\n");
        TokenAuthenticator.load(file);
        assertThat(TenantLimits.parse(new String[] {"jobs=20", "stored=50GiB"})).isEqualTo(new TenantLimits(20, 50L << 30));
        assertThat(TenantLimits.parse(new String[] {"stored=4096"})).isEqualTo(new TenantLimits(Long.MAX_VALUE, 4096));
        assertThat(TenantLimits.parse(new String[0])).isEqualTo(TenantLimits.UNLIMITED);
        assertThat(TenantLimits.parse(new String[] {"blob=2GiB", "jobs=3"})).isEqualTo(new TenantLimits(3, Long.MAX_VALUE, 2L << 30));

        Files.writeString(file, "sha256:" + TokenAuthenticator.hash("a") + " team-a jobs=20\n"
                + "sha256:" + TokenAuthenticator.hash("b") + " team-a jobs=5\n"
                + "sha256:" + TokenAuthenticator.hash("c") + " team-c jobs=0\n"
                + "sha256:" + TokenAuthenticator.hash("d") + " team-d stored=5GB\n"
                + "sha256:" + TokenAuthenticator.hash("e") + " team-e quota=1\n");
        assertThatThrownBy(() -> TokenAuthenticator.load(file)).isInstanceOfSatisfying(CondenseException.class, e -> assertThat(e.getMessage())
                .contains("line 2: tenant team-a has other limits").contains("line 3: 'jobs=0' is not a limit")
                .contains("line 4: 'stored=5GB' is not a limit").contains("KiB, MiB, GiB or TiB")
                .contains("line 5: unknown limit 'quota=1'").doesNotContain("line 1"));
    }
}
