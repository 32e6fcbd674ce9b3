package io.condense.server.cli;

import io.condense.proto.v1.ListTechniquesResponse;
import io.condense.proto.v1.ParameterInfo;
import io.condense.proto.v1.PluginProblem;
import io.condense.proto.v1.TechniqueInfo;
import io.condense.sdk.technique.ParameterSpec;
import io.condense.server.plugin.LoadedTechnique;
import io.condense.server.plugin.PluginHost;
import io.grpc.StatusRuntimeException;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code condense techniques}: what the plugins offer. */
@Command(name = "techniques", mixinStandardHelpOptions = true,
        description = "Lists the techniques with their parameters: those of a server, or of the local plugins folder.")
final class TechniquesCommand implements Callable<Integer> {

    @Option(names = "--server", paramLabel = "HOST:PORT", description = "Ask this server.")
    String server;

    @picocli.CommandLine.Mixin
    ClientSecurityOptions clientSecurity = new ClientSecurityOptions();

    @Option(names = "--plugins", paramLabel = "DIR", description = "Plugins folder to read without a server (default: the repository's build/plugins).")
    Path plugins;

    @Override
    public Integer call() {
        ListTechniquesResponse response;
        if (server != null) {
            try (CondenseClient client = new CondenseClient(server, clientSecurity.security())) {
                response = client.techniques();
            } catch (StatusRuntimeException e) {
                System.err.println("condense: " + server + " answered " + e.getStatus().getCode() + ": " + e.getStatus().getDescription());
                return 1;
            } catch (IllegalArgumentException e) {
                System.err.println("condense: " + e.getMessage());
                return 2;
            }
        } else {
            try (PluginHost host = PluginHost.load(plugins == null ? DefaultLocations.pluginsFolder() : plugins)) {
                response = describe(host);
            } catch (io.condense.sdk.error.CondenseException e) {
                System.err.println("condense: " + e.getMessage());
                return 1;
            }
        }
        print(response, System.out);
        return 0;
    }

    static ListTechniquesResponse describe(PluginHost host) {
        ListTechniquesResponse.Builder response = ListTechniquesResponse.newBuilder();
        for (LoadedTechnique technique : host.techniques().values()) {
            TechniqueInfo.Builder info = TechniqueInfo.newBuilder().setId(technique.id()).setVersion(technique.descriptor().version())
                    .setSummary(technique.descriptor().summary()).setFamily(technique.descriptor().family())
                    .setPluginId(technique.pluginId()).setPluginVersion(technique.pluginVersion());
            for (ParameterSpec spec : technique.descriptor().parameters()) {
                info.addParameters(ParameterInfo.newBuilder().setName(spec.name()).setType(spec.type().name())
                        .setDefaultValue(spec.defaultValue() == null ? "" : spec.defaultValue()).setRequired(spec.required())
                        .setRange(spec.range() == null ? "" : spec.range().toString()).addAllChoices(spec.choices())
                        .setDocumentation(spec.documentation()).setRule(spec.rule()));
            }
            response.addTechniques(info);
        }
        host.problems().forEach(problem -> response.addPluginProblems(PluginProblem.newBuilder().setPluginId(problem.pluginId())
                .setPluginVersion(problem.pluginVersion()).setPath(problem.path().toString()).setMessage(problem.message())));
        return response.build();
    }

    static void print(ListTechniquesResponse response, PrintStream out) {
        if (response.getTechniquesCount() == 0) {
            out.println("No techniques are loaded.");
        }
        for (TechniqueInfo technique : response.getTechniquesList()) {
            out.printf("%s %s  (%s; plugin %s %s)%n  %s%n", technique.getId(), technique.getVersion(), technique.getFamily(),
                    technique.getPluginId(), technique.getPluginVersion(), technique.getSummary());
            for (ParameterInfo parameter : technique.getParametersList()) {
                out.printf("    %-18s %-11s %-14s %s. %s%n", parameter.getName(), parameter.getType().toLowerCase(java.util.Locale.ROOT),
                        parameter.getRequired() ? "(required)" : "= " + parameter.getDefaultValue(), capitalize(parameter.getRule()),
                        parameter.getDocumentation());
            }
            out.println();
        }
        for (PluginProblem problem : response.getPluginProblemsList()) {
            out.printf("Not loaded: plugin '%s' %s (%s): %s%n", problem.getPluginId(), problem.getPluginVersion(), problem.getPath(), problem.getMessage());
        }
    }

    private static String capitalize(String text) {
        return text.isEmpty() ? text : Character.toUpperCase(text.charAt(0)) + text.substring(1);
    }
}
