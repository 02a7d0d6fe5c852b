"""One serializer for the machine formats: typed report sections to the JSON contract's camelCase.

Dataclass fields become camelCase keys in declaration order (a field's metadata `key` overrides the
name, e.g. `from`), enums become their value, tuples become lists, and free-form dicts (evidence,
labels, counts) keep their keys. Renderers read the dataclasses; only json/yaml/jsonpath see this.
"""

from __future__ import annotations

import dataclasses
import functools
from enum import Enum
from typing import Any


def camel(name: str) -> str:
    head, *rest = name.rstrip("_").split("_")
    return head + "".join(word[:1].upper() + word[1:] for word in rest)


@functools.cache
def _keys(cls: type) -> tuple[tuple[str, str], ...]:
    """(attribute, JSON key) of a dataclass type, worked out once per type: a scan serializes the same
    few types a hundred thousand times."""
    return tuple((f.name, f.metadata.get("key", camel(f.name))) for f in dataclasses.fields(cls)
                 if not f.metadata.get("omit"))


def to_data(value: Any) -> Any:
    if isinstance(value, Enum):  # before str: a StrEnum is a str
        return value.value
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if isinstance(value, (list, tuple)):
        return [to_data(v) for v in value]
    if isinstance(value, dict):
        return {k: to_data(v) for k, v in value.items()}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        if hasattr(value, "to_data"):
            return value.to_data()
        return {json_key: to_data(getattr(value, name)) for name, json_key in _keys(type(value))}
    return value


def key(name: str) -> dict[str, Any]:
    """Field metadata for a key that is not the camelCase of the field's name."""
    return {"key": name}
