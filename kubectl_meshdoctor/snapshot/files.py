"""Objects from files: what `-f` and `--offline` read.

Accepts what people actually have at hand during an incident: multi-document YAML, JSON, the
`kind: List` that `kubectl get -o yaml` writes, directories of those, and stdin. A file that cannot
be read names the file and the line, so the user can fix it in one go.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from kubectl_meshdoctor.cluster.resources import BY_KEY, DEFAULT_ROOT_NAMESPACE, Resource, resource_for
from kubectl_meshdoctor.errors import InputFileError
from kubectl_meshdoctor.snapshot import objects as o
from kubectl_meshdoctor.snapshot import yamlevents
from kubectl_meshdoctor.snapshot.goyaml import GoYamlLoader, colon_in_flow

SUFFIXES = (".yaml", ".yml", ".json")
MAX_FILE_BYTES = 64 << 20  # a namespace's worth of objects is a few MB; beyond this, narrow the input
# JSON parses in C at a few hundred MB/s into about four times its size: room for the `snapshot -A -o json` of a
# cluster of 100,000 pods (50,000 pods write 240 MiB), which `--offline -f` must read back.
MAX_JSON_FILE_BYTES = 512 << 20
MAX_ALIAS_NODES = 200_000  # nodes aliases add to one document when expanded (a billion laughs adds 10^9)
CAPTURED_ANNOTATION = "meshdoctor.io/collections"  # on a `meshdoctor snapshot` List: what it read
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@dataclass(frozen=True)
class LoadedFiles:
    objects: tuple[tuple[str, dict[str, Any]], ...]  # (resource key, object)
    ignored_kinds: tuple[str, ...]  # kinds meshdoctor does not read, for a note
    sources: tuple[str, ...]
    captured: tuple[str, ...] = ()  # collections a `meshdoctor snapshot` file says it read (even if empty)
    skipped: tuple[str, ...] = ()  # files of a directory that hold no Kubernetes objects, with why

    @property
    def notes(self) -> tuple[str, ...]:
        out = [f"ignored objects of kinds meshdoctor does not read: {', '.join(self.ignored_kinds)}"] \
            if self.ignored_kinds else []
        out += [f"skipped {why}" for why in self.skipped]
        return tuple(out)

    @property
    def empty(self) -> bool:
        """Nothing to analyse: no object, and not a snapshot that says what it found empty."""
        return not self.objects and not self.captured


def load_files(paths: list[str], default_namespace: str, recursive: bool = False) -> LoadedFiles:
    """recursive: directories' subdirectories too (kubectl's -R); else only the files directly in them."""
    found: list[tuple[str, dict[str, Any]]] = []
    ignored: set[str] = set()
    sources: list[str] = []
    captured: set[str] = set()
    skipped: list[str] = []
    for label, text, in_directory in _read_all(paths, recursive):
        sources.append(label)
        try:
            documents = list(_documents(label, text))
            objects = [obj for line, doc in documents for obj in _expand(label, line, doc)]
        except InputFileError as exc:
            if not in_directory:
                raise
            skipped.append(f"{exc} (a file of a directory that is not Kubernetes objects, such as Helm values)")
            continue
        for _, doc in documents:
            if isinstance(doc, dict):
                captured.update(c for c in o.annotations_of(doc).get(CAPTURED_ANNOTATION, "").split(",")
                                if c in BY_KEY)
        for obj in objects:
            resource = resource_for(o.as_str(obj.get("apiVersion")), o.kind(obj))
            if resource is None:
                ignored.add(o.kind(obj))
                continue
            found.append((resource.key, _with_namespace(obj, resource, default_namespace)))
    return LoadedFiles(tuple(found), tuple(sorted(ignored)), tuple(sources), tuple(sorted(captured)), tuple(skipped))


def _read_all(paths: list[str], recursive: bool) -> Iterator[tuple[str, str, bool]]:
    """(label, text, whether the file was found in a directory rather than named)."""
    for raw in paths:
        if raw == "-":
            yield "<stdin>", sys.stdin.read(), False
            continue
        path = Path(raw)
        if path.is_dir():
            files = sorted(_walk(path) if recursive else (f for f in path.iterdir() if f.is_file()
                                                           and f.name.endswith(SUFFIXES)))
            if not files:
                deeper = "" if recursive or not any(_walk(path)) else " (some in subdirectories: -R reads those)"
                raise InputFileError(f"{raw}: no .yaml, .yml or .json files in this directory{deeper}")
            for file in files:
                yield str(file), _read(file), True
        elif path.exists():
            yield raw, _read(path), False
        else:
            raise InputFileError(f"{raw}: no such file or directory")


def _walk(root: Path) -> Iterator[Path]:
    # followlinks=False: a symlink loop cannot make this run forever.
    for folder, dirs, files in os.walk(root, followlinks=False):
        dirs.sort()
        yield from (Path(folder) / f for f in files if f.endswith(SUFFIXES))


def _read(path: Path) -> str:
    try:
        size = path.stat().st_size
        limit = MAX_JSON_FILE_BYTES if path.name.endswith(".json") else MAX_FILE_BYTES
        if size > limit:
            raise InputFileError(f"{path}: {size / (1 << 20):.0f} MiB is more than meshdoctor reads from one "
                                 f"{'JSON' if limit == MAX_JSON_FILE_BYTES else 'YAML'} file ({limit >> 20} MiB); "
                                 "give the namespaces you need, e.g. `kubectl get ... -n NS -o yaml`")
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise InputFileError(f"{path}: not a text file (byte {exc.start} is not UTF-8)") from exc
    except OSError as exc:
        raise InputFileError(f"{path}: {exc.strerror or exc}") from exc


def _documents(label: str, text: str) -> Iterator[tuple[int, Any]]:
    """(line, document) pairs; JSON files are parsed as JSON for speed and exact error lines."""
    if label.endswith(".json") or text.lstrip().startswith("{"):
        try:
            yield 1, json.loads(text)
            return
        except ValueError as exc:
            if label.endswith(".json"):
                raise InputFileError(f"{label}:{getattr(exc, 'lineno', 1)}: invalid JSON: "
                                     f"{getattr(exc, 'msg', exc)}") from exc
    try:
        yield from _yaml_documents(label, text, _Loader)
        return
    except yaml.YAMLError as exc:
        if not colon_in_flow(exc):
            raise _invalid(label, exc) from exc
    try:  # libyaml refuses `[1.2.3.4, 001:db8::]`, which the API server accepts: read it as go-yaml does
        yield from _yaml_documents(label, text, GoYamlLoader)
    except yaml.YAMLError as exc:
        raise _invalid(label, exc) from exc


def _yaml_documents(label: str, text: str, loader_class: type) -> list[tuple[int, Any]]:
    """Every document of the text, parsed before any is used: a retry with another loader never
    repeats documents already handed out. Built from the parser's events (snapshot/yamlevents.py)."""
    parsed = yaml.parse(text, Loader=loader_class)
    try:
        return list(yamlevents.documents(parsed, MAX_ALIAS_NODES))
    except yamlevents.TooManyAliases as exc:
        raise InputFileError(f"{label}:{exc.line}: YAML aliases expand the document by more than "
                             f"{MAX_ALIAS_NODES} nodes (a YAML bomb?); refusing to read it") from exc
    except yamlevents.Unsupported as exc:
        raise InputFileError(f"{label}: not a Kubernetes object: the YAML uses {exc}") from exc


