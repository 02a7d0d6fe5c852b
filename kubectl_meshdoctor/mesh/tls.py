"""Mutual TLS on both ends of a connection, and whether they can talk (ISTIO-SEMANTICS.md §A).

Server side: what a pod's sidecar accepts on a target port (PeerAuthentication from 1.5, the legacy
Policy/MeshPolicy up to 1.5, no sidecar = plaintext only). Client side: what a sidecar in a given
namespace sends for (host, Service port, subset) after the DestinationRule lookup and merge, port-level
and subset overrides, and auto mTLS. The verdict follows the compatibility matrix of §A.4.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from kubectl_meshdoctor.mesh import hosts
from kubectl_meshdoctor.mesh.ambient import FIRST_AMBIENT, is_ambient, namespace_is_ambient
from kubectl_meshdoctor.mesh.destinationrules import DRLookup, dr_ref
from kubectl_meshdoctor.mesh.hosts import ServiceName
from kubectl_meshdoctor.mesh.protocol import derive
from kubectl_meshdoctor.mesh.settings import MeshSettings
from kubectl_meshdoctor.mesh.target import Target
from kubectl_meshdoctor.mesh.views import ClientView
from kubectl_meshdoctor.mesh.visibility import creation_order
from kubectl_meshdoctor.mesh.workloads import has_sidecar, service_pods
from kubectl_meshdoctor.snapshot import Snapshot
from kubectl_meshdoctor.snapshot import objects as o

STRICT, PERMISSIVE, DISABLE, UNSET, NO_SIDECAR = "STRICT", "PERMISSIVE", "DISABLE", "UNSET", "NO_SIDECAR"
ISTIO_MUTUAL, SIMPLE, MUTUAL, PLAINTEXT = "ISTIO_MUTUAL", "SIMPLE", "MUTUAL", "DISABLE"
HBONE = "HBONE"  # mutual TLS tunnelled to port 15008: ambient (ztunnel) and sidecars talking to it
OK, CONFLICT, AUTO = "OK", "CONFLICT", "AUTO"
MESH_LEVEL, NAMESPACE_LEVEL, WORKLOAD_LEVEL = "mesh", "namespace", "workload"


def ref(obj: dict[str, Any]) -> str:
    return f"{o.namespace(obj)}/{o.name(obj)}" if o.namespace(obj) else o.name(obj)


# -------------------------------------------------------------------------------------------- ports

def target_port(service_port: dict[str, Any], pod: dict[str, Any] | None) -> int | None:
    """The container port a Service port sends to; a named targetPort is looked up in the pod."""
    target = service_port.get("targetPort", service_port.get("port"))
    if isinstance(target, int):
        return target
    if isinstance(target, str) and target.isdigit():
        return int(target)
    for container in o.as_list(o.spec(pod).get("containers")):
        for port in o.as_list(o.as_dict(container).get("ports")):
            port = o.as_dict(port)
            number = port.get("containerPort")
            if port.get("name") == target and isinstance(number, int):
                return number
    return None


def service_ports(service: dict[str, Any]) -> list[dict[str, Any]]:
    return [o.as_dict(p) for p in o.as_list(o.spec(service).get("ports"))
            if isinstance(o.as_dict(p).get("port"), int) and o.as_dict(p).get("protocol", "TCP") == "TCP"]


# ---------------------------------------------------------------------------------- server, 1.5 and up

@dataclass(frozen=True)
class Decider:
    """One policy that decided (part of) a mode, as printed in the report."""

    kind: str
    ref: str
    level: str  # mesh | namespace | workload | port N | service | default

    def label(self) -> str:
        return f"{self.kind} {self.ref} ({self.level})"


@dataclass(frozen=True)
class ServerMode:
    mode: str
    deciders: tuple[Decider, ...]

    def label(self) -> str:
        return ", ".join(d.label() for d in self.deciders) or "no policy (default)"

    def short_label(self) -> str:
        """For the table, where the column says what kind it is: `istio-system/default (mesh)`."""
        return ", ".join(f"{d.ref} ({d.level})" if d.kind == "PeerAuthentication" else d.label()
                         for d in self.deciders) or "default"


def _pa_mode(value: Any) -> str:
    mode = o.as_str(o.as_dict(value).get("mode")).upper()
    return mode if mode in (STRICT, PERMISSIVE, DISABLE) else UNSET


def selector_of(pa: dict[str, Any]) -> dict[str, str]:
    return {k: v for k, v in o.as_dict(o.dig(pa, "spec", "selector", "matchLabels")).items() if isinstance(v, str)}


@dataclass(frozen=True, eq=False)
class PeerPolicies:
    """The PeerAuthentications that apply to one pod, one per class (oldest wins), and the losers."""

    mesh: dict[str, Any] | None
    namespace: dict[str, Any] | None
    workload: dict[str, Any] | None
    losers: tuple[tuple[dict[str, Any], dict[str, Any], str], ...]  # (ignored, winner, level)
    root_selectors: tuple[dict[str, Any], ...]  # selector PAs in the root namespace: ignored by Istio

    @property
    def any(self) -> bool:
        return any((self.mesh, self.namespace, self.workload))


def peer_policies(pas: list[dict[str, Any]], pod_ns: str, pod_labels: dict[str, str], root: str) -> PeerPolicies:
    classes: dict[str, list[dict[str, Any]]] = {MESH_LEVEL: [], NAMESPACE_LEVEL: [], WORKLOAD_LEVEL: []}
    root_selectors = []
    for pa in pas:
        ns, selector = o.namespace(pa), selector_of(pa)
        if ns == root and not selector:
            classes[MESH_LEVEL].append(pa)
        elif ns == root:
            if o.selector_matches(selector, pod_labels):
                root_selectors.append(pa)
        elif ns == pod_ns and not selector:
            classes[NAMESPACE_LEVEL].append(pa)
        elif ns == pod_ns and o.selector_matches(selector, pod_labels):
            classes[WORKLOAD_LEVEL].append(pa)
    winners: dict[str, dict[str, Any] | None] = {}
    losers = []
    for level, members in classes.items():
        ordered = sorted(members, key=creation_order)
        winners[level] = ordered[0] if ordered else None
        losers += [(lost, ordered[0], level) for lost in ordered[1:]]
    return PeerPolicies(winners[MESH_LEVEL], winners[NAMESPACE_LEVEL], winners[WORKLOAD_LEVEL], tuple(losers),
                        tuple(root_selectors))


def pa_server_mode(policies: PeerPolicies, port: int | None) -> ServerMode:
    """PERMISSIVE, then mesh, namespace and workload modes unless UNSET, then the workload PA's entry
    for the target port (UNSET there inherits)."""
    mode, deciders = PERMISSIVE, []
    for level, pa in ((MESH_LEVEL, policies.mesh), (NAMESPACE_LEVEL, policies.namespace),
                      (WORKLOAD_LEVEL, policies.workload)):
        if pa is not None and _pa_mode(o.spec(pa).get("mtls")) != UNSET:
            mode = _pa_mode(o.spec(pa).get("mtls"))
            deciders.append(Decider("PeerAuthentication", ref(pa), level))
    if policies.workload is not None and port is not None:
        per_port = o.as_dict(o.spec(policies.workload).get("portLevelMtls"))
        entry = per_port.get(str(port), per_port.get(port))  # type: ignore[call-overload]
        if entry is not None and _pa_mode(entry) != UNSET:
            mode = _pa_mode(entry)
            deciders.append(Decider("PeerAuthentication", ref(policies.workload), f"port {port}"))
    return ServerMode(mode, tuple(deciders))


# --------------------------------------------------------------------------------- server, up to 1.5

def _legacy_mode(policy: dict[str, Any]) -> str:
    for peer in o.as_list(o.spec(policy).get("peers")):
        peer = o.as_dict(peer)
        if "mtls" in peer:
            mode = o.as_str(o.as_dict(peer.get("mtls")).get("mode")).upper()
            return PERMISSIVE if mode == PERMISSIVE else STRICT  # an empty mtls block means STRICT
    return DISABLE


def _targets_service(policy: dict[str, Any], fqdn: str, port: dict[str, Any], domain: str) -> bool:
    for target in o.as_list(o.spec(policy).get("targets")):
        target = o.as_dict(target)
        if hosts.resolve(o.as_str(target.get("name")), o.namespace(policy), domain) != fqdn:
            continue
        ports = [o.as_dict(p) for p in o.as_list(target.get("ports"))]
        if not ports or any(p.get("number") == port.get("port") or
                            (p.get("name") and p.get("name") == port.get("name")) for p in ports):
            return True
    return False


def legacy_server_mode(policies: Sequence[dict[str, Any]], mesh_policies: Sequence[dict[str, Any]],
                       service: dict[str, Any],
                       port: dict[str, Any], domain: str) -> ServerMode:
    """Per Service and Service port: the oldest service-specific Policy, else the namespace `default`
    Policy, else MeshPolicy `default`, else plaintext only."""
    fqdn = hosts.service_fqdn(o.name(service), o.namespace(service), domain)
    specific = sorted((p for p in policies if _targets_service(p, fqdn, port, domain)), key=creation_order)
    if specific:
        return ServerMode(_legacy_mode(specific[0]), (Decider("Policy", ref(specific[0]), "service"),))
    for policy in policies:
        if o.namespace(policy) == o.namespace(service) and o.name(policy) == "default" and \
                not o.as_list(o.spec(policy).get("targets")):
            return ServerMode(_legacy_mode(policy), (Decider("Policy", ref(policy), NAMESPACE_LEVEL),))
    for policy in mesh_policies:
        if o.name(policy) == "default":
            return ServerMode(_legacy_mode(policy), (Decider("MeshPolicy", o.name(policy), MESH_LEVEL),))
    return ServerMode(DISABLE, (Decider("no policy", "-", "default: plaintext only before Istio 1.5"),))


# --------------------------------------------------------------------------------------- the server

@dataclass(frozen=True, eq=False)
class ServerInputs:
    """What decides the server side, with the answers that are the same for every pod worked out once
    (cached: a scan asks for every pod of every port of every host)."""

    snapshot: Snapshot
    settings: MeshSettings

    @property
    def peer_authentications(self) -> tuple[dict[str, Any], ...]:
        return self.snapshot.all("peerauthentications")

    @property
    def policies(self) -> tuple[dict[str, Any], ...]:
        return self.snapshot.all("policies")

    @property
    def mesh_policies(self) -> tuple[dict[str, Any], ...]:
        return self.snapshot.all("meshpolicies")

    def peers_for(self, namespace: str) -> list[dict[str, Any]]:
        """Only the pod's namespace and the root namespace hold candidates (§A.1): read just those."""
        root = self.settings.root_namespace
        return [*self.snapshot.in_namespace("peerauthentications", namespace),
                *(self.snapshot.in_namespace("peerauthentications", root) if root != namespace else ())]

    @cached_property
    def legacy(self) -> bool:
        """Before 1.5 only the alpha API exists; with an unknown version, alpha objects and no PA mean alpha."""
        version = self.settings.version
        if version is not None:
            return not version.at_least(1, 5)
        return not self.peer_authentications and bool(self.policies or self.mesh_policies)

    @cached_property
    def alpha_unless_peer_authentication(self) -> bool:
        """Istio 1.5 with alpha policies: a pod no PeerAuthentication applies to keeps the alpha mode."""
        version = self.settings.version
        return version is not None and not version.at_least(1, 6) and bool(self.policies or self.mesh_policies)

    @cached_property
    def ambient_served(self) -> bool:
        """Sidecars and gateways send HBONE to ztunnel-captured pods from 1.22 (or an unknown version)."""
        version = self.settings.version
        return version is None or version >= FIRST_AMBIENT


