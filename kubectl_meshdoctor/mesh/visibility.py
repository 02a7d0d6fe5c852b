"""`exportTo`: which namespaces see a VirtualService or DestinationRule, and in which class.

Istio files each object as private to its namespace (`.` or its own name), exported to named
namespaces, public (`*`, which overrides everything else), or hidden (`~`). A client looks at private
objects first, then those exported to it by name, then public ones (ISTIO-SEMANTICS.md §B.1, §B.2,
`initVirtualServices`). Without `exportTo` the mesh default applies. Istio 1.1-1.4 read only the first
element and only told `.` from the rest (§A.3.1).
"""

from __future__ import annotations

from typing import Any

from kubectl_meshdoctor.mesh.version import IstioVersion
from kubectl_meshdoctor.snapshot import objects as o

PRIVATE, EXPORTED, PUBLIC = 0, 1, 2
CLASS_NAMES = {PRIVATE: "private to its namespace", EXPORTED: "exported to the namespace by name", PUBLIC: "public"}


def export_list(obj: dict[str, Any], default: tuple[str, ...], version: IstioVersion | None) -> tuple[str, ...]:
    exports = tuple(e for e in o.as_list(o.spec(obj).get("exportTo")) if isinstance(e, str)) or default
    if version is not None and not version.at_least(1, 5):
        return ("." if exports[0] == "." else "*",)
    return exports


def visibility_class(obj: dict[str, Any], client_ns: str, default: tuple[str, ...],
                     version: IstioVersion | None = None) -> int | None:
    """PRIVATE / EXPORTED / PUBLIC for a client in `client_ns`, or None when it does not see the object."""
    exports = export_list(obj, default, version)
    if "*" in exports:
        return PUBLIC
    if "~" in exports:
        return None
    own = o.namespace(obj)
    if client_ns == own and any(e in (".", own) for e in exports):
        return PRIVATE
    if client_ns in exports:
        return EXPORTED
    return None


def visible(obj: dict[str, Any], client_ns: str, default: tuple[str, ...], version: IstioVersion | None = None) -> bool:
    return visibility_class(obj, client_ns, default, version) is not None


def creation_order(obj: dict[str, Any]) -> tuple[str, str, str]:
    """Istio's sortConfigByCreationTime: creation time, then name, then namespace."""
    return o.creation(obj), o.name(obj), o.namespace(obj)