def _invalid(label: str, exc: yaml.YAMLError) -> InputFileError:
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    line = mark.line + 1 if mark else 1
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    return InputFileError(f"{label}:{line}: invalid YAML: {problem}")


def _expand(label: str, line: int, doc: Any) -> Iterator[dict[str, Any]]:
    if doc is None:
        return
    if not isinstance(doc, dict):
        raise InputFileError(f"{label}:{line}: expected a Kubernetes object (a mapping), "
                             f"found {type(doc).__name__}")
    kind = doc.get("kind")
    if not kind and "apiVersion" not in doc and is_mesh_config(doc):
        yield mesh_config_map(doc, f"{label}:{line}")
        return
    if not isinstance(kind, str) or not kind:
        raise InputFileError(f"{label}:{line}: document has no kind")
    if kind == "List" or (kind.endswith("List") and "items" in doc):
        for item in o.as_list(doc.get("items")):
            yield from _expand(label, line, item)
        return
    if not isinstance(doc.get("apiVersion"), str):
        raise InputFileError(f"{label}:{line}: {kind} has no apiVersion")
    if not o.name(doc):
        raise InputFileError(f"{label}:{line}: {kind} has no metadata.name")
    yield doc


# Top-level MeshConfig fields (istio.io/api mesh/v1alpha1/config.proto, 1.0 to current), enough to tell a
# bare mesh config (the `mesh` key of the istio ConfigMap, or `istioctl` values) from a broken object.
MESH_CONFIG_FIELDS = frozenset({
    "accessLogEncoding", "accessLogFile", "accessLogFormat", "authPolicy", "ca", "caCertificates", "certificates",
    "configSources", "connectTimeout", "defaultConfig", "defaultDestinationRuleExportTo", "defaultHttpRetryPolicy",
    "defaultProviders", "defaultServiceExportTo", "defaultVirtualServiceExportTo", "disableEnvoyListenerLog",
    "discoverySelectors", "dnsRefreshRate", "enableAutoMtls", "enableEnvoyAccessLogService", "enablePrometheusMerge",
    "enableTracing", "extensionProviders", "h2UpgradePolicy", "inboundClusterStatName", "inboundTrafficPolicy",
    "ingressClass", "ingressControllerMode", "ingressSelector", "ingressService", "localityLbSetting", "meshMTLS",
    "outboundClusterStatName", "outboundTrafficPolicy", "pathNormalization", "protocolDetectionTimeout",
    "proxyHttpPort", "proxyInboundListenPort", "proxyListenPort", "rootNamespace", "serviceScopeConfigs",
    "serviceSettings", "tcpKeepalive", "thriftConfig", "tlsDefaults", "trustDomain", "trustDomainAliases",
    "verifyCertificateAtClient"})
MESH_CONFIG_ANNOTATION = "meshdoctor.io/mesh-config-file"  # the ConfigMap stands for a bare mesh config file


def is_mesh_config(doc: dict[str, Any]) -> bool:
    """A bare MeshConfig, or `mesh: |` holding one (the ConfigMap's data copied out)."""
    if set(doc) == {"mesh"} and isinstance(doc["mesh"], str):
        return True
    return bool(doc) and set(doc) <= MESH_CONFIG_FIELDS


def mesh_config_map(doc: dict[str, Any], where: str) -> dict[str, Any]:
    """The ConfigMap istiod would read it from; the settings take it when the cluster's own is absent."""
    text = doc["mesh"] if set(doc) == {"mesh"} else yaml.safe_dump(doc, sort_keys=False)
    return {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "istio", "namespace": DEFAULT_ROOT_NAMESPACE,
                         "annotations": {MESH_CONFIG_ANNOTATION: where}},
            "data": {"mesh": text}}


def _with_namespace(obj: dict[str, Any], resource: Resource, default_namespace: str) -> dict[str, Any]:
    """Like `kubectl apply -f`: a namespaced object without a namespace lands in -n's namespace."""
    if not resource.namespaced or o.namespace(obj):
        return obj
    return {**obj, "metadata": {**o.meta(obj), "namespace": default_namespace}}
