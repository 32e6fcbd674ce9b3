package io.condense.server.platform;

/** What one server process runs. */
public enum Role {
    /** The API and a worker for every technique (the default). */
    ALL,
    /** The gRPC API only: validation, job view, downloads. */
    API,
    /** Step consumers only. */
    WORKER;

    public boolean runsApi() {
        return this == ALL || this == API;
    }

    public boolean runsWorker() {
        return this == ALL || this == WORKER;
    }
}
