"""Subsets ("503 errors while reconfiguring service routes").

A route to a subset becomes the Envoy cluster `outbound|port|subset|host` whether or not the subset
exists; the cluster exists only if the DestinationRule that *this client's* lookup finds defines it.
And a defined subset whose labels select no ready pod is an empty cluster.
"""

from __future__ import annotations

from collections import defaultdict

from kubectl_meshdoctor.checks.base import check
from kubectl_meshdoctor.checks.context import CheckContext, has_workloads
from kubectl_meshdoctor.checks.findings import Problem, ResourceRef
from kubectl_meshdoctor.checks.severity import Severity
from kubectl_meshdoctor.mesh import destinationrules as drs
from kubectl_meshdoctor.mesh import workloads as w
from kubectl_meshdoctor.mesh.views import RoutedDestination
from kubectl_meshdoctor.snapshot import objects as o


def _service_namespace(ctx: CheckContext) -> str | None:
    return ctx.target.services[0].namespace if ctx.target.services else None


def _lookup(ctx: CheckContext, client_ns: str) -> drs.DRLookup:
    return ctx.routing.lookup_for(client_ns, ctx.target.host, _service_namespace(ctx))


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
        found = _lookup(ctx, routed.client_ns)
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
        used = f"the DestinationRule they use ({', '.join(rules)}, found in the {found.step} {found.namespace})" \
            if rules else "no DestinationRule (none is visible to them)"
        message = (f"{origins[0]} sends clients in {', '.join(clients)} to subset {subset} of {ctx.target.host}, but "
                   f"{used} does not define it: Envoy has no cluster {_cluster_name(ctx, routed)} and answers "
                   "503 (flag NC; NR before Istio 1.10)")
        if elsewhere:
            message += "; " + "; ".join(f"{ref} defines {subset} but is not used by them: {why}"
                                        for ref, why in elsewhere.items())
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


@check("MD302", needs=("virtualservices", "destinationrules", "services", "pods", "endpoints"), applies=has_workloads)
def subset_no_ready_pods(ctx: CheckContext) -> list[Problem]:
    ready = _ready_pods(ctx)
    if not ready:
        return []  # no ready endpoint at all: service-no-ready-endpoints (MD506) reports the cause once
    findings = []
    seen: set[tuple[str, str]] = set()
    for routed in ctx.routing.routed_destinations:
        subset = routed.destination.subset
        found = _lookup(ctx, routed.client_ns)
        definition = found.merged.subset(subset) if subset and found.merged else None
        if definition is None or (subset, drs.dr_ref(definition.rule)) in seen:
            continue
        seen.add((subset, drs.dr_ref(definition.rule)))
        labels = {k: v for k, v in o.as_dict(definition.spec.get("labels")).items() if isinstance(v, str)}
        matching = [p for svc in ctx.workload_services for p in w.service_pods(ctx.snapshot, svc)
                    if o.selector_matches(labels, o.labels(p))]
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
        detail = ("no pod of the Service has these labels" if not matching else
                  f"pods with these labels exist but none is ready: {not_ready}")
        findings.append(Problem(f"Subset {subset} of {ctx.target.host} (labels {label_text}) selects no ready pod "
            f"({detail}); {routed.origin} sends traffic there, which gets 503 UH 'no healthy upstream'",
            ctx.target.host, (rule, *(ResourceRef("Pod", o.namespace(p), o.name(p), "matches the subset")
                                      for p in matching)),
            {"subset": subset, "labels": labels, "matchingPods": state, "routes": [routed.origin]},
            (f"Compare the labels with the pods: `kubectl get pods -n {ctx.target.namespace} -l {label_text}`.",
             "Fix the subset's labels, scale up the version it stands for, or route elsewhere until it is ready."),
            subset=subset))
    return findings


def _ready_pods(ctx: CheckContext) -> set[str]:
    names: set[str] = set()
    for svc in ctx.workload_services:
        endpoints = ctx.snapshot.get("endpoints", o.namespace(svc), o.name(svc))
        names.update(w.endpoint_counts(endpoints).ready)
    return names
