"""json, yaml and jsonpath output: the report contract, written straight to stdout (never via rich,
which would wrap lines and eat `[...]` as markup)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import yaml

from kubectl_meshdoctor.errors import UsageError


def to_json(doc: Any, levels: int | None = None) -> str:
    """Indented JSON; with `levels`, only that many levels are indented and what is deeper is written on
    one line by the C encoder (a scan of a thousand hosts is 50 MB, which the pure-Python indenting
    encoder takes seconds to write)."""
    if levels is None:
        return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"
    return "".join(_indented(doc, levels, 0)) + "\n"


def _indented(value: Any, levels: int, depth: int) -> Iterator[str]:
    if depth >= levels or not isinstance(value, (dict, list)) or not value:
        yield json.dumps(value, ensure_ascii=False, separators=(", ", ": "))
        return
    inner, outer = "\n" + "  " * (depth + 1), "\n" + "  " * depth
    items = value.items() if isinstance(value, dict) else ((None, v) for v in value)
    yield "{" if isinstance(value, dict) else "["
    for n, (key, item) in enumerate(items):
        yield ("," if n else "") + inner + (json.dumps(key, ensure_ascii=False) + ": " if key is not None else "")
        yield from _indented(item, levels, depth + 1)
    yield outer + ("}" if isinstance(value, dict) else "]")


def to_yaml(doc: Any) -> str:
    return yaml.safe_dump(doc, sort_keys=False, allow_unicode=True, default_flow_style=False)


_TOKEN = re.compile(r"\{((?:[^{}\"]|\"[^\"]*\")*)\}")


def check_jsonpath(template: str) -> None:
    """A template that cannot be parsed is a usage error before anything is read, never echoed back:
    unbalanced braces, {range} without {end}, and expressions jsonpath-ng refuses."""
    tokens = _tokenize(template)
    for kind, value in tokens:
        if kind == "text" and ("{" in value or "}" in value) and (kind, value) not in _literals(template):
            raise UsageError(f"jsonpath template: unbalanced braces in {template!r}")
        if kind in ("expr", "range"):
            _find(value, {})
    _render(tokens, {})


def _literals(template: str) -> list[tuple[str, str]]:
    """Quoted literals (`{"{"}`) may hold braces."""
    return [("text", m.group(1).strip()[1:-1].encode().decode("unicode_escape")) for m in _TOKEN.finditer(template)
            if m.group(1).strip().startswith('"')]


def to_jsonpath(doc: Any, template: str) -> str:
    """kubectl's jsonpath template dialect (`{.findings[*].id}`, `{range ...}{end}`, `{"\\n"}`) on top
    of jsonpath-ng, which only parses bare expressions (ECOSYSTEM.md §3.1)."""
    tokens = _tokenize(template)
    out, rest = _render(tokens, doc)
    if rest:
        raise UsageError("jsonpath template: {end} without {range}")
    return "".join(out)


def _tokenize(template: str) -> list[tuple[str, str]]:
    tokens: list[tuple[str, str]] = []
    pos = 0
    for match in _TOKEN.finditer(template):
        if match.start() > pos:
            tokens.append(("text", template[pos:match.start()]))
        inner = match.group(1).strip()
        if inner.startswith('"') and inner.endswith('"') and len(inner) >= 2:
            tokens.append(("text", inner[1:-1].encode().decode("unicode_escape")))
        elif inner.startswith("range "):
            tokens.append(("range", inner[6:].strip()))
        elif inner == "end":
            tokens.append(("end", ""))
        else:
            tokens.append(("expr", inner))
        pos = match.end()
    if pos < len(template):
        tokens.append(("text", template[pos:]))
    return tokens


def _render(tokens: list[tuple[str, str]], node: Any) -> tuple[list[str], list[tuple[str, str]]]:
    out: list[str] = []
    while tokens:
        kind, value = tokens[0]
        tokens = tokens[1:]
        if kind == "text":
            out.append(value)
        elif kind == "expr":
            out.append(" ".join(_scalar(v) for v in _find(value, node)))
        elif kind == "range":
            body_end = _matching_end(tokens)
            body, tokens = tokens[:body_end], tokens[body_end + 1:]
            for item in _find(value, node):
                rendered, _ = _render(list(body), item)
                out.extend(rendered)
        else:  # end
            return out, [(kind, value), *tokens]
    return out, []


def _matching_end(tokens: list[tuple[str, str]]) -> int:
    depth = 0
    for i, (kind, _) in enumerate(tokens):
        if kind == "range":
            depth += 1
        elif kind == "end":
            if depth == 0:
                return i
            depth -= 1
    raise UsageError("jsonpath template: {range} without {end}")


def _find(expr: str, node: Any) -> list[Any]:
    from jsonpath_ng.exceptions import JsonPathLexerError, JsonPathParserError
    from jsonpath_ng.ext import parse

    text = expr.strip()
    if text in ("", "$", "@", "."):
        return [node]
    if text.startswith("."):
        text = "$" + text
    elif text.startswith("@"):
        text = "$" + text[1:]
    try:
        return [m.value for m in parse(text).find(node)]
    except (JsonPathLexerError, JsonPathParserError, Exception) as exc:
        raise UsageError(f"jsonpath template: cannot parse {{{expr}}}: {exc}".splitlines()[0]) from exc


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return ""
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    return str(value)
