package io.condense.server.cli;

import static java.util.Objects.requireNonNull;

import io.condense.proto.v1.PipelineStep;
import io.condense.sdk.error.CondenseException;
import io.condense.sdk.error.ErrorCode;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Parses a pipeline: {@code name(key=value, ...) | name(...) | name}. Values are bare text (up to the
 * next ',' or ')') or quoted with '"' or '\'' when they hold those characters, for example
 * {@code prune(skip="conv1,fc*")}. A syntax error names the character and shows the pipeline with a caret under it.
 */
public final class PipelineParser {
    private final String text;
    private int position;

    private PipelineParser(String text) {
        this.text = text;
    }

    public static List<PipelineStep> parse(String pipeline) {
        requireNonNull(pipeline, "pipeline is null");
        return new PipelineParser(pipeline).pipeline();
    }

    private List<PipelineStep> pipeline() {
        List<PipelineStep> steps = new ArrayList<>();
        skipSpaces();
        if (atEnd()) {
            throw error("the pipeline is empty; expected a technique name, for example prune(sparsity=0.5)");
        }
        steps.add(step());
        skipSpaces();
        while (!atEnd()) {
            expect('|', "expected '|' between steps");
            skipSpaces();
            steps.add(step());
            skipSpaces();
        }
        return steps;
    }

    private PipelineStep step() {
        String name = identifier("expected a technique name");
        PipelineStep.Builder step = PipelineStep.newBuilder().setTechnique(name);
        skipSpaces();
        if (!atEnd() && peek() == '(') {
            position++;
            skipSpaces();
            Map<String, String> parameters = new LinkedHashMap<>();
            if (!atEnd() && peek() == ')') {
                position++;
                return step.build();
            }
            while (true) {
                skipSpaces();
                int keyStart = position;
                String key = identifier("expected a parameter name");
                skipSpaces();
                expect('=', "expected '=' after parameter name '" + key + "'");
                skipSpaces();
                String value = value(key);
                if (parameters.put(key, value) != null) {
                    position = keyStart;
                    throw error("parameter '" + key + "' is given twice in step " + name);
                }
                skipSpaces();
                if (atEnd()) {
                    throw error("expected ',' or ')' to close the parameters of " + name);
                }
                char c = peek();
                position++;
                if (c == ')') {
                    break;
                }
                if (c != ',') {
                    position--;
                    throw error("expected ',' or ')' after the value of '" + key + "'");
                }
            }
            step.putAllParameters(parameters);
        }
        return step.build();
    }

    private String identifier(String expectation) {
        int start = position;
        if (atEnd() || !(Character.isLetter(peek()) || peek() == '_')) {
            throw error(expectation + (atEnd() ? " but the pipeline ends" : " but found '" + peek() + "'"));
        }
        while (!atEnd() && (Character.isLetterOrDigit(peek()) || peek() == '_' || peek() == '.' || peek() == '-')) {
            position++;
        }
        return text.substring(start, position);
    }

    private String value(String key) {
        if (atEnd()) {
            throw error("expected a value for '" + key + "' but the pipeline ends");
        }
        char c = peek();
        if (c == '"' || c == '\'') {
            int open = position;
            position++;
            StringBuilder value = new StringBuilder();
            while (true) {
                if (atEnd()) {
                    position = open;
                    throw error("this quote is never closed");
                }
                char next = text.charAt(position++);
                if (next == c) {
                    return value.toString();
                }
                if (next == '\\' && !atEnd()) {
                    next = text.charAt(position++);
                }
                value.append(next);
            }
        }
        int start = position;
        while (!atEnd() && peek() != ',' && peek() != ')' && peek() != '(' && peek() != '|') {
            position++;
        }
        String value = text.substring(start, position).trim();
        if (value.isEmpty()) {
            throw error("expected a value for '" + key + "'");
        }
        return value;
    }

    private void expect(char expected, String message) {
        if (atEnd() || peek() != expected) {
            throw error(message + (atEnd() ? " but the pipeline ends" : " but found '" + peek() + "'"));
        }
        position++;
    }

    private void skipSpaces() {
        while (!atEnd() && Character.isWhitespace(peek())) {
            position++;
        }
    }

    private boolean atEnd() {
        return position >= text.length();
    }

    private char peek() {
        return text.charAt(position);
    }

    private CondenseException error(String message) {
        return new CondenseException(ErrorCode.INVALID_PIPELINE, "pipeline syntax error at character " + (position + 1) + ": " + message
                + "\n  " + text + "\n  " + " ".repeat(Math.min(position, text.length())) + "^");
    }
}
