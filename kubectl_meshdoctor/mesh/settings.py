"""The mesh-wide settings that change Istio's behaviour, read from the control plane's own objects.

Where a setting cannot be read (no istiod visible, no mesh ConfigMap, an unparsable tag), the value
Istio would use by default for that version is assumed, and a note says so: a report built on a
guess must admit it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import yaml

from kubectl_meshdoctor.cluster.resources import DEFAULT_ROOT_NAMESPACE
from kubectl_meshdoctor.mesh.version import IstioVersion
from kubectl_meshdoctor.mesh.workloads import container_env
from kubectl_meshdoctor.snapshot import Snapshot
from kubectl_meshdoctor.snapshot import objects as o
from kubectl_meshdoctor.snapshot.files import MESH_CONFIG_ANNOTATION


@dataclass(frozen=True)
class ControlPlane:
    namespace: str
    name: str
    revision: str
    image: str
    version: IstioVersion | None
    env: dict[str, str] = field(default_factory=dict, compare=False)  # of the discovery container


@dataclass(frozen=True)
class MeshSettings:
    version: IstioVersion | None
    auto_mtls: bool
    root_namespace: str
    cluster_domain: str = "cluster.local"
    default_vs_export_to: tuple[str, ...] = ("*",)
    default_dr_export_to: tuple[str, ...] = ("*",)
    control_plane: ControlPlane | None = None
    auth_policy: str = ""  # Istio 1.0 mesh-wide mTLS switch (MUTUAL_TLS)
    proxy_metadata: dict[str, str] = field(default_factory=dict, compare=False)  # defaultConfig.proxyMetadata
    mesh_config: tuple[str, str] = (DEFAULT_ROOT_NAMESPACE, "istio")  # the ConfigMap read (namespace, name)
    notes: tuple[str, ...] = field(default_factory=tuple)

    def describe_version(self) -> str:
        return str(self.version) if self.version else "unknown"


def control_planes(snapshot: Snapshot) -> list[ControlPlane]:
    found = []
    for dep in snapshot.all("deployments"):
        if o.labels(dep).get("istio") != "pilot" and not o.name(dep).startswith(("istiod", "istio-pilot")):
            continue
        containers = o.as_list(o.dig(dep, "spec", "template", "spec", "containers"))
        discovery = [o.as_dict(c) for c in containers if o.as_dict(c).get("name") in ("discovery", "pilot")] or \
            [o.as_dict(c) for c in containers[:1]]
        image = o.as_str(discovery[0].get("image")) if discovery else ""
        env = container_env(discovery[0]) if discovery else {}
        tag = image.rpartition(":")[2] if ":" in image.rpartition("/")[2] else ""
        found.append(ControlPlane(o.namespace(dep), o.name(dep), o.labels(dep).get("istio.io/rev", ""),
                                  image, IstioVersion.parse(tag), env))
    # The default revision first: it is the one namespaces without a revision label use.
    return sorted(found, key=lambda cp: (cp.revision not in ("", "default"), cp.namespace, cp.name))


def mesh_config_name(cp: ControlPlane | None) -> str:
    return "istio" if cp is None or cp.revision in ("", "default") else f"istio-{cp.revision}"


def mesh_config_ref(snapshot: Snapshot) -> tuple[str, str]:
    """(namespace, name) of the mesh ConfigMap of the default control plane (istio, or istio-<rev>)."""
    planes = control_planes(snapshot)
    cp = planes[0] if planes else None
    return (cp.namespace if cp else DEFAULT_ROOT_NAMESPACE), mesh_config_name(cp)


def read_mesh_settings(snapshot: Snapshot, cluster_domain: str = "cluster.local") -> MeshSettings:
    notes: list[str] = []
    planes = control_planes(snapshot)
    cp = planes[0] if planes else None
    if cp is None:
        where = "no istiod/istio-pilot Deployment" + (
            "" if snapshot.readable("deployments") else f" ({snapshot.status('deployments').reason()})")
        notes.append(f"Istio version unknown: {where}; assumed a current release")
    elif cp.version is None:
        notes.append(f"Istio version unknown: cannot read a version from image {cp.image!r}")
    if len(planes) > 1:
        notes.append("several control planes: " + ", ".join(f"{p.namespace}/{p.name}" for p in planes)
                     + f"; using {cp.namespace}/{cp.name}" if cp else "")
    mesh = _mesh_config(snapshot, cp, notes)
    version = cp.version if cp else None
    root = o.as_str(mesh.get("rootNamespace")) or (cp.namespace if cp else DEFAULT_ROOT_NAMESPACE)
    auto = mesh.get("enableAutoMtls")
    if not isinstance(auto, bool):
        auto = _default_auto_mtls(version, notes)
    return MeshSettings(
        version=version, auto_mtls=auto, root_namespace=root, cluster_domain=cluster_domain,
        default_vs_export_to=_export_list(mesh.get("defaultVirtualServiceExportTo")),
        default_dr_export_to=_export_list(mesh.get("defaultDestinationRuleExportTo")),
        control_plane=cp, auth_policy=o.as_str(mesh.get("authPolicy")).upper(),
        proxy_metadata=mesh_proxy_metadata(mesh),
        mesh_config=((cp.namespace if cp else DEFAULT_ROOT_NAMESPACE), mesh_config_name(cp)), notes=tuple(notes))


def _mesh_config(snapshot: Snapshot, cp: ControlPlane | None, notes: list[str]) -> dict[str, Any]:
    namespace = cp.namespace if cp else DEFAULT_ROOT_NAMESPACE
    name = mesh_config_name(cp)
    cm = snapshot.get("configmaps", namespace, name) or next(
        (c for c in snapshot.all("configmaps") if MESH_CONFIG_ANNOTATION in o.annotations_of(c)), None)
    if cm is not None and MESH_CONFIG_ANNOTATION in o.annotations_of(cm):
        notes.append(f"mesh config read from {o.annotations_of(cm)[MESH_CONFIG_ANNOTATION]}")
    if cm is None:
        why = "" if snapshot.readable("configmaps") else f" ({snapshot.status('configmaps').reason()})"
        notes.append(f"mesh config ConfigMap {namespace}/{name} not found{why}: Istio's defaults assumed")
        return {}
    try:
        mesh = yaml.safe_load(o.as_str(o.as_dict(cm.get("data")).get("mesh")) or "{}")
    except yaml.YAMLError:
        notes.append(f"mesh config in ConfigMap {namespace}/{name} is not valid YAML: defaults assumed")
        return {}
    return o.as_dict(mesh)


def _default_auto_mtls(version: IstioVersion | None, notes: list[str]) -> bool:
    """enableAutoMtls by version (ISTIO-SEMANTICS.md §0): none before 1.4, off in 1.4, on from the
    1.5 install profile, on in code from 1.6."""
    if version is None:
        notes.append("auto mTLS assumed on (the default since Istio 1.5)")
        return True
    if not version.at_least(1, 5):
        return False
    if not version.at_least(1, 6):
        notes.append("auto mTLS assumed on (Istio 1.5's default install profile; off if installed otherwise)")
    return True


def mesh_proxy_metadata(mesh: dict[str, Any]) -> dict[str, str]:
    return string_map(o.as_dict(mesh.get("defaultConfig")).get("proxyMetadata"))


def string_map(value: Any) -> dict[str, str]:
    """A metadata map as the injector writes it into env: every value a string (YAML `1` is "1")."""
    return {str(k): (v if isinstance(v, str) else json.dumps(v)) for k, v in o.as_dict(value).items()}


def _export_list(value: Any) -> tuple[str, ...]:
    items = tuple(v for v in o.as_list(value) if isinstance(v, str))
    return items or ("*",)