def pod_peer_policies(inputs: ServerInputs, pod: dict[str, Any]) -> PeerPolicies:
    """peer_policies for one pod, worked out once per snapshot for each namespace and for the values of
    the labels its candidates select on (all the pods of a Deployment, or of a namespace without
    workload selectors, share them): every host of a scan asks again for its pods."""
    namespace, root = o.namespace(pod), inputs.settings.root_namespace
    keys = _selector_keys(inputs, namespace)
    values = tuple(o.label(pod, key) for key in keys)
    return inputs.snapshot.derived(("peer-policies", namespace, root, values), lambda: peer_policies(
        inputs.peers_for(namespace), namespace, o.labels(pod), root))


def _selector_keys(inputs: ServerInputs, namespace: str) -> tuple[str, ...]:
    """The label keys a PeerAuthentication of the namespace (or root namespace) selects on: the only
    labels peer_policies reads (o.selector_matches looks up just the selector's keys)."""
    return inputs.snapshot.derived(("peer-selector-keys", namespace, inputs.settings.root_namespace), lambda: tuple(
        sorted({key for pa in inputs.peers_for(namespace) for key in selector_of(pa)})))


def server_mode(inputs: ServerInputs, pod: dict[str, Any], service: dict[str, Any], port: dict[str, Any]) -> ServerMode:
    return server_modes(inputs, pod, service, (port,))[0]


