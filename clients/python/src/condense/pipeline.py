"""The pipeline syntax of the condense command: ``name(key=value, ...) | name``; quote values holding ``,`` or ``)``."""
import re

_TOKEN = re.compile(r'\s*(?:(?P<name>[A-Za-z_][A-Za-z0-9_.-]*)|(?P<quoted>"(?:[^"\\]|\\.)*")|(?P<symbol>[()|=,]))')


def parse_pipeline(text):
    """The steps of a pipeline as [(technique, {parameter: value as text})]; ValueError saying where it is wrong."""
    steps = []
    tokens = _tokens(text)
    position = 0

    def take(kind=None, value=None):
        nonlocal position
        if position >= len(tokens):
            raise ValueError("pipeline %r ends early; expected %s" % (text, value or kind))
        token = tokens[position]
        if (kind and token[0] != kind) or (value and token[1] != value):
            raise ValueError("pipeline %r: expected %s at %r" % (text, value or kind, token[1]))
        position += 1
        return token[1]

    if not tokens:
        raise ValueError("the pipeline is empty; expected a technique name, for example prune(sparsity=0.5)")
    while True:
        technique = take("name")
        parameters = {}
        if position < len(tokens) and tokens[position][1] == "(":
            take(value="(")
            while tokens[position:position + 1] != [("symbol", ")")]:
                key = take("name")
                take(value="=")
                parameters[key] = _value(tokens, position, text)
                position += 1
                if tokens[position:position + 1] == [("symbol", ",")]:
                    take(value=",")
            take(value=")")
        steps.append((technique, parameters))
        if position == len(tokens):
            return steps
        take(value="|")


def _tokens(text):
    tokens = []
    at = 0
    while at < len(text.rstrip()):
        match = _TOKEN.match(text, at)
        if not match:
            # a bare value such as 0.5 or 2:4 or conv*: everything up to the next separator
            bare = re.compile(r'\s*([^\s(),|=]+)').match(text, at)
            if not bare:
                raise ValueError("pipeline %r: unexpected character at %d" % (text, at + 1))
            tokens.append(("bare", bare.group(1)))
            at = bare.end()
            continue
        kind = match.lastgroup
        tokens.append((kind, match.group(kind)))
        at = match.end()
    return tokens


def _value(tokens, position, text):
    if position >= len(tokens):
        raise ValueError("pipeline %r ends where a value should be" % text)
    kind, value = tokens[position]
    if kind == "quoted":
        return re.sub(r'\\(.)', r'\1', value[1:-1])
    if kind in ("name", "bare"):
        return value
    raise ValueError("pipeline %r: expected a value at %r" % (text, value))
