"""Subsets and reconfiguration ("503 errors while reconfiguring service routes").

Does every routed subset exist in the DestinationRule its clients use, and does it select ready pods;
would applying this change in one go open a 503 window; has the last change reached the proxies
(istiod's /debug/syncz, ISTIO-SEMANTICS.md §G)?
"""

from __future__ import annotations

import json
from collections import defaultdict
from typing import Any

from kubectl_meshdoctor.checks.base import check, reads
from kubectl_meshdoctor.checks.context import (
    CannotTell,
    CheckContext,
    Superseded,
    has_workloads,
    host_pods,
    istio_gateway_pods,
    probed,
)
from kubectl_meshdoctor.checks.findings import Problem, ResourceRef
from kubectl_meshdoctor.checks.severity import Severity
from kubectl_meshdoctor.mesh import destinationrules as drs
from kubectl_meshdoctor.mesh import virtualservices as vss
from kubectl_meshdoctor.mesh import workloads as w
from kubectl_meshdoctor.mesh.changes import Plan, plan
from kubectl_meshdoctor.mesh.endpointlabels import (
    AUGMENTED_KEYS,
    DEFAULT_CLUSTER_ID,
    LOCALITY_KEYS,
    EndpointLabels,
    augmented,
)
from kubectl_meshdoctor.mesh.views import RoutedDestination
from kubectl_meshdoctor.mesh.workloads import has_sidecar
from kubectl_meshdoctor.snapshot import objects as o
from kubectl_meshdoctor.snapshot.evidence import PortAnswer


def hazard_problems(result: Plan, host: str | None = None) -> list[Problem]:
    """MD304 problems for the hazards of a plan (only those of `host`, when given)."""
    findings = []
    for hazard in result.hazards:
        if host is not None and hazard.host != host:
            continue
        fix = ("Apply in the order `kubectl meshdoctor plan -f CHANGE` prints: DestinationRules that add subsets, "
               "wait, VirtualServices, wait, DestinationRules that remove subsets.",) if hazard.kind == "window" else (
               f"Define subset {hazard.subset} in the DestinationRule the route's clients use, or route elsewhere; "
               "no order of apply makes this change safe as it stands.",)
        findings.append(Problem(hazard.message, hazard.host,
            tuple(ResourceRef(kind, ns, name, role) for kind, ns, name, role in hazard.objects),
            {"hazard": "503 window during apply" if hazard.kind == "window" else "never safe",
             "subset": hazard.subset}, fix, subset=hazard.subset))
    return findings


@reads()
def _has_change(ctx: CheckContext) -> str | None:
    return None if ctx.change is not None else "needs a change to judge: pass -f FILES (what-if) or use `plan`"


@check("MD304", needs=("virtualservices", "destinationrules"), applies=_has_change)
def unsafe_apply_order(ctx: CheckContext) -> list[Problem]:
    assert ctx.change is not None
    return hazard_problems(plan(ctx.change, ctx.settings), ctx.target.host)


XDS_TYPES = (("cluster", "CDS"), ("listener", "LDS"), ("route", "RDS"), ("endpoint", "EDS"))


def read_syncz(answer: PortAnswer) -> list[dict[str, Any]] | str:
    """The proxies one istiod reports, or why its answer could not be read."""
    body, why = answer.body()
    return why if why else _entries(body, answer)


def _entries(body: bytes, answer: PortAnswer) -> list[dict[str, Any]] | str:
    try:
        entries = json.loads(body or b"null")
    except ValueError:
        return "answered something that is not JSON" + (" (cut at the byte cap)" if answer.truncated else "")
    return [e for e in entries if isinstance(e, dict)] if isinstance(entries, list) else "answered no proxy list"


def sync_verdicts(entry: dict[str, Any]) -> dict[str, str]:
    """istioctl proxy-status's words per xDS type: SYNCED, NOT SENT, STALE, ERROR (1.23+)."""
    verdicts = {}
    for key, label in XDS_TYPES:
        sent, acked = str(entry.get(f"{key}_sent") or ""), str(entry.get(f"{key}_acked") or "")
        error = str(entry.get(f"{key}_error") or entry.get(f"{key}_last_error") or "")
        verdicts[label] = ("ERROR" if error else "NOT SENT" if not sent else "SYNCED" if sent == acked else
                           "STALE (never acknowledged)" if not acked else "STALE")
    return verdicts