def server_modes(inputs: ServerInputs, pod: dict[str, Any], service: dict[str, Any],
                 ports: Sequence[dict[str, Any]]) -> list[ServerMode]:
    """What the pod accepts on each of the Service's ports; what decides it is looked up once per pod."""
    if not has_sidecar(pod):
        if ambient_server(inputs, pod):
            # ztunnel fronts the pod and enforces its PeerAuthentication (mesh/ambient.py)
            peers = pod_peer_policies(inputs, pod)
            return [ServerMode(found.mode, (Decider("ztunnel", ref(pod), "ambient"), *found.deciders))
                    for found in (pa_server_mode(peers, target_port(port, pod)) for port in ports)]
        return [ServerMode(NO_SIDECAR, (Decider("Pod", ref(pod), "no istio-proxy: plaintext only"),))] * len(ports)
    domain = inputs.settings.cluster_domain
    if inputs.legacy:
        return [legacy_server_mode(inputs.policies, inputs.mesh_policies, service, port, domain) for port in ports]
    peers = pod_peer_policies(inputs, pod)
    if inputs.alpha_unless_peer_authentication and not peers.any:  # 1.5: the alpha mode if no PA applies
        return [legacy_server_mode(inputs.policies, inputs.mesh_policies, service, port, domain) for port in ports]
    # pods with the same policies share their modes on the same target ports (a Deployment's)
    numbers = tuple(target_port(port, pod) for port in ports)
    return inputs.snapshot.derived_for(peers, ("pa-server-modes", numbers),
                                       lambda: [pa_server_mode(peers, number) for number in numbers])


