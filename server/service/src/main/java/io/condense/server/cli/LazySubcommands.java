package io.condense.server.cli;

import static java.util.Objects.requireNonNull;

import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import picocli.CommandLine;

/**
 * A command's subcommands, each built only when it is the one being run. Picocli builds its model of a command by
 * reflection over every annotated field, interpolating every description; building all fifteen commands took about 40%
 * of the Java time of a {@code compress --server} run (JFR samples, issue 20), though a run uses one. So a command line
 * holds only the subcommand its first argument names, and all of them when that argument names none: {@code --help},
 * no argument, {@code help NAME}, or a typo picocli then answers with the nearest names.
 */
public final class LazySubcommands {
    private final Map<String, Function<String[], Object>> commands;

    private LazySubcommands(Map<String, Function<String[], Object>> commands) {
        this.commands = commands;
    }

    public static Builder builder() {
        return new Builder();
    }

    /** The names, in the order the usage lists them. */
    public List<String> names() {
        return List.copyOf(commands.keySet());
    }

    /**
     * Adds to {@code parent} the subcommand named by {@code arguments[0]}, given the arguments after it, or every
     * subcommand when the first argument names none (or names {@code help}, which needs the others to describe them).
     */
    public CommandLine addTo(CommandLine parent, String... arguments) {
        requireNonNull(parent, "parent is null");
        requireNonNull(arguments, "arguments is null");
        String first = arguments.length == 0 ? "" : arguments[0];
        if (commands.containsKey(first) && !"help".equals(first)) {
            parent.addSubcommand(first, commands.get(first).apply(Arrays.copyOfRange(arguments, 1, arguments.length)));
        } else {
            commands.forEach((name, command) -> parent.addSubcommand(name, command.apply(new String[0])));
        }
        return parent;
    }

    public static final class Builder {
        private final Map<String, Function<String[], Object>> commands = new LinkedHashMap<>();

        private Builder() {
        }

        /** A subcommand: an annotated command object (or a {@link CommandLine} with its own subcommands) built from the arguments after its name. */
        public Builder add(String name, Function<String[], Object> command) {
            requireNonNull(name, "name is null");
            requireNonNull(command, "command is null");
            if (commands.putIfAbsent(name, command) != null) {
                throw new IllegalArgumentException("subcommand " + name + " is added twice");
            }
            return this;
        }

        public LazySubcommands build() {
            return new LazySubcommands(new LinkedHashMap<>(commands));
        }
    }
}