@check("MD303", needs=("pods", "istiodpods"), applies=probed)
def proxies_not_synced(ctx: CheckContext) -> list[Problem]:
    answers = {f"{a.namespace}/{a.pod}": read_syncz(a) for a in ctx.evidence.syncz}
    readable = {pod: entries for pod, entries in answers.items() if isinstance(entries, list)}
    if not readable:
        why = "; ".join(f"{pod}: {err}" for pod, err in answers.items()) or "no running istiod pod was found"
        raise CannotTell(f"no istiod answered /debug/syncz: {why}")
    connected = {str(e.get("proxy")): (pod, e) for pod, entries in readable.items() for e in entries}
    problems: dict[str, tuple[dict[str, Any], str]] = {}  # proxy id -> (its pod, what is wrong)
    unacknowledged: list[dict[str, Any]] = []
    disconnected: list[str] = []
    details: dict[str, Any] = {}
    for pod in [*(p for p in host_pods(ctx) if has_sidecar(p)), *istio_gateway_pods(ctx)]:
        proxy = f"{o.name(pod)}.{o.namespace(pod)}"
        if proxy not in connected:
            problems[proxy] = (pod, "not connected to any istiod")
            disconnected.append(proxy)
            details[proxy] = {"connected": False}
            continue
        istiod, entry = connected[proxy]
        verdicts = sync_verdicts(entry)
        details[proxy] = {"istiod": istiod, **verdicts}
        bad = {t: v for t, v in verdicts.items() if v.startswith(("STALE", "ERROR"))}
        if bad:
            problems[proxy] = (pod, f"{', '.join(f'{t} {v}' for t, v in bad.items())} on {istiod}")
            unacknowledged.append(pod)
    unread = {pod: err for pod, err in answers.items() if not isinstance(err, list)}
    if not problems:
        return []
    steps = [f"STALE/ERROR: the proxy has not accepted istiod's last push; look for 'rejected' in "
             f"`kubectl logs -n {o.namespace(pod)} {o.name(pod)} -c istio-proxy` and istiod's "
             "metric pilot_total_xds_rejects." for pod in unacknowledged[:1]]
    steps += [f"Not connected: check the istio-proxy container of {proxy} (readiness, its discovery address) and "
              "istiod's logs." for proxy in disconnected[:1]]
    steps.append("Wait a few seconds and run again before changing anything: pushes take time to arrive.")
    return [Problem(f"Proxies of {ctx.target.host} are not in sync with istiod, so they may still route by "
        "older rules: " + "; ".join(f"{p}: {why}" for p, (_, why) in problems.items())
        + (f" (not readable: {', '.join(unread)})" if unread else ""), ctx.target.host,
        tuple(ResourceRef("Pod", o.namespace(pod), o.name(pod), "proxy out of sync") for pod, _ in problems.values()),
        {"proxies": details, "istiods": {pod: ("read" if isinstance(v, list) else v) for pod, v in answers.items()}},
        tuple(steps))]



def _lookup(ctx: CheckContext, routed: RoutedDestination) -> drs.DRLookup:
    return ctx.routing.lookup_for(routed.client_ns, ctx.target.host, ctx.target.service_namespace,
                                  gateway=routed.gateway != vss.MESH)


def _cluster_name(ctx: CheckContext, routed: RoutedDestination) -> str:
    port = routed.destination.port
    if port is None:
        ports = [p for svc in ctx.workload_services for p in o.as_list(o.spec(svc).get("ports"))]
        port = o.as_dict(ports[0]).get("port") if len(ports) == 1 else None
    return f"outbound|{port or '<port>'}|{routed.destination.subset}|{ctx.target.host}"