def ambient_server(inputs: ServerInputs, pod: dict[str, Any]) -> bool:
    """A pod ztunnel captured, in an Istio that sends HBONE to it from sidecars and gateways (1.22+)."""
    return inputs.ambient_served and is_ambient(inputs.snapshot, pod)


def namespace_mode(inputs: ServerInputs, namespace: str) -> ServerMode:
    """What auto mTLS believes about a service: its namespace's (or the mesh's) PeerAuthentication only.
    Once per snapshot and namespace."""
    root = inputs.settings.root_namespace

    def build() -> ServerMode:
        peers = peer_policies(inputs.peers_for(namespace), namespace, {}, root)
        return pa_server_mode(PeerPolicies(peers.mesh, peers.namespace, None, (), ()), None)
    return inputs.snapshot.derived(("namespace-mode", namespace, root), build)


# ---------------------------------------------------------------------------------------- the client

TLS_MODE_LABEL = "security.istio.io/tlsMode"


@dataclass(frozen=True)
class ClientMode:
    explicit: str | None   # DISABLE | SIMPLE | MUTUAL | ISTIO_MUTUAL, or None when no tls applies
    deciders: tuple[str, ...]  # "bookinfo/reviews top-level", "... portLevelSettings 9080", "... subset v1"
    auto: bool              # the mode is left to auto mTLS
    auto_mode: str | None   # what auto mTLS resolves to for the service: ISTIO_MUTUAL or DISABLE
    auto_reason: str = ""

    def sends_to(self, pod: dict[str, Any]) -> str:
        """The mode on the wire to one endpoint: auto mTLS sends mTLS only to pods labelled tlsMode=istio."""
        return self.sends(o.label(pod, TLS_MODE_LABEL) == "istio")

    def sends(self, istio_labelled: bool) -> str:
        if self.explicit is not None:
            return self.explicit
        if self.auto and self.auto_mode == ISTIO_MUTUAL and istio_labelled:
            return ISTIO_MUTUAL
        return PLAINTEXT

    def label(self) -> str:
        if self.explicit is not None:
            return self.explicit
        if self.auto:
            return f"AUTO -> {self.auto_mode}"
        return "plaintext (no tls set, auto mTLS off)"


