package io.condense.server.security;

import static java.util.Objects.requireNonNull;

import io.condense.sdk.error.CondenseException;
import io.condense.sdk.error.ErrorCode;
import io.grpc.Context;
import io.grpc.Contexts;
import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.Status;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;

/**
 * Bearer-token authentication of every call to the Condense API: the {@code authorization: Bearer TOKEN} header is
 * hashed (SHA-256) and looked up in the tokens file, which holds hashes only, each with the tenant it stands for.
 * A call without a known token is refused UNAUTHENTICATED before it reaches the service; an authenticated call
 * carries its tenant in the gRPC context ({@link Tenants}).
 *
 * <p>The file, one token a line ({@code #} starts a comment): {@code sha256:<64 hex digits> <tenant> [jobs=N] [stored=SIZE]},
 * the hash being that of the token's UTF-8 bytes ({@code printf %s "$TOKEN" | sha256sum}). A tenant name is 1 to 64
 * letters, digits, '.', '_' or '-', starting with a letter or digit. The optional {@link TenantLimits} hold for the
 * tenant; several tokens of one tenant must not give it different limits.
 */
public final class TokenAuthenticator implements ServerInterceptor {
    public static final Metadata.Key<String> AUTHORIZATION = Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER);
    private static final String BEARER = "Bearer ";

    private final Map<String, String> tenantsByHash;
    private final Map<String, TenantLimits> limitsByTenant;

    TokenAuthenticator(Map<String, String> tenantsByHash, Map<String, TenantLimits> limitsByTenant) {
        this.tenantsByHash = Map.copyOf(requireNonNull(tenantsByHash, "tenantsByHash is null"));
        this.limitsByTenant = Map.copyOf(requireNonNull(limitsByTenant, "limitsByTenant is null"));
    }

    /** Reads a tokens file; every malformed line is reported at once, with its number. */
    public static TokenAuthenticator load(Path file) {
        List<String> lines;
        try {
            lines = Files.readAllLines(file, StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new CondenseException(ErrorCode.INVALID_PARAMETER, "cannot read the tokens file " + file + ": " + e.getMessage(), e);
        }
        Map<String, String> tenants = new HashMap<>();
        Map<String, TenantLimits> limits = new HashMap<>();
        StringBuilder problems = new StringBuilder();
        for (int i = 0; i < lines.size(); i++) {
            String line = lines.get(i).strip();
            if (line.isEmpty() || line.startsWith("#")) {
                continue;
            }
            String[] fields = line.split("\\s+");
            if (fields.length < 2 || !fields[0].matches("sha256:[0-9a-fA-F]{64}") || !fields[1].matches("[A-Za-z0-9][A-Za-z0-9._-]{0,63}")) {
                problems.append("\n  line ").append(i + 1).append(": expected 'sha256:<64 hex digits> <tenant> [jobs=N] [stored=SIZE]'");
                continue;
            }
            TenantLimits tenantLimits;
            try {
                tenantLimits = TenantLimits.parse(java.util.Arrays.copyOfRange(fields, 2, fields.length));
            } catch (CondenseException e) {
                problems.append("\n  line ").append(i + 1).append(": ").append(e.getMessage());
                continue;
            }
            String hash = fields[0].substring("sha256:".length()).toLowerCase(java.util.Locale.ROOT);
            if (tenants.putIfAbsent(hash, fields[1]) != null) {
                problems.append("\n  line ").append(i + 1).append(": the same token is listed twice");
            }
            TenantLimits earlier = limits.putIfAbsent(fields[1], tenantLimits);
            if (earlier != null && !earlier.equals(tenantLimits)) {
                problems.append("\n  line ").append(i + 1).append(": tenant ").append(fields[1])
                        .append(" has other limits on an earlier line; give every token of a tenant the same limits");
            }
        }
        if (problems.length() > 0) {
            throw new CondenseException(ErrorCode.INVALID_PARAMETER, "the tokens file " + file + " has errors:" + problems);
        }
        if (tenants.isEmpty()) {
            throw new CondenseException(ErrorCode.INVALID_PARAMETER, "the tokens file " + file + " lists no token: every call would "
                    + "be refused");
        }
        return new TokenAuthenticator(tenants, limits);
    }

    /** The hash a tokens file lists for a token. */
    public static String hash(String token) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(token.getBytes(StandardCharsets.UTF_8)));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is missing from this JVM", e);
        }
    }

    @Override
    public <Q, R> ServerCall.Listener<Q> interceptCall(ServerCall<Q, R> call, Metadata headers, ServerCallHandler<Q, R> next) {
        String authorization = headers.get(AUTHORIZATION);
        String tenant = null;
        if (authorization != null && authorization.regionMatches(true, 0, BEARER, 0, BEARER.length())) {
            tenant = tenantsByHash.get(hash(authorization.substring(BEARER.length()).strip()));
        }
        if (tenant == null) {
            call.close(Status.UNAUTHENTICATED.withDescription("UNAUTHENTICATED: " + (authorization == null
                    ? "this server needs a bearer token (the command line's --token or CONDENSE_TOKEN)"
                    : "the bearer token is not known to this server")), new Metadata());
            return new ServerCall.Listener<>() {
            };
        }
        return Contexts.interceptCall(Context.current().withValue(Tenants.TENANT, tenant)
                .withValue(Tenants.LIMITS, limitsByTenant.getOrDefault(tenant, TenantLimits.UNLIMITED)), call, headers, next);
    }
}
