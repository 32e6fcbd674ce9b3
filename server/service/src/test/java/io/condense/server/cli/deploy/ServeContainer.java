package io.condense.server.cli.deploy;

import static java.util.Objects.requireNonNull;

import java.util.List;
import java.util.Set;
import java.util.function.IntFunction;

/**
 * One container (a Kubernetes container, a compose service, the image's default command) that runs
 * {@code condense serve}, with what its manifest gives it: arguments, workload, mounts, probes, resources.
 *
 * @param where names a line of the manifest ({@code deploy/kubernetes/condense.yaml:42})
 * @param arguments the arguments after {@code serve}, each with its line
 */
record ServeContainer(String name, int line, IntFunction<String> where, List<Argument> arguments, Workload workload, List<Mount> mounts,
        List<Probe> probes, boolean resourcesSet) {

    ServeContainer {
        requireNonNull(name, "name is null");
        requireNonNull(where, "where is null");
        arguments = List.copyOf(arguments);
        requireNonNull(workload, "workload is null");
        mounts = List.copyOf(mounts);
        probes = List.copyOf(probes);
    }

    record Argument(String value, int line) {
    }

    /**
     * What runs the container.
     *
     * @param kind Deployment, StatefulSet, compose service, image
     * @param orchestrated whether an orchestrator runs it (probes, resources and restarts are then owed)
     * @param requiredProbes the probes it must have (readinessProbe, livenessProbe; compose: healthcheck)
     */
    record Workload(String kind, String name, int replicas, boolean orchestrated, boolean restartsOnExit, List<String> requiredProbes) {
    }

    /**
     * A volume mounted at {@code path}.
     *
     * @param files the only files it holds (a Secret's items), empty when any file may be there
     */
    record Mount(String path, String source, boolean secret, Set<String> files) {
    }

    /**
     * A health probe.
     *
     * @param purpose readinessProbe, livenessProbe, startupProbe, healthcheck
     * @param type grpc, http or what else it is (tcpSocket, exec)
     * @param port the port number it probes, or what the manifest wrote when it is not one
     */
    record Probe(String purpose, String type, String port, String path, int line) {
    }

    String at(int manifestLine) {
        return where.apply(manifestLine) + ": " + workload.kind() + " " + workload.name() + ", container " + name;
    }
}