def _tls_of(policy: dict[str, Any], port: dict[str, Any]) -> tuple[bool, Any, str]:
    """(applies, tls, where) for one trafficPolicy and Service port; a matching portLevelSettings entry
    replaces the whole block, so an entry without tls means no tls at all."""
    for entry in o.as_list(policy.get("portLevelSettings")):
        entry = o.as_dict(entry)
        selector = o.as_dict(entry.get("port"))
        named = selector.get("name") and selector.get("name") == port.get("name")
        if selector.get("number") == port.get("port") or named:
            return True, entry.get("tls"), f"portLevelSettings {port.get('port')}"
    if "tls" in policy:
        return True, policy.get("tls"), "top-level"
    return False, None, ""


def _mode_of(tls: Any) -> str | None:
    if tls is None:
        return None
    mode = o.as_str(o.as_dict(tls).get("mode")).upper()
    return mode if mode in (ISTIO_MUTUAL, SIMPLE, MUTUAL) else PLAINTEXT  # tls: {} means DISABLE


def client_mode(found: DRLookup, port: dict[str, Any], subset: str, auto: tuple[bool, str | None, str],
                settings: MeshSettings) -> ClientMode:
    """auto = (auto mTLS enabled, what it resolves to for the service, why)."""
    tls, deciders = None, []
    merged = found.merged
    if merged is not None and merged.policy_from is not None:
        applies, value, where = _tls_of(merged.traffic_policy, port)
        if applies:
            tls, deciders = value, [f"{dr_ref(merged.policy_from)} {where}"]
    definition = merged.subset(subset) if merged is not None and subset else None
    if definition is not None:
        sub_policy = o.as_dict(definition.spec.get("trafficPolicy"))
        applies, value, where = _tls_of(sub_policy, port)
        if applies and (value is not None or where.startswith("portLevel")):
            tls = value
            deciders.append(f"{dr_ref(definition.rule)} subset {subset} {where}")
    mode = _mode_of(tls)
    if mode is not None:
        return ClientMode(mode, tuple(deciders), False, None)
    enabled, auto_mode, reason = auto
    if settings.version is not None and not settings.version.at_least(1, 1) and merged is None and \
            settings.auth_policy == "MUTUAL_TLS":
        return ClientMode(ISTIO_MUTUAL, ("mesh config authPolicy MUTUAL_TLS (Istio 1.0, no DestinationRule)",),
                          False, None)
    return ClientMode(None, tuple(deciders), enabled, auto_mode if enabled else None, reason)


