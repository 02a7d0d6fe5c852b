"""YAML documents built straight from the parser's events, without a node graph.

PyYAML's loaders compose the whole document as a graph of Node objects and only then construct
Python values from it: for the `kind: List` of a 3,000-pod snapshot that is 900,000 nodes, 430 MiB
and 12 s (issue 22), where the same dump as JSON takes 84 MiB and 2 s. Events carry everything a
value needs, so values are built as the events stream by: memory is the values alone, and the time
is libyaml's parsing plus one small step per event.

Values are those of PyYAML's SafeLoader, whose resolver and constructors decide every scalar (the
YAML 1.1 rules: `yes` is a bool, `0o17` an int, an unquoted date a datetime), cached per distinct
plain scalar: keys and values repeat across thousands of objects. Merge keys (`<<`) are applied as
PyYAML applies them. What this builder does not do (explicit tags on collections, such as `!!set`,
and mappings used as keys) raises `Unsupported`, and the caller reads that file the slow way.

Aliases are counted, not expanded: each alias adds the size of what its anchor holds, so a "billion
laughs" is refused after a few hundred events while a big document without aliases costs nothing.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import yaml
from yaml import events as ev

MERGE = object()  # a plain `<<` key (a quoted one is the string)
PLAIN_COLLECTION_TAGS = (None, "!", "tag:yaml.org,2002:map", "tag:yaml.org,2002:seq")


class Unsupported(Exception):
    """A construct this builder leaves to PyYAML's own loader."""


class TooManyAliases(Exception):
    def __init__(self, line: int) -> None:
        super().__init__(line)
        self.line = line


@dataclass
class _Frame:
    value: dict[Any, Any] | list[Any]
    anchor: str | None
    size: int = 1
    key: Any = None
    has_key: bool = False
    merges: list[dict[Any, Any]] = field(default_factory=list)


class _Scalars:
    """Plain scalars resolved and constructed as SafeLoader does, once per distinct text."""

    def __init__(self) -> None:
        self._loader = yaml.SafeLoader("")
        self._cache: dict[tuple[str | None, str, bool], Any] = {}

    def value(self, event: ev.ScalarEvent) -> Any:
        tag, text, plain = event.tag, event.value, bool(event.implicit[0])
        if tag in (None, "!"):
            if not plain:
                return text
            if text == "<<":
                return MERGE
            tag = None
        key = (tag, text, plain)
        try:
            return self._cache[key]
        except KeyError:
            pass
        resolved = tag or self._loader.resolve(yaml.ScalarNode, text, (plain, False))  # type: ignore[no-untyped-call]
        node = yaml.ScalarNode(resolved, text, event.start_mark, event.end_mark)  # type: ignore[arg-type]
        value = self._loader.construct_object(node, deep=True)
        self._cache[key] = value
        return value


def documents(events: Iterator[ev.Event], max_alias_nodes: int) -> Iterator[tuple[int, Any]]:
    """(line, value) per document."""
    scalars = _Scalars()
    stack: list[_Frame] = []
    anchors: dict[str, tuple[Any, int]] = {}
    root: Any = None
    line = 1
    added = 0
    first = True

    def add(value: Any, size: int) -> None:
        nonlocal root
        if not stack:
            root = value
            return
        top = stack[-1]
        top.size += size
        if isinstance(top.value, list):
            top.value.append(value)
        elif not top.has_key:
            if isinstance(value, dict | list):
                raise Unsupported("a mapping or sequence used as a key")
            top.key, top.has_key = value, True
        else:
            if top.key is MERGE:
                top.merges.extend(_merged(value))
            else:
                top.value[top.key] = value
            top.has_key = False

    for event in events:
        if first and isinstance(event, ev.NodeEvent):
            line, first = (event.start_mark.line + 1 if event.start_mark else line), False
        if isinstance(event, ev.ScalarEvent):
            value = scalars.value(event)
            if value is MERGE and (not stack or stack[-1].has_key or isinstance(stack[-1].value, list)):
                value = "<<"  # only a key merges
            if event.anchor:
                anchors[event.anchor] = (value, 1)
            add(value, 1)
        elif isinstance(event, ev.MappingStartEvent | ev.SequenceStartEvent):
            if event.tag not in PLAIN_COLLECTION_TAGS:
                raise Unsupported(f"the tag {event.tag}")
            container: dict[Any, Any] | list[Any] = {} if isinstance(event, ev.MappingStartEvent) else []
            stack.append(_Frame(container, event.anchor))
        elif isinstance(event, ev.MappingEndEvent | ev.SequenceEndEvent):
            frame = stack.pop()
            value = frame.value
            if frame.merges:
                assert isinstance(value, dict)
                merged: dict[Any, Any] = {}
                for extra in reversed(frame.merges):
                    merged.update(extra)
                merged.update(value)
                value.clear()
                value.update(merged)
            if frame.anchor:
                anchors[frame.anchor] = (value, frame.size)
            add(value, frame.size)
        elif isinstance(event, ev.AliasEvent):
            if event.anchor not in anchors:
                raise yaml.composer.ComposerError(None, None, f"found undefined alias {event.anchor!r}",
                                                  event.start_mark)  # type: ignore[arg-type]  # libyaml's Mark
            value, size = anchors[event.anchor]
            added += size
            if added > max_alias_nodes:
                raise TooManyAliases(line)
            add(value, size)
        elif isinstance(event, ev.DocumentStartEvent):
            root, added, first = None, 0, True
            anchors.clear()
        elif isinstance(event, ev.DocumentEndEvent):
            yield line, root


def _merged(value: Any) -> list[dict[Any, Any]]:
    """The mappings a merge key brings in, first one winning (PyYAML's flatten_mapping)."""
    if isinstance(value, dict):
        return [value]
    if isinstance(value, list) and all(isinstance(v, dict) for v in value):
        return list(value)
    raise yaml.constructor.ConstructorError(None, None, "expected a mapping or list of mappings for merging", None)
