"""Ambient data plane: L7 rules without a waypoint, waypoints that do not serve, pods left uncaptured.

The ambient forms of the guidelines' "route rules have no effect" and "pods without a sidecar": ztunnel
only moves bytes (mTLS, L4 policy), so routing and DestinationRule policies need a waypoint; a label
that names a missing or unready waypoint silently drops them or breaks the traffic; a pod in an ambient
namespace that istio-cni never captured is outside the mesh. Semantics and sources: mesh/ambient.py.
"""

from __future__ import annotations

from typing import Any

from kubectl_meshdoctor.checks.base import check
from kubectl_meshdoctor.checks.context import CannotTell, CheckContext, has_workloads, host_pods, reads
from kubectl_meshdoctor.checks.findings import Problem, ResourceRef
from kubectl_meshdoctor.mesh import ambient as amb
from kubectl_meshdoctor.mesh import virtualservices as vss
from kubectl_meshdoctor.mesh import workloads as w
from kubectl_meshdoctor.snapshot import objects as o


@reads("services")
def asks_ambient(ctx: CheckContext) -> str | None:
    """`applies` for the ambient checks about the host's pods (without pods to look at, the checks'
    own needs say why they are skipped)."""
    not_run = has_workloads(ctx)
    if not_run or not ctx.snapshot.readable("pods") or not ctx.snapshot.readable("namespaces"):
        return not_run  # which namespaces ask for ambient is unknown: the needs say so
    if not ctx.ambient_pods:
        return "no pod behind the host runs in (or asks for) ambient mode"
    return None


# ------------------------------------------------------------------------------------------- MD550

# What a route rule can do beyond "send to the host": each is lost when no Envoy applies the rule.
ROUTE_EFFECTS = ("match", "fault", "retries", "timeout", "rewrite", "redirect", "mirror", "mirrors",
                 "mirrorPercentage", "headers", "corsPolicy", "directResponse", "delegate")


def _rule_effects(rule: dict[str, Any], host: str, vs_ns: str, domain: str) -> list[str]:
    effects = [key for key in ROUTE_EFFECTS if rule.get(key)]
    destinations = list(vss.destinations_of(rule, vs_ns, domain))
    if len(destinations) > 1:
        effects.append("weighted split" if any(d.weight for d in destinations) else "several destinations")
    if any(d.subset for d in destinations):
        effects.append("subsets")
    if any(d.host != host for d in destinations):
        effects.append("another destination host")
    return effects


def l7_rules(ctx: CheckContext) -> list[tuple[dict[str, Any], str, str]]:
    """(object, kind, what it does at layer 7) for the host, leaving out what changes nothing when
    ignored: mesh VirtualServices whose http rules match, split, retry, rewrite... (a lone route to the
    host itself does nothing), and DestinationRules with a traffic policy beyond `tls` (ztunnel does mutual
    TLS anyway; subsets only matter through the routes that use them). Gateway-bound VirtualServices are
    applied by the gateway's Envoy, so they are not in the list."""
    model = ctx.routing
    found: list[tuple[dict[str, Any], str, str]] = []
    for vs in model.declaring:
        if vss.MESH not in vss.vs_gateways(vs):
            continue
        effects = [(i, e) for i, rule in enumerate(o.as_list(o.spec(vs).get("http")))
                   if (e := _rule_effects(o.as_dict(rule), model.host, o.namespace(vs), model.domain))]
        if effects:
            found.append((vs, "VirtualService", "; ".join(f"http rule #{i + 1}: {', '.join(e)}" for i, e in effects)))
    for dr in model.index.rules_for(model.host):
        spec = o.spec(dr)
        policies = [("trafficPolicy", o.as_dict(spec.get("trafficPolicy")))] + [
            (f"subset {o.as_str(o.as_dict(s).get('name'))} trafficPolicy", o.as_dict(o.as_dict(s).get("trafficPolicy")))
            for s in o.as_list(spec.get("subsets"))]
        parts = [f"{where} ({', '.join(sorted(set(policy) - {'tls'}))})" for where, policy in policies
                 if set(policy) - {"tls"}]
        if parts:
            found.append((dr, "DestinationRule", "; ".join(parts)))
    return found


@check("MD550", needs=("services", "pods", "namespaces", "virtualservices", "destinationrules"),
       applies=asks_ambient)