# ------------------------------------------------------------------------------------------ verdict

def verdict(sent: str, server: str, http_port: bool) -> str:
    """§A.4: can a client sending `sent` talk to a server in mode `server` on this port? HBONE (mutual TLS
    to port 15008) is accepted by ztunnel and by sidecars whatever the mode."""
    if sent == HBONE:
        return OK
    if server == NO_SIDECAR:
        return CONFLICT if sent == ISTIO_MUTUAL else OK
    if sent == ISTIO_MUTUAL:
        return CONFLICT if server == DISABLE else OK
    if sent == PLAINTEXT:
        return CONFLICT if server == STRICT else OK
    # SIMPLE / MUTUAL originated by the sidecar: never accepted by STRICT; only passed through to an
    # application that terminates TLS on TCP or sniffed ports, never on HTTP-declared ones.
    if server == STRICT or http_port:
        return CONFLICT
    return OK


# ------------------------------------------------------------------------------------------ the table

def auto_resolution(inputs: ServerInputs, service: dict[str, Any], pods: list[dict[str, Any]],
                    port: dict[str, Any]) -> tuple[bool, str | None, str]:
    """What auto mTLS decides for a service (BestEffortInferServiceMTLSMode): plaintext for a headless
    service with any endpoint lacking a sidecar (or none); else the service namespace's namespace- or
    mesh-level mode only (1.4: the legacy policy of the Service port). Workload and port-level
    PeerAuthentications are not consulted: that is the blind spot."""
    settings = inputs.settings
    if not settings.auto_mtls:
        return False, None, "auto mTLS is off"
    if o.spec(service).get("clusterIP") == "None" and (not pods or not all(has_sidecar(p) for p in pods)):
        return True, PLAINTEXT, "headless service with endpoints lacking a sidecar: plaintext to every endpoint"
    if inputs.legacy:
        mode = legacy_server_mode(inputs.policies, inputs.mesh_policies, service, port, settings.cluster_domain)
    else:
        mode = namespace_mode(inputs, o.namespace(service))
        if _alpha_fallback(inputs, mode):
            mode = legacy_server_mode(inputs.policies, inputs.mesh_policies, service, port, settings.cluster_domain)
            if mode.deciders[0].kind == "no policy":
                mode = ServerMode(PERMISSIVE, (Decider("no policy", "-", "Istio 1.5 default: PERMISSIVE"),))
    if mode.mode == DISABLE:
        return True, PLAINTEXT, f"the namespace/mesh mode is DISABLE ({mode.label()})"
    return True, ISTIO_MUTUAL, f"the namespace/mesh mode is {mode.mode} ({mode.label()})"


def _alpha_fallback(inputs: ServerInputs, namespace_level: ServerMode) -> bool:
    """Istio 1.5 only: with no namespace or mesh PeerAuthentication, auto mTLS takes the mode of the alpha
    authentication Policy for the service and port (@1.5.10 pilot/pkg/model/push_context.go
    BestEffortInferServiceMTLSMode: beta namespace mode, else AuthenticationPolicyForWorkload, else
    PERMISSIVE). 1.6 removed the alpha API."""
    version = inputs.settings.version
    if version is None or version.at_least(1, 6) or not version.at_least(1, 5):
        return False
    from_peer_authentication = any(d.kind == "PeerAuthentication" for d in namespace_level.deciders)
    return not from_peer_authentication and bool(inputs.policies or inputs.mesh_policies)


@dataclass(frozen=True, eq=False)
class Endpoint:
    pod: dict[str, Any]
    server: ServerMode
    sent: str
    verdict: str


@dataclass(frozen=True, eq=False)
class Reception:
    """What the pods of one kind (PodKind) get from one client on one port."""

    server: ServerMode
    sent: str
    verdict: str


