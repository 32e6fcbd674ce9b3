package io.condense.server.security;

import io.grpc.Context;

/** The tenant a call was authenticated as, for the length of the call; "" when the server runs without tokens. */
public final class Tenants {
    /** Set by {@link TokenAuthenticator} on every authenticated call. */
    public static final Context.Key<String> TENANT = Context.key("condense-tenant");
    /** The tenant's limits from the tokens file, set with {@link #TENANT}. */
    public static final Context.Key<TenantLimits> LIMITS = Context.key("condense-tenant-limits");

    private Tenants() {
    }

    /** The caller's tenant, or "" without authentication (one shared tenant). */
    public static String current() {
        String tenant = TENANT.get();
        return tenant == null ? "" : tenant;
    }

    /** The caller's limits; none without authentication or when the tokens file gives none. */
    public static TenantLimits limits() {
        TenantLimits limits = LIMITS.get();
        return limits == null ? TenantLimits.UNLIMITED : limits;
    }
}
