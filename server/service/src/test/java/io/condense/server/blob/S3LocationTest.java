package io.condense.server.blob;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.condense.sdk.error.CondenseException;
import java.net.URI;
import java.util.Optional;
import org.junit.jupiter.api.Test;

/** {@code --blob-store s3://bucket/prefix}: what it names, and a clear refusal of what is not a bucket. */
class S3LocationTest {

    @Test
    void readsTheBucketThePrefixAndTheEndpoint() {
        S3Location location = S3Location.parse("s3://condense-blobs/team-a/models/", Optional.of("http://127.0.0.1:9000"), Optional.of("eu-west-1"));
        assertThat(location.bucket()).isEqualTo("condense-blobs");
        assertThat(location.prefix()).isEqualTo("team-a/models");
        assertThat(location.key("blobs/x")).isEqualTo("team-a/models/blobs/x");
        assertThat(location.endpoint()).contains(URI.create("http://127.0.0.1:9000"));
        assertThat(location.region()).contains("eu-west-1");
        assertThat(S3Location.parse("s3://condense-blobs", Optional.of("http://h:1"), Optional.empty()).key("blobs/x")).isEqualTo("blobs/x");
    }

    @Test
    void refusesWhatIsNotABucket() {
        assertThatThrownBy(() -> S3Location.parse("/var/lib/condense", Optional.empty(), Optional.empty()))
                .isInstanceOf(CondenseException.class).hasMessageContaining("s3://BUCKET[/PREFIX]");
        assertThatThrownBy(() -> S3Location.parse("s3://My_Bucket/x", Optional.empty(), Optional.empty()))
                .isInstanceOf(CondenseException.class).hasMessageContaining("not an S3 bucket name");
    }
}