@dataclass(frozen=True, eq=False)
class Members:
    """The pods behind a row, each with its kind: shared by the rows of one subset."""

    pods: tuple[dict[str, Any], ...]
    kinds: tuple[PodKind, ...]


@dataclass(frozen=True, eq=False)
class TlsRow:
    """One client view of a Service port and subset. The verdicts are worked out once per kind of pod
    (a Deployment's pods are one kind) and spelled out per pod only when asked for."""

    host: str
    service: dict[str, Any]
    port: dict[str, Any]
    subset: str
    client_ns: str
    lookup: DRLookup
    client: ClientMode
    members: Members
    receptions: dict[PodKind, Reception]

    @cached_property
    def endpoints(self) -> tuple[Endpoint, ...]:
        return tuple(Endpoint(pod, got.server, got.sent, got.verdict)
                     for pod, kind in zip(self.members.pods, self.members.kinds, strict=True)
                     for got in (self.receptions[kind],))

    @property
    def pods(self) -> tuple[dict[str, Any], ...]:
        return self.members.pods

    @property
    def status(self) -> str:
        if any(got.verdict == CONFLICT for got in self.receptions.values()):
            return CONFLICT
        if not self.members.pods:
            return "NO PODS"
        return AUTO if self.client.explicit is None and self.client.auto else OK

    @property
    def conflicts(self) -> tuple[Endpoint, ...]:
        if not any(got.verdict == CONFLICT for got in self.receptions.values()):
            return ()
        return tuple(e for e in self.endpoints if e.verdict == CONFLICT)

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port.get('port')}" + (f"|{self.subset}" if self.subset else "")

    def server_label(self) -> str:
        modes: dict[str, int] = {}
        for kind in self.members.kinds:
            mode = self.receptions[kind].server.mode
            modes[mode] = modes.get(mode, 0) + 1
        if len(modes) == 1:
            return next(iter(modes))
        return ", ".join(f"{m} ({n})" for m, n in modes.items()) or "-"

    def policy_label(self) -> str:
        labels = dict.fromkeys(self.receptions[kind].server.short_label() for kind in dict.fromkeys(self.members.kinds))
        return "; ".join(labels) or "-"

    def rule_label(self) -> str:
        return ", ".join(self.client.deciders) or (
            ", ".join(dr_ref(r) for r in self.lookup.merged.rules) + " (no tls)" if self.lookup.merged else "-")



def subset_pods(pods: list[dict[str, Any]], found: DRLookup, subset: str) -> list[dict[str, Any]]:
    if not subset or found.merged is None or found.merged.subset(subset) is None:
        return pods
    definition = found.merged.subset(subset)
    labels = {k: v for k, v in o.as_dict(definition.spec.get("labels") if definition else {}).items()
              if isinstance(v, str)}
    return [p for p in pods if o.selects(labels, p)]


def ambient_clients(inputs: ServerInputs, namespace: str) -> bool:
    """Clients in the namespace are ztunnel-captured (an ambient namespace, 1.22+): they send HBONE to
    captured pods and to sidecars, plaintext to pods outside the mesh, whatever DestinationRules say."""
    return inputs.ambient_served and namespace_is_ambient(inputs.snapshot, namespace)