@check("MD301", needs=("virtualservices", "destinationrules"))
def subset_not_defined(ctx: CheckContext) -> list[Problem]:
    missing: dict[tuple[str, tuple[str, ...]], list[tuple[RoutedDestination, drs.DRLookup]]] = defaultdict(list)
    for routed in ctx.routing.routed_destinations:
        subset = routed.destination.subset
        if not subset:
            continue
        found = _lookup(ctx, routed)
        if found.merged is None or found.merged.subset(subset) is None:
            rules = tuple(drs.dr_ref(r) for r in found.merged.rules) if found.merged else ()
            missing[(subset, rules)].append((routed, found))
    findings = []
    for (subset, rules), members in missing.items():
        routed, found = members[0]
        clients = sorted({r.client_ns for r, _ in members})
        origins = sorted({r.origin for r, _ in members})
        elsewhere = {drs.dr_ref(rule): drs.why_not_used(rule, routed.client_ns, found, ctx.settings)
                     for rule in ctx.routing.exact_rules()
                     if any(o.as_dict(s).get("name") == subset for s in o.as_list(o.spec(rule).get("subsets")))
                     and not found.uses(rule)}
        used = (f"the DestinationRule they use ({', '.join(rules)}, found in the {found.step} {found.namespace}) "
                "does not define it") if rules else "no DestinationRule for the host is visible to them"
        who = sorted({f"clients in {r.client_ns}" if r.gateway == vss.MESH else
                      f"gateway {r.gateway}'s proxies (in {r.client_ns})" for r, _ in members})
        message = (f"{origins[0]} sends {', '.join(who)} to subset {subset} of {ctx.target.host}, but "
                   f"{used}: Envoy has no cluster {_cluster_name(ctx, routed)} and answers "
                   "503 (flag NC; NR before Istio 1.10)")
        if elsewhere:
            message += "; " + "; ".join(f"{ref} defines {subset} but is not used by them: {why}"
                                        for ref, why in elsewhere.items())
        if not rules and found.notes:
            message += "; " + "; ".join(found.notes)
        target_rule = rules[0] if rules else f"a DestinationRule for {ctx.target.host} visible to {clients[0]}"
        remediation = (f"Define subset {subset} in {target_rule} (or export the rule that has it to "
                       f"{', '.join(clients)}), wait until the proxies have it, then apply the VirtualService.",
                       f"Or route to a subset that exists: {', '.join(s.name for s in found.merged.subsets)}."
                       if found.merged and found.merged.subsets else
                       "Or remove the subset from the route until the DestinationRule exists.")
        resources = [ResourceRef("VirtualService", o.namespace(r.vs), o.name(r.vs), "routes to the subset")
                     for r, _ in members]
        resources += [ResourceRef.at("DestinationRule", ref, "used, lacks the subset") for ref in rules]
        resources += [ResourceRef.at("DestinationRule", ref, "defines it, not used") for ref in elsewhere]
        findings.append(Problem(message, ctx.target.host, tuple(dict.fromkeys(resources)),
            {"subset": subset, "clientNamespaces": clients, "routes": origins, "destinationRule": list(rules),
             "definedElsewhere": elsewhere, "envoyCluster": _cluster_name(ctx, routed),
             "envoyResponse": "503 NC (NR on Istio <= 1.9)"},
            remediation, subset=subset, client_namespace=clients[0]))
    return findings


@check("MD302", needs=("virtualservices", "destinationrules", "services", "pods", "endpoints"), applies=has_workloads,
       uses=("nodes",))