def ambient_l7_without_waypoint(ctx: CheckContext) -> list[Problem]:
    pods = host_pods(ctx)
    if not all(amb.asks_ambient(ctx.snapshot, p) for p in pods):
        return []  # some pods have sidecars: MD502/MD552 say what is mixed; routing is the client's anyway
    rules = l7_rules(ctx)  # the host's rules: the same for each of its Services
    if not rules:
        return []
    findings = []
    for svc in ctx.workload_services:
        if amb.waypoint_for_service(ctx.snapshot, svc) is not None:
            continue  # a waypoint is named: it serves (silent) or MD551 says why it does not
        ns = o.namespace(svc)
        listed = "; ".join(f"{kind} {o.namespace(obj)}/{o.name(obj)}: {what}" for obj, kind, what in rules)
        findings.append(Problem(
            f"The pods behind Service {ns}/{o.name(svc)} run in ambient mode and no waypoint serves it, so "
            f"ztunnel carries its traffic at layer 4 only and these layer-7 rules are ignored for ambient "
            f"clients (only clients with a sidecar, and gateways, still apply them): {listed}",
            ctx.target.host, (ResourceRef.of("Service", svc, "no waypoint"),
                              *(ResourceRef.of(kind, obj, "layer-7 rules") for obj, kind, _ in rules)),
            {"waypoint": None, "rules": [{"kind": kind, "namespace": o.namespace(obj), "name": o.name(obj),
                                          "layer7": what} for obj, kind, what in rules]},
            (f"Give the namespace a waypoint and enrol it: `istioctl waypoint apply -n {ns} --enroll-namespace` "
             f"(or, for this Service only, `istioctl waypoint apply -n {ns}` and "
             f"`kubectl label service {o.name(svc)} -n {ns} {amb.USE_WAYPOINT}=waypoint`).",
             "Check that the waypoint is ready before relying on the rules: "
             f"`kubectl get gateway waypoint -n {ns}` shows PROGRAMMED True.",
             "If only sidecar clients and gateways call this host, the rules do apply to them; a waypoint "
             "makes them apply to every client.")))
    return findings


# ------------------------------------------------------------------------------------------- MD551

def _named_waypoints(ctx: CheckContext) -> list[tuple[dict[str, Any], str, amb.WaypointUse]]:
    """(object, kind, the waypoint it names) for the host's Services and their pods."""
    named: list[tuple[dict[str, Any], str, amb.WaypointUse]] = []
    for svc in ctx.workload_services:
        use = amb.waypoint_for_service(ctx.snapshot, svc)
        if use is not None:
            named.append((svc, "Service", use))
        for pod in w.service_pods(ctx.snapshot, svc):
            if amb.USE_WAYPOINT in o.labels(pod):
                pod_use = amb.waypoint_for_pod(ctx.snapshot, pod)
                if pod_use is not None:
                    named.append((pod, "Pod", pod_use))
    return named


@reads("services")
def names_a_waypoint(ctx: CheckContext) -> str | None:
    not_run = has_workloads(ctx)
    if not_run:
        return not_run
    if not _named_waypoints(ctx) and ctx.snapshot.readable("namespaces"):
        return (f"no {amb.USE_WAYPOINT} label on the host's Services, their namespaces or pods: no waypoint "
                "is asked for")
    return None


@check("MD551", needs=("services", "namespaces"), applies=names_a_waypoint,
       uses=("pods", "k8sgateways", "gatewayclasses", "waypointpods"))
def waypoint_not_ready(ctx: CheckContext) -> list[Problem]:
    if not ctx.snapshot.readable("k8sgateways"):
        raise CannotTell(f"a waypoint is named, but Gateway API Gateways could not be read: "
                         f"{ctx.snapshot.status('k8sgateways').reason()}")
    findings, unknown = [], []
    for obj, kind, use in _named_waypoints(ctx):
        if use.unknown:
            unknown.append(use.unknown)
        if use.serves:
            continue
        ns, name = use.ref.split("/", 1)
        steps = [_waypoint_fix(use, ns, name)]
        steps.append(f"Or stop asking for it: `kubectl label {kind.lower()} {o.name(obj)} -n {o.namespace(obj)} "
                     f"{amb.USE_WAYPOINT}-`" if "on Namespace" not in use.named_by else
                     f"Or stop asking for it: `kubectl label namespace {o.namespace(obj)} {amb.USE_WAYPOINT}-`")
        findings.append(Problem(
            f"{kind} {o.namespace(obj)}/{o.name(obj)} is to use waypoint {use.ref} ({use.named_by}), but "
            f"{use.problem}: {use.breaks}",
            ctx.target.host, (ResourceRef.of(kind, obj, "uses the waypoint"),
                              *([ResourceRef("Gateway", ns, name, "waypoint")] if use.gateway is not None else [])),
            {"waypoint": use.ref, "namedBy": use.named_by, "problem": use.problem, "trafficType": use.traffic_type,
             "readyPods": list(use.ready_pods)},
            tuple(steps)))
    if unknown and not findings:
        raise CannotTell("; ".join(dict.fromkeys(unknown)))
    return findings