@dataclass(frozen=True, eq=False)
class PodKind:
    """What decides how a pod behind the Service is reached, whoever the client: one object per kind of
    pod in a host (the pods of a Deployment share their server modes, labels and data plane)."""

    servers: list[ServerMode]  # what it accepts, per Service port
    sidecar: bool
    tunnelled: bool            # ztunnel captured it: sidecars and gateways send it HBONE
    istio_labelled: bool       # tlsMode=istio: auto mTLS sends it mutual TLS

    @classmethod
    def of(cls, inputs: ServerInputs, pod: dict[str, Any], service: dict[str, Any],
           ports: Sequence[dict[str, Any]]) -> PodKind:
        sidecar = has_sidecar(pod)  # a pod with a sidecar is never ztunnel's (mesh/ambient.py)
        return cls(server_modes(inputs, pod, service, ports), sidecar,
                   not sidecar and ambient_server(inputs, pod), o.label(pod, TLS_MODE_LABEL) == "istio")

    @property
    def key(self) -> tuple[int, bool, bool, bool]:
        """Pods with the same key are one kind: their server modes are the same objects (server_modes)."""
        return id(self.servers), self.sidecar, self.tunnelled, self.istio_labelled

    def sent(self, client: ClientMode, ztunnel_client: bool) -> str:
        """What reaches the pod: HBONE to a captured pod (from sidecars and gateways too) and from ztunnel
        to a sidecar; ztunnel sends plaintext to a pod outside the mesh; else the client's mode."""
        if self.tunnelled or (ztunnel_client and self.sidecar):
            return HBONE
        return PLAINTEXT if ztunnel_client else client.sends(self.istio_labelled)

    def reception(self, port: int, client: ClientMode, ztunnel_client: bool, http_like: bool) -> Reception:
        server, sent = self.servers[port], self.sent(client, ztunnel_client)
        return Reception(server, sent, verdict(sent, server.mode, http_like))


def build_rows(snapshot: Snapshot, views_of: Callable[[ServiceName], list[ClientView]], target: Target,
               settings: MeshSettings, lookup_for: Callable[[str, str, str | None], DRLookup]) -> list[TlsRow]:
    """One row per client view of each Service x Service port x subset (the default cluster first),
    each with the server mode and verdict of every pod behind it."""
    inputs = ServerInputs(snapshot, settings)
    rows = []
    for name in target.services:
        views = views_of(name)
        service = snapshot.get("services", name.namespace, name.name)
        if service is None or o.spec(service).get("type") == "ExternalName":
            continue
        pods = service_pods(snapshot, service)
        host = hosts.service_fqdn(name.name, name.namespace, settings.cluster_domain)
        ports = service_ports(service)
        # what a pod accepts on a port does not depend on the client: worked out once per host
        auto = [auto_resolution(inputs, service, pods, port) for port in ports]
        http_like = [derive(port, settings.version).http_like for port in ports]
        kinds: dict[tuple[int, bool, bool, bool], PodKind] = {}
        receivers = {id(pod): kinds.setdefault(r.key, r)
                     for pod in pods for r in (PodKind.of(inputs, pod, service, ports),)}
        selected: dict[int | None, Members] = {}  # the pods of each subset definition
        # what a client sends depends on the merged rule it found, not on its namespace: client
        # namespaces whose lookups found the same rules share their verdicts
        judged: dict[tuple[tuple[int, ...], int, str, bool],
                     tuple[ClientMode, Members, dict[PodKind, Reception]]] = {}
        for view in views:
            found = lookup_for(view.namespace, host, name.namespace)
            rules = tuple(id(r) for r in found.merged.rules) if found.merged else ()
            ztunnel_client = ambient_clients(inputs, view.namespace)
            subsets = ["", *(s.name for s in found.merged.subsets)] if found.merged else [""]
            for i, port in enumerate(ports):
                for subset in subsets:
                    if (rules, i, subset, ztunnel_client) not in judged:
                        client = client_mode(found, port, subset, auto[i], settings)
                        definition = found.merged.subset(subset) if subset and found.merged else None
                        key = id(definition.spec) if definition is not None else None
                        if key not in selected:
                            chosen = tuple(subset_pods(pods, found, subset))
                            selected[key] = Members(chosen, tuple(receivers[id(pod)] for pod in chosen))
                        members = selected[key]
                        judged[(rules, i, subset, ztunnel_client)] = client, members, {
                            kind: kind.reception(i, client, ztunnel_client, http_like[i])
                            for kind in dict.fromkeys(members.kinds)}
                    client, members, receptions = judged[(rules, i, subset, ztunnel_client)]
                    rows.append(TlsRow(host, service, port, subset, view.namespace, found, client, members,
                                       receptions))
    return rows