def subset_no_ready_pods(ctx: CheckContext) -> list[Problem]:
    """Subsets match the endpoints' labels as istiod augments them (mesh/endpointlabels.py), so a subset
    on `topology.kubernetes.io/zone` is judged from the pods' Nodes; without them it cannot be told."""
    ready = _ready_pods(ctx)
    if not ready:  # never a pass while every pod is down: MD506 reports the cause once, for every subset
        raise Superseded("MD506 service-no-ready-endpoints: no pod of the Service is ready, so no subset has one")
    findings = []
    untold: list[str] = []
    seen: set[tuple[str, str]] = set()
    pods = [p for svc in ctx.workload_services for p in w.service_pods(ctx.snapshot, svc)]
    endpoints: list[tuple[dict[str, Any], EndpointLabels]] = []  # worked out at the first subset that needs them
    for routed in ctx.routing.routed_destinations:
        subset = routed.destination.subset
        found = _lookup(ctx, routed)
        definition = found.merged.subset(subset) if subset and found.merged else None
        if definition is None or (subset, drs.dr_ref(definition.rule)) in seen:
            continue
        seen.add((subset, drs.dr_ref(definition.rule)))
        labels = {k: v for k, v in o.as_dict(definition.spec.get("labels")).items() if isinstance(v, str)}
        if set(labels) & AUGMENTED_KEYS:
            endpoints = endpoints or [(p, _endpoint_labels(ctx, p)) for p in pods]
            if any(set(labels) & e.unknown for _, e in endpoints):
                untold.append(f"subset {subset} selects on {', '.join(sorted(set(labels) & set(LOCALITY_KEYS)))}, "
                              f"which istiod takes from the pods' Nodes, and " + (
                              "a pod's Node was not found" if ctx.snapshot.readable("nodes")
                              else f"the Nodes could not be read ({ctx.snapshot.status('nodes').reason()})"))
                continue
            matching = [p for p, e in endpoints if o.selector_matches(labels, e.labels)]
        else:  # istiod adds only AUGMENTED_KEYS to a pod's labels: on other keys the pod's own labels decide
            matching = [p for p in pods if o.selects(labels, p)]
        rule = ResourceRef("DestinationRule", o.namespace(definition.rule), o.name(definition.rule),
                           "defines the subset")
        if not labels:
            findings.append(Problem(f"Subset {subset} of {ctx.target.host} in {drs.dr_ref(definition.rule)} has no "
                f"labels, so it selects every pod of the Service, whatever its version", ctx.target.host, (rule,),
                {"subset": subset, "labels": {}},
                (f"Give subset {subset} the labels of the pods it stands for (for example `version: v1`).",),
                subset=subset, severity=Severity.WARNING))
            continue
        ready_matching = [p for p in matching if o.name(p) in ready]
        if ready_matching:
            continue
        label_text = ",".join(f"{k}={v}" for k, v in labels.items())
        state = {o.name(p): "ready" if o.name(p) in ready else w.pod_problem(p) for p in matching}
        not_ready = ", ".join(f"{n} ({why})" for n, why in state.items())
        detail = ("no pod of the Service has these labels" + (
                      " (its pods' labels with the topology labels istiod adds from their Nodes)"
                      if set(labels) & AUGMENTED_KEYS else "") if not matching else
                  f"pods with these labels exist but none is ready: {not_ready}")
        findings.append(Problem(f"Subset {subset} of {ctx.target.host} (labels {label_text}) selects no ready pod "
            f"({detail}); {routed.origin} sends traffic there, which gets 503 UH 'no healthy upstream'",
            ctx.target.host, (rule, *(ResourceRef("Pod", o.namespace(p), o.name(p), "matches the subset")
                                      for p in matching)),
            {"subset": subset, "labels": labels, "matchingPods": state, "routes": [routed.origin]},
            (f"Compare the labels with the pods: `kubectl get pods -n {ctx.target.namespace} -l {label_text}`.",
             "Fix the subset's labels, scale up the version it stands for, or route elsewhere until it is ready."),
            subset=subset))
    if untold and not findings:
        raise CannotTell("; ".join(untold))
    return findings


def _endpoint_labels(ctx: CheckContext, pod: dict[str, Any]) -> EndpointLabels:
    cp = ctx.settings.control_plane
    cluster_id = (cp.env.get("CLUSTER_ID") if cp else "") or DEFAULT_CLUSTER_ID
    return augmented(ctx.snapshot, pod, cluster_id, ctx.settings.version)


def _ready_pods(ctx: CheckContext) -> set[str]:
    names: set[str] = set()
    for svc in ctx.workload_services:
        endpoints = ctx.snapshot.get("endpoints", o.namespace(svc), o.name(svc))
        names.update(w.endpoint_counts(endpoints).ready)
    return names
