package io.condense.server.blob;

import io.condense.sdk.error.CondenseException;
import io.condense.sdk.error.ErrorCode;
import java.net.URI;
import java.util.Optional;

/**
 * Where an S3 blob store lives: {@code s3://bucket/prefix} and how to reach it. The endpoint defaults to the standard
 * AWS variables ({@code AWS_ENDPOINT_URL_S3}, then {@code AWS_ENDPOINT_URL}); with an endpoint (an S3-compatible server)
 * requests are path-style. The region defaults to the SDK's chain ({@code AWS_REGION}, the profile), credentials always
 * come from the SDK's default chain ({@code AWS_ACCESS_KEY_ID} / {@code AWS_SECRET_ACCESS_KEY}, the profile, a role).
 */
public record S3Location(String bucket, String prefix, Optional<URI> endpoint, Optional<String> region) {

    /** Parses {@code s3://bucket[/prefix]}; the endpoint and region as given, else from the environment. */
    public static S3Location parse(String url, Optional<String> endpoint, Optional<String> region) {
        if (!url.startsWith("s3://") || url.length() == "s3://".length()) {
            throw new CondenseException(ErrorCode.INVALID_PARAMETER, "--blob-store '" + url + "' is not s3://BUCKET[/PREFIX]");
        }
        String rest = url.substring("s3://".length());
        int slash = rest.indexOf('/');
        String bucket = slash < 0 ? rest : rest.substring(0, slash);
        String prefix = slash < 0 ? "" : rest.substring(slash + 1).replaceAll("/+$", "");
        if (!bucket.matches("[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")) {
            throw new CondenseException(ErrorCode.INVALID_PARAMETER, "--blob-store '" + url + "': '" + bucket
                    + "' is not an S3 bucket name (3-63 lower-case letters, digits, '.' and '-')");
        }
        Optional<String> endpointUrl = endpoint.or(() -> env("AWS_ENDPOINT_URL_S3")).or(() -> env("AWS_ENDPOINT_URL"));
        Optional<URI> uri;
        try {
            uri = endpointUrl.map(URI::create);
        } catch (IllegalArgumentException e) {
            throw new CondenseException(ErrorCode.INVALID_PARAMETER, "the S3 endpoint '" + endpointUrl.get() + "' is not a URL: " + e.getMessage(), e);
        }
        return new S3Location(bucket, prefix, uri, region);
    }

    private static Optional<String> env(String name) {
        return Optional.ofNullable(System.getenv(name)).filter(value -> !value.isBlank());
    }

    /** The key of a name under the prefix. */
    String key(String name) {
        return prefix.isEmpty() ? name : prefix + "/" + name;
    }

    @Override
    public String toString() {
        return "s3://" + bucket + (prefix.isEmpty() ? "" : "/" + prefix) + endpoint.map(uri -> " at " + uri).orElse("");
    }
}
