"""Safe accessors for raw Kubernetes objects.

Objects arrive as plain JSON from the API server or from hand-written files, so any field may have
the wrong type. Checks read them only through these helpers, which answer with an empty value
instead of raising: garbage in a spec becomes "no data", never a traceback.
"""

from __future__ import annotations

from typing import Any


def as_dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def as_str(value: Any) -> str:
    return value if isinstance(value, str) else ""


def dig(obj: Any, *path: str) -> Any:
    """obj[path[0]][path[1]]..., or None as soon as a step is missing or not a mapping."""
    for step in path:
        if not isinstance(obj, dict):
            return None
        obj = obj.get(step)
    return obj


# The accessors below are asked millions of times in a scan of a large cluster: each takes the common
# path (a well-formed object) with as few calls as it can, and answers exactly as the plain versions.

def meta(obj: Any) -> dict[str, Any]:
    found = obj.get("metadata") if isinstance(obj, dict) else None
    return found if isinstance(found, dict) else {}


def _meta_str(obj: Any, key: str) -> str:
    found = obj.get("metadata") if isinstance(obj, dict) else None
    value = found.get(key) if isinstance(found, dict) else None
    return value if isinstance(value, str) else ""


def name(obj: Any) -> str:
    return _meta_str(obj, "name")


def namespace(obj: Any) -> str:
    return _meta_str(obj, "namespace")


def kind(obj: Any) -> str:
    return as_str(as_dict(obj).get("kind"))


def labels(obj: Any) -> dict[str, str]:
    return _string_map(meta(obj).get("labels"))


def label(obj: Any, key: str) -> str | None:
    """One label's value, without copying the labels (None: absent or not a string)."""
    return _map_value(obj, "labels", key)


def annotation(obj: Any, key: str) -> str | None:
    """One annotation's value, without copying the annotations (None: absent or not a string)."""
    return _map_value(obj, "annotations", key)


def _map_value(obj: Any, section: str, key: str) -> str | None:
    found = meta(obj).get(section)
    value = found.get(key) if isinstance(found, dict) else None
    return value if isinstance(value, str) else None


def selects(selector: dict[str, str], obj: Any) -> bool:
    """selector_matches(selector, labels(obj)) without copying the labels: a selector's values are
    strings, which a label that is not a string never equals."""
    found = meta(obj).get("labels")
    return selector_matches(selector, found) if isinstance(found, dict) else not selector


def annotations_of(obj: Any) -> dict[str, str]:
    return _string_map(meta(obj).get("annotations"))


def _string_map(found: Any) -> dict[str, str]:
    """A copy of the map's string values (a copy: callers may change what they get)."""
    if not isinstance(found, dict):
        return {}
    for value in found.values():
        if not isinstance(value, str):
            return {k: v for k, v in found.items() if isinstance(v, str)}
    return dict(found)


def spec(obj: Any) -> dict[str, Any]:
    found = obj.get("spec") if isinstance(obj, dict) else None
    return found if isinstance(found, dict) else {}


def status(obj: Any) -> dict[str, Any]:
    found = obj.get("status") if isinstance(obj, dict) else None
    return found if isinstance(found, dict) else {}


def creation(obj: Any) -> str:
    """RFC 3339 timestamps sort correctly as strings; a missing one sorts first, as in Istio."""
    return as_str(meta(obj).get("creationTimestamp"))


def selector_matches(selector: dict[str, str], obj_labels: dict[str, str]) -> bool:
    return all(obj_labels.get(k) == v for k, v in selector.items())


def label_selector_matches(selector: dict[str, Any], obj_labels: dict[str, str]) -> bool:
    """A metav1.LabelSelector: matchLabels and matchExpressions (In, NotIn, Exists, DoesNotExist)."""
    if not selector_matches(as_dict(selector.get("matchLabels")), obj_labels):
        return False
    for expr in map(as_dict, as_list(selector.get("matchExpressions"))):
        key, op, values = as_str(expr.get("key")), as_str(expr.get("operator")), as_list(expr.get("values"))
        ok = {"In": key in obj_labels and obj_labels[key] in values, "NotIn": obj_labels.get(key) not in values,
              "Exists": key in obj_labels, "DoesNotExist": key not in obj_labels}.get(op, False)
        if not ok:
            return False
    return True


def ref(obj: Any) -> str:
    """`namespace/name`, as the report names an object."""
    return f"{namespace(obj)}/{name(obj)}"
