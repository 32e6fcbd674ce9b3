package io.condense.server.job;

import io.condense.proto.v1.events.BusEvent;
import io.condense.proto.v1.events.JobSpec;
import io.condense.server.bus.EventListener;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Which job a client request id names, decided alike by every reader of the events topic (the job view of each API
 * instance, the intake of each worker): the first {@code JobSubmitted} of a (tenant, client request id) in the topic's
 * order is the job. The topic has one partition and is read committed, so every reader sees the same order, and a
 * {@code JobSubmitted} becomes readable only once every transaction written before it has ended: when a reader sees a
 * job, it has seen every job that can come before it.
 *
 * <p>A later {@code JobSubmitted} of the same tenant and request id is written when a Submit whose commit timed out
 * (the broker away) is retried while its transaction is still open: the retry's dedupe cannot see the first job yet.
 * Such a {@link Kind#DUPLICATE} of the same request never runs, and its id answers as the first job; one with another
 * request ({@link Kind#CONFLICT}) never runs either and fails {@code ALREADY_EXISTS}, as Submit would have answered
 * had it seen the first.
 */
public final class Submissions implements EventListener {
    /** The first job of a client request id, and the request as it was submitted (see {@link #requestOf}). */
    public record ClientRequest(String jobId, JobSpec request) {
    }

    public enum Kind {
        /** The job of its request id (or a job without one). */
        FIRST,
        /** A later job of the same request: not run, answers as {@link Verdict#firstJobId}. */
        DUPLICATE,
        /** A later job of the same request id with another request: not run, failed ALREADY_EXISTS. */
        CONFLICT
    }

    /** What a job is; {@code firstJobId} is the job of its request id (itself when FIRST). */
    public record Verdict(Kind kind, String firstJobId) {
    }

    private final Map<String, ClientRequest> firstByRequest = new ConcurrentHashMap<>();
    /** The verdicts of the jobs submitted with a client request id (jobs without one are always FIRST and not kept). */
    private final Map<String, Verdict> verdicts = new ConcurrentHashMap<>();

    @Override
    public void onEvent(BusEvent event, boolean live) {
        if (event.hasJobSubmitted()) {
            record(event.getJobId(), event.getJobSubmitted().getSpec());
        }
    }

    /** Records a {@code JobSubmitted} read from the events topic, in the topic's order; the same job again keeps its verdict. */
    public synchronized Verdict record(String jobId, JobSpec spec) {
        if (spec.getClientRequestId().isEmpty()) {
            return new Verdict(Kind.FIRST, jobId);
        }
        Verdict known = verdicts.get(jobId);
        if (known != null) {
            return known;
        }
        ClientRequest first = firstByRequest.putIfAbsent(key(spec.getTenant(), spec.getClientRequestId()), new ClientRequest(jobId, requestOf(spec)));
        Verdict verdict;
        if (first == null) {
            verdict = new Verdict(Kind.FIRST, jobId);
        } else if (first.request().equals(requestOf(spec))) {
            verdict = new Verdict(Kind.DUPLICATE, first.jobId());
        } else {
            verdict = new Verdict(Kind.CONFLICT, first.jobId());
        }
        verdicts.put(jobId, verdict);
        // a worker may be waiting for this job's verdict (awaitVerdict)
        notifyAll();
        return verdict;
    }

    /**
     * The verdict of a job submitted with a client request id, waiting up to {@code timeout} for the events reader to
     * read its {@code JobSubmitted}: a worker that reads the job's first step is usually a moment ahead of the reader,
     * which reads the same transaction.
     */
    public synchronized Optional<Verdict> awaitVerdict(String jobId, java.time.Duration timeout) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        Verdict verdict;
        while ((verdict = verdicts.get(jobId)) == null) {
            long left = deadline - System.nanoTime();
            if (left <= 0) {
                return Optional.empty();
            }
            java.util.concurrent.TimeUnit.NANOSECONDS.timedWait(this, left);
        }
        return Optional.of(verdict);
    }

    /** The verdict of a job submitted with a client request id, once its {@code JobSubmitted} has been read. */
    public Optional<Verdict> verdict(String jobId) {
        return Optional.ofNullable(verdicts.get(jobId));
    }

    /** The first job of a tenant's client request id, as read from the topic so far. */
    public Optional<ClientRequest> first(String tenant, String clientRequestId) {
        return Optional.ofNullable(firstByRequest.get(key(tenant, clientRequestId)));
    }

    static String key(String tenant, String clientRequestId) {
        return tenant + "\u0000" + clientRequestId;
    }

    /** What a client asked for in a job spec: the spec without the fields the server stamps (time, request id, tenant). */
    public static JobSpec requestOf(JobSpec spec) {
        return spec.toBuilder().clearSubmittedAtMs().clearClientRequestId().clearTenant().build();
    }

    /** Why a client request id cannot name a new request: what Submit and the job view of a CONFLICT say. */
    public static String reusedRequestId(String clientRequestId, String firstJobId) {
        return "client_request_id '" + clientRequestId + "' already names job " + firstJobId + ", submitted with a different model, "
                + "pipeline or data; a retry must send the same request, and a new request needs a new client_request_id (--request-id)";
    }
}
