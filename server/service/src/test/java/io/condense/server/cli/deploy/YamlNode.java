package io.condense.server.cli.deploy;

import java.io.StringReader;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.yaml.snakeyaml.LoaderOptions;
import org.yaml.snakeyaml.Yaml;
import org.yaml.snakeyaml.nodes.MappingNode;
import org.yaml.snakeyaml.nodes.Node;
import org.yaml.snakeyaml.nodes.NodeTuple;
import org.yaml.snakeyaml.nodes.ScalarNode;
import org.yaml.snakeyaml.nodes.SequenceNode;

/**
 * A node of a YAML document as SnakeYAML composes it, kept as a node (not loaded into maps) so that every value still
 * knows its line: a problem in a manifest is reported with the line to fix.
 */
record YamlNode(Node node) {

    /** Every non-empty document of a YAML stream ({@code ---} separated). */
    static List<YamlNode> documents(String text) {
        List<YamlNode> documents = new ArrayList<>();
        for (Node node : new Yaml(new LoaderOptions()).composeAll(new StringReader(text))) {
            if (node != null) {
                documents.add(new YamlNode(node));
            }
        }
        return documents;
    }

    /** 1-based line of the node in its stream. */
    int line() {
        return node.getStartMark().getLine() + 1;
    }

    Optional<YamlNode> get(String key) {
        return Optional.ofNullable(entries().get(key));
    }

    /** Follows keys through nested mappings: {@code at("spec", "template", "spec")}. */
    Optional<YamlNode> at(String... keys) {
        Optional<YamlNode> current = Optional.of(this);
        for (String key : keys) {
            current = current.flatMap(found -> found.get(key));
        }
        return current;
    }

    String text(String key) {
        return get(key).map(YamlNode::text).orElse(null);
    }

    /** The value of a scalar, or null for a mapping or a sequence. */
    String text() {
        return node instanceof ScalarNode scalar ? scalar.getValue() : null;
    }

    /** The entries of a mapping, with those of merged mappings ({@code <<: *anchor}) that it does not set itself. */
    Map<String, YamlNode> entries() {
        Map<String, YamlNode> entries = new LinkedHashMap<>();
        if (node instanceof MappingNode mapping) {
            for (NodeTuple tuple : mapping.getValue()) {
                if (tuple.getKeyNode() instanceof ScalarNode key && key.getValue().equals("<<")) {
                    YamlNode merged = new YamlNode(tuple.getValueNode());
                    List<YamlNode> sources = merged.node instanceof SequenceNode ? merged.items() : List.of(merged);
                    sources.forEach(source -> source.entries().forEach(entries::putIfAbsent));
                }
            }
            for (NodeTuple tuple : mapping.getValue()) {
                if (tuple.getKeyNode() instanceof ScalarNode key && !key.getValue().equals("<<")) {
                    entries.put(key.getValue(), new YamlNode(tuple.getValueNode()));
                }
            }
        }
        return entries;
    }

    List<YamlNode> items() {
        return node instanceof SequenceNode sequence ? sequence.getValue().stream().map(YamlNode::new).toList() : List.of();
    }

    List<YamlNode> items(String key) {
        return get(key).map(YamlNode::items).orElse(List.of());
    }
}
