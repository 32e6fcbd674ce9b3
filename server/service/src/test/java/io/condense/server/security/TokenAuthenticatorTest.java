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
}