def _waypoint_fix(use: amb.WaypointUse, ns: str, name: str) -> str:
    if use.gateway is None:
        return f"Create the waypoint: `istioctl waypoint apply -n {ns} --name {name}` (then check it is ready)."
    if "class" in use.problem:
        return (f"Name a waypoint (a Gateway of class {amb.WAYPOINT_CLASS}) instead: `istioctl waypoint apply -n {ns}` "
                "creates one called `waypoint`.")
    if "traffic" in use.problem:
        return (f"Let the waypoint take this traffic: `kubectl label gateway {name} -n {ns} "
                f"{amb.WAYPOINT_FOR}=all --overwrite` (or `service`/`workload` as asked).")
    return (f"Find out why its pods are not ready: `kubectl get pods -n {ns} -l {amb.GATEWAY_NAME}={name}` and "
            f"`kubectl describe gateway {name} -n {ns}` (its Programmed condition says why).")


# ------------------------------------------------------------------------------------------- MD552

@check("MD552", needs=("services", "pods", "namespaces"), applies=asks_ambient, uses=("ztunnelpods",))
def ambient_not_captured(ctx: CheckContext) -> list[Problem]:
    modes = {o.name(p): (p, amb.dataplane_mode(ctx.snapshot, p)) for p in host_pods(ctx)}
    # a pod not running yet (Pending) or any more is captured, or not, when it starts: not a finding
    left = {name: (pod, mode) for name, (pod, mode) in modes.items()
            if mode.uncaptured and o.status(pod).get("phase", "Running") == "Running"}
    if not left:
        return []
    nodes = amb.ztunnel_nodes(ctx.snapshot) if ctx.snapshot.readable("ztunnelpods") else None
    reasons = {name: _why_uncaptured(pod, mode, nodes) for name, (pod, mode) in left.items()}
    namespaces = sorted({o.namespace(pod) for pod, _ in left.values()})
    steps = []
    if nodes is not None and not any(nodes.values()):
        steps.append("Install or repair ambient first: no ready ztunnel runs in the cluster "
                     "(`kubectl get pods -A -l app=ztunnel -o wide`; `istioctl install --set profile=ambient`).")
    elif nodes is not None:
        steps.append("Check ztunnel on the pods' nodes: `kubectl get pods -A -l app=ztunnel -o wide`.")
    steps.append("Once istio-cni and ztunnel run on the node, recreate the pods so istio-cni captures them: "
                 f"{w.recreate_commands(pod for pod, _ in left.values())}.")
    return [Problem(
        f"{len(left)} of {len(modes)} pods behind {ctx.target.host} are meant to run in ambient mode "
        f"(namespace {', '.join(namespaces)}) but ztunnel does not carry their traffic, so they are outside the "
        "mesh (no mTLS, no policy; STRICT clients cannot reach them): "
        + ", ".join(f"{n} ({why})" for n, why in reasons.items()),
        ctx.target.host, tuple(ResourceRef.of("Pod", pod, "not captured") for pod, _ in left.values()),
        {"podsNotCaptured": reasons, "pods": len(modes),
         "ztunnelNodes": None if nodes is None else {k: ("ready" if v else "not ready") for k, v in nodes.items()}},
        tuple(steps))]


def _why_uncaptured(pod: dict[str, Any], mode: amb.DataplaneMode, nodes: dict[str, bool] | None) -> str:
    node = o.as_str(o.spec(pod).get("nodeName"))
    if nodes is not None and not nodes:
        return f"{mode.reason}; no ztunnel pod runs in the cluster"
    if nodes is not None and node and not nodes.get(node, False):
        return f"{mode.reason}; no ready ztunnel on its node {node}"
    if mode.pending:
        return mode.reason
    return f"{mode.reason} (started before istio-cni was running on its node?)"

