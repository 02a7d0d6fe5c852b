"""Sidecar resources: which hosts, and so which VirtualServices, a namespace's proxies import.

A proxy uses the oldest Sidecar without a workloadSelector in its own namespace; without one, the
selector-less Sidecar of the root namespace, read as if it were in the proxy's namespace (`./` is
the proxy's); without either, everything (pilot/pkg/model/push_context.go initSidecarScopes,
meshRootSidecarConfig, doGetSidecarScope). Egress hosts are `ns/host`, `./host`, `*/host`, `~/*`
(nothing); a VirtualService is imported when one of its hosts matches an imported host of its own
namespace or of `*` (sidecar.go convertIstioListenerToWrapper, virtualservice.go SelectVirtualServices,
hostClassification.VSMatches: exact, else the bidirectional wildcard match), a service when its host
is covered by one (hostClassification.Matches). Sidecars with a workloadSelector apply to some pods
only: they are not modelled per pod, and a namespace with one is said to be approximated.
Gateways never use Sidecars (DefaultSidecarScopeForGateway).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from kubectl_meshdoctor.mesh import hosts
from kubectl_meshdoctor.mesh.settings import MeshSettings
from kubectl_meshdoctor.mesh.visibility import creation_order
from kubectl_meshdoctor.snapshot import Snapshot
from kubectl_meshdoctor.snapshot import objects as o


@dataclass(frozen=True, eq=False)
class SidecarScope:
    client_ns: str
    sidecar: dict[str, Any] | None = field(default=None, repr=False)  # None: no Sidecar applies, all imported
    imports: dict[str, tuple[str, ...]] = field(default_factory=dict)  # namespace or "*" -> hosts
    with_selector: tuple[str, ...] = ()  # Sidecars of the namespace that apply to some pods only

    @property
    def ref(self) -> str:
        return f"{o.namespace(self.sidecar)}/{o.name(self.sidecar)}" if self.sidecar is not None else ""

    def describe(self) -> str:
        root = " (the root namespace's default)" if self.sidecar is not None and \
            o.namespace(self.sidecar) != self.client_ns else ""
        return f"Sidecar {self.ref}{root}"

    def _hosts_for(self, namespace: str) -> tuple[str, ...]:
        return (*self.imports.get(namespace, ()), *self.imports.get("*", ()))

    def imports_virtual_service(self, vs: dict[str, Any], declared: list[str]) -> bool:
        if self.sidecar is None:
            return True
        imported = self._hosts_for(o.namespace(vs))
        return any(h in imported or any(_matches(h, i) for i in imported if "*" in (h[:1], i[:1]))
                   for h in declared)

    def imports_host(self, host: str, namespace: str) -> bool:
        if self.sidecar is None:
            return True
        return any(hosts.wildcard_matches(i, host) for i in self._hosts_for(namespace))


def _matches(a: str, b: str) -> bool:
    """pkg/config/host/name.go Name.Matches: either name covers the other."""
    if a.startswith("*") and b.startswith("*"):
        return a[1:].endswith(b[1:]) or b[1:].endswith(a[1:])
    if a.startswith("*"):
        return b.endswith(a[1:])
    if b.startswith("*"):
        return a.endswith(b[1:])
    return a == b


def _imports(sidecar: dict[str, Any], client_ns: str) -> dict[str, tuple[str, ...]]:
    out: dict[str, list[str]] = {}
    for listener in o.as_list(o.spec(sidecar).get("egress")):
        for entry in o.as_list(o.as_dict(listener).get("hosts")):
            if not isinstance(entry, str) or entry.count("/") != 1:
                continue  # Istio logs "Illegal host in sidecar resource" and skips it
            ns, _, name = entry.partition("/")
            out.setdefault(client_ns if ns == "." else ns, []).append(name)
    return {ns: tuple(names) for ns, names in out.items() if ns != "~"}


def scope_for(snapshot: Snapshot, settings: MeshSettings, client_ns: str) -> SidecarScope:
    own = sorted(snapshot.in_namespace("sidecars", client_ns), key=creation_order)
    selected = [o.name(s) for s in own if o.spec(s).get("workloadSelector")]
    default = next((s for s in own if not o.spec(s).get("workloadSelector")), None)
    if default is None:
        default = next((s for s in sorted(snapshot.in_namespace("sidecars", settings.root_namespace),
                                          key=creation_order) if not o.spec(s).get("workloadSelector")), None)
    if default is None:
        return SidecarScope(client_ns, with_selector=tuple(selected))
    return SidecarScope(client_ns, default, _imports(default, client_ns), tuple(selected))
