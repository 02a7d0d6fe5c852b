"""Routing fragments ("Multiple virtual services and destination rules for the same host").

Each finding names what Istio keeps and what it drops, by object and rule, for the client namespaces
where it happens, so the fix can be written without reading Istio's source.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from kubectl_meshdoctor.checks.base import check
from kubectl_meshdoctor.checks.context import CannotTell, CheckContext
from kubectl_meshdoctor.checks.findings import Problem, ResourceRef
from kubectl_meshdoctor.checks.severity import Severity
from kubectl_meshdoctor.cluster.resources import State
from kubectl_meshdoctor.mesh import destinationrules as drs
from kubectl_meshdoctor.mesh import hosts, registry
from kubectl_meshdoctor.mesh import virtualservices as vss
from kubectl_meshdoctor.mesh.index import dotted_short_name
from kubectl_meshdoctor.mesh.target import CONFIG_ONLY
from kubectl_meshdoctor.mesh.views import ClientView, RoutingModel
from kubectl_meshdoctor.mesh.visibility import CLASS_NAMES, visible
from kubectl_meshdoctor.snapshot import objects as o


def _vs(vs: dict[str, Any], role: str) -> ResourceRef:
    return ResourceRef("VirtualService", o.namespace(vs), o.name(vs), role)


def _dr(dr: dict[str, Any], role: str) -> ResourceRef:
    return ResourceRef("DestinationRule", o.namespace(dr), o.name(dr), role)


def _names(views: list[ClientView]) -> str:
    return ", ".join(v.namespace for v in views)


def _rule(index: int) -> str:
    return f"rule #{index + 1}"


# ------------------------------------------------------------------------------------------- MD101

def sidecars_known(ctx: CheckContext) -> None:
    """Sidecar resources decide which VirtualServices a namespace's proxies import (mesh/sidecars.py):
    unreadable ones leave the choice unknown. Not served (Istio before 1.1) means there are none."""
    status = ctx.snapshot.status("sidecars")
    if not status.ok and status.state not in (State.NOT_SERVED, State.ABSENT):
        raise CannotTell(f"which VirtualServices the proxies import depends on Sidecar resources: {status.reason()}")


@check("MD101", needs=("virtualservices",), uses=("sidecars",))
def vs_mesh_duplicate_host(ctx: CheckContext) -> list[Problem]:
    sidecars_known(ctx)
    model = ctx.routing
    groups: dict[tuple[str, ...], list[tuple[ClientView, vss.MeshSelection]]] = defaultdict(list)
    for view in model.views:
        sel = model.mesh_selection(view)
        if sel.winner is not None and sel.ignored:
            groups[(sel.winner.ref, *(c.ref for c in sel.ignored))].append((view, sel))
    findings = []
    for members in groups.values():
        views = [v for v, _ in members]
        sel = members[0][1]
        winner = sel.winner
        assert winner is not None
        ignored = [{"virtualService": c.ref, "reason": _why_ignored(c, winner)} for c in sel.ignored]
        losers = ", ".join(f"{c.ref} ({_why_ignored(c, winner)})" for c in sel.ignored)
        message = (f"Sidecars in {_names(views)} use only VirtualService {winner.ref} for {model.host}; "
                   f"the routes of {losers} are ignored, because sidecars never merge VirtualServices for a host")
        remediation = (f"Merge the http rules of {', '.join(c.ref for c in sel.ignored)} into {winner.ref} "
                       f"(in the order you want them evaluated), then delete the ignored VirtualService(s).",
                       "If the split is only for ingress traffic, bind the fragments to the gateway instead of "
                       "`mesh`: only gateways merge VirtualServices for one host.")
        findings.append(Problem(message, model.host,
            (_vs(winner.vs, "in effect"), *(_vs(c.vs, "ignored") for c in sel.ignored)),
            {"clientNamespaces": [v.namespace for v in views], "inEffect": winner.ref, "ignored": ignored,
             "hostPattern": winner.pattern},
            remediation, client_namespace=views[0].namespace))
    return findings


def _why_ignored(lost: vss.Candidate, winner: vss.Candidate) -> str:
    if lost.klass != winner.klass:
        return f"it is {CLASS_NAMES[lost.klass]}, the one in effect is {CLASS_NAMES[winner.klass]}"
    if o.creation(lost.vs) != o.creation(winner.vs):
        return f"created {o.creation(lost.vs) or 'at an unknown time'}, after {o.creation(winner.vs) or 'it'}"
    return "same creation time; its name sorts after"


# ----------------------------------------------------------------------------------- MD102, MD103

@check("MD103", needs=("virtualservices", "gateways"), uses=("gatewaypods",))
def vs_multiple_catch_all(ctx: CheckContext) -> list[Problem]:
    model = ctx.routing
    findings = []
    for merged in _gateway_merges(model):
        catch_alls = merged.catch_alls
        if len(catch_alls) < 2:
            continue
        first, dead = catch_alls[0], catch_alls[1:]
        fragments = ", ".join(f.ref for f in merged.fragments)
        message = (f"On gateway {_where(merged)}, the {len(merged.fragments)} VirtualServices merged into virtual host "
                   f"{merged.virtual_host} have {len(catch_alls)} catch-all routes; all are moved to the end and the "
                   f"first ({first.origin}) takes every request left, so the others never match "
                   f"({', '.join(r.origin for r in dead)}). Istio does not promise which fragment comes first, so the "
                   "winner may change")
        remediation = (f"Keep exactly one catch-all route for {merged.virtual_host} across {fragments}.",
                       "Give the other catch-all rules an explicit match (for example a path prefix), or delete them.")
        findings.append(Problem(message, model.host,
            tuple(_vs(r.vs, "catch-all in effect" if r is first else "catch-all never used") for r in catch_alls),
            {"gateway": merged.gateway, "virtualHost": merged.virtual_host, "proxyNamespace": merged.proxy_namespace,
             "fragments": [f.ref for f in merged.fragments],
             "catchAlls": [r.origin for r in catch_alls], "inEffect": first.origin},
            remediation))
    return findings


def _gateway_merges(model: RoutingModel) -> list[vss.GatewayMerge]:
    return [m for gateway in model.gateways for m in model.gateway_merges(gateway)]


def _where(merged: vss.GatewayMerge) -> str:
    """The gateway, and its proxies' namespace when that is not the Gateway's own."""
    if merged.proxy_namespace == merged.gateway.partition("/")[0]:
        return merged.gateway
    return f"{merged.gateway} (proxies in {merged.proxy_namespace})"


@check("MD102", needs=("virtualservices", "gateways"), uses=("gatewaypods",))
def vs_fragment_overlap(ctx: CheckContext) -> list[Problem]:
    model = ctx.routing
    findings = []
    for merged in _gateway_merges(model):
        seen: set[tuple[str, str]] = set()
        specific = [r for r in merged.routes if not r.catch_all]
        refs = [vss.vs_ref(r.vs) for r in specific]  # once per route, not per pair: a gateway host of 500
        for i, a in enumerate(specific):             # fragments has 124,750 pairs
            for j in range(i + 1, len(specific)):
                b, pair = specific[j], (refs[i], refs[j])
                if a.vs is b.vs or pair in seen or not vss.matches_overlap(a.conditions, b.conditions):
                    continue
                seen.add(pair)
                message = (f"On gateway {_where(merged)}, fragments {pair[0]} and {pair[1]} of virtual host "
                           f"{merged.virtual_host} both match "
                           f"some requests: {a.origin} ({a.describe()}) and {b.origin} ({b.describe()}). The order "
                           "between fragments is undefined, so either may answer")
                remediation = (f"Make the matches of {pair[0]} and {pair[1]} disjoint (distinct path prefixes or "
                               "headers).",
                               "Or move these rules into one VirtualService, where their order is kept.")
                findings.append(Problem(message, model.host, (_vs(a.vs, "fragment"), _vs(b.vs, "fragment")),
                    {"gateway": merged.gateway, "virtualHost": merged.virtual_host,
                     "routes": [f"{a.origin}: {a.describe()}", f"{b.origin}: {b.describe()}"]},
                    remediation))
    return findings


# ------------------------------------------------------------------------------------------- MD104

@check("MD104", needs=("virtualservices",))
def vs_unreachable_rule(ctx: CheckContext) -> list[Problem]:
    model = ctx.routing
    findings = []
    for vs in model.declaring:
        by_outcome: dict[tuple[int, tuple[int, ...]], list[str]] = defaultdict(list)
        for gateway in vss.vs_gateways(vs):
            stop, later = vss.unreachable_rules(vs, gateway, model.domain)
            if stop is not None and later:
                by_outcome[(stop.rule, tuple(later))].append(gateway)
        for (stop_rule, never), gateways in by_outcome.items():
            dead = ", ".join(_rule(k) for k in never)
            scope = "" if gateways == list(vss.vs_gateways(vs)) else f" for {', '.join(gateways)}"
            message = (f"In VirtualService {vss.vs_ref(vs)}, {dead} can never match{scope}: {_rule(stop_rule)} "
                       "catches every request and Istio stops generating routes there")
            remediation = (f"Move {_rule(stop_rule)} (the catch-all) to the end of the http list of "
                           f"{vss.vs_ref(vs)}, or give it a narrower match.",)
            findings.append(Problem(message, model.host, (_vs(vs, "unreachable rules"),),
                {"virtualService": vss.vs_ref(vs), "catchAllRule": stop_rule + 1,
                 "unreachableRules": [k + 1 for k in later], "gateways": gateways},
                remediation))
        findings += _shadowed(model.host, vs)
    return findings


def _shadowed(host: str, vs: dict[str, Any]) -> list[Problem]:
    """tcp and tls rules after a terminal one, and rules whose matches repeat an earlier rule's."""
    by_rule: dict[vss.Shadowed, list[str]] = defaultdict(list)
    for gateway in vss.vs_gateways(vs):
        for kind in vss.ROUTE_KINDS:
            for dead in vss.shadowed_rules(vs, kind, gateway):
                by_rule[dead].append(gateway)
    out = []
    for dead, gateways in by_rule.items():
        scope = "" if gateways == list(vss.vs_gateways(vs)) else f" for {', '.join(gateways)}"
        out.append(Problem(
            f"In VirtualService {vss.vs_ref(vs)}, {dead.kind} {_rule(dead.rule)} can never match{scope}: "
            f"{dead.kind} {_rule(dead.by)} {dead.why}, and Istio uses the first rule that matches",
            host, (_vs(vs, "unreachable rules"),),
            {"virtualService": vss.vs_ref(vs), "routeKind": dead.kind, "unreachableRules": [dead.rule + 1],
             "shadowedBy": dead.by + 1, "gateways": gateways},
            (f"Give {dead.kind} {_rule(dead.rule)} of {vss.vs_ref(vs)} a match that {dead.kind} {_rule(dead.by)} "
             "does not cover, move it before that rule, or delete it.",)))
    return out


# ----------------------------------------------------------------------------------- MD105, MD106

def _merged_groups(ctx: CheckContext) -> list[tuple[drs.MergedRule, list[ClientView]]]:
    """Each distinct merged DestinationRule and the client views that get it."""
    model = ctx.routing
    groups: dict[tuple[int, ...], tuple[drs.MergedRule, list[ClientView]]] = {}
    for view in model.views:
        found = model.dr_lookup(view)
        if found.merged is not None:
            key = tuple(id(r) for r in found.merged.rules)
            groups.setdefault(key, (found.merged, []))[1].append(view)
    return list(groups.values())


@check("MD105", needs=("destinationrules",))
def dr_duplicate_subset(ctx: CheckContext) -> list[Problem]:
    """Istio keeps the first definition of a subset name and drops the later ones whole
    (pilot/pkg/model/destination_rule.go mergeDestinationRule, 1.6+: "Unique subsets (based on subset
    name) are concatenated"). A duplicate identical to the one kept changes nothing Envoy gets: info."""
    findings = []
    for merged, views in _merged_groups(ctx):
        for lost, kept in merged.duplicate_subsets:
            labels_kept = o.as_dict(kept.spec.get("labels"))
            labels_lost = o.as_dict(lost.spec.get("labels"))
            identical = lost.spec == kept.spec
            message = (f"Subset {lost.name} of {ctx.target.host} is defined by DestinationRule "
                       f"{drs.dr_ref(kept.rule)} (labels {labels_kept}) and again by {drs.dr_ref(lost.rule)} "
                       f"(labels {labels_lost}); clients in {_names(views)} use the first (oldest) definition and "
                       "the second is discarded whole")
            if identical:
                message += " — the two definitions are identical, so nothing is lost today, but an edit to the "\
                           "discarded one will silently have no effect"
            remediation = (f"Define subset {lost.name} in one DestinationRule only: delete it from "
                           f"{drs.dr_ref(lost.rule)}, or from {drs.dr_ref(kept.rule)} if the newer definition is "
                           "the one you meant.",)
            findings.append(Problem(message, ctx.target.host,
                (_dr(kept.rule, "subset kept"), _dr(lost.rule, "subset discarded")),
                {"subset": lost.name, "kept": {"destinationRule": drs.dr_ref(kept.rule), "labels": labels_kept},
                 "discarded": {"destinationRule": drs.dr_ref(lost.rule), "labels": labels_lost},
                 "identical": identical, "clientNamespaces": [v.namespace for v in views]},
                remediation, subset=lost.name, client_namespace=views[0].namespace,
                severity=Severity.INFO if identical else None))
    return findings


@check("MD106", needs=("destinationrules",))
def dr_discarded_traffic_policy(ctx: CheckContext) -> list[Problem]:
    findings = []
    for merged, views in _merged_groups(ctx):
        if not merged.discarded_policies or merged.policy_from is None:
            continue
        kept = merged.policy_from
        kept_keys = sorted(merged.traffic_policy)
        lost = ", ".join(f"{drs.dr_ref(r)} ({', '.join(keys) or 'empty'})" for r, keys in merged.discarded_policies)
        tls_lost = any("tls" in keys for _, keys in merged.discarded_policies)
        message = (f"{len(merged.discarded_policies) + 1} DestinationRules for {ctx.target.host} have a top-level "
                   f"trafficPolicy; clients in {_names(views)} get only the oldest, from {drs.dr_ref(kept)} "
                   f"({', '.join(kept_keys) or 'empty'}), whole; discarded: {lost}"
                   + ("; the discarded tls settings are not applied, so clients may not use the TLS mode you set"
                      if tls_lost else ""))
        remediation = (f"Move the settings of the discarded trafficPolicy into the one of {drs.dr_ref(kept)}, and "
                       "remove trafficPolicy from the other DestinationRules.",)
        findings.append(Problem(message, ctx.target.host,
            (_dr(kept, "trafficPolicy in effect"), *(_dr(r, "trafficPolicy discarded")
                                                     for r, _ in merged.discarded_policies)),
            {"inEffect": {"destinationRule": drs.dr_ref(kept), "settings": kept_keys},
             "discarded": [{"destinationRule": drs.dr_ref(r), "settings": list(k)}
                           for r, k in merged.discarded_policies],
             "clientNamespaces": [v.namespace for v in views]},
            remediation, client_namespace=views[0].namespace))
    return findings


# ------------------------------------------------------------------------------------------- MD107

@check("MD107", needs=("destinationrules",))
def dr_shadowed(ctx: CheckContext) -> list[Problem]:
    model = ctx.routing
    findings = []
    untold = []
    for rule in model.exact_rules():
        if drs.has_selector(rule):
            continue  # workload-selected rules are not found by the lookup path
        unused: list[tuple[ClientView, str]] = []
        users = []
        for view in model.views:
            if not view.has_callers:
                continue
            found = model.dr_lookup(view)
            if found.uses(rule):
                users.append(view.namespace)
            elif found.merged is None and ctx.target.service_namespace is None and \
                    visible(rule, view.namespace, ctx.settings.default_dr_export_to, ctx.settings.version):
                untold.append(f"{drs.dr_ref(rule)} for clients in {view.namespace}")
            else:
                unused.append((view, drs.why_not_used(rule, view.namespace, found, ctx.settings)))
        if not unused:
            continue
        detail = "; ".join(f"{v.namespace}: {why}" for v, why in unused)
        message = (f"DestinationRule {drs.dr_ref(rule)} for {model.host} is never used by clients in "
                   f"{', '.join(v.namespace for v, _ in unused)} ({detail}); its subsets and traffic policy do not "
                   "apply to them, and routes from there to its subsets fail with 503")
        remediation = (f"Make {drs.dr_ref(rule)} the rule those clients find: export it to them (exportTo) and "
                       "remove or narrow the rule that shadows it.",
                       "Or copy the subsets and settings they need into the DestinationRule they do use.")
        shadows = {drs.dr_ref(r) for v, _ in unused if (f := model.dr_lookup(v)).merged for r in f.merged.rules}
        findings.append(Problem(message, model.host,
            (_dr(rule, "unused"), *(ResourceRef.at("DestinationRule", ref, "used instead")
                                    for ref in sorted(shadows))),
            {"destinationRule": drs.dr_ref(rule), "unusedBy": {v.namespace: why for v, why in unused},
             "usedBy": users},
            remediation, client_namespace=unused[0][0].namespace))
    if untold and not findings:
        raise CannotTell(f"no Service or ServiceEntry defines {model.host}, so the namespace on the lookup path "
                         f"after the client's is unknown: cannot tell whether {', '.join(untold)} is used")
    return findings


# ------------------------------------------------------------------------------------------- MD108

@check("MD108", needs=("virtualservices", "destinationrules"))
def host_name_not_resolved(ctx: CheckContext) -> list[Problem]:
    model = ctx.routing
    wanted = {hosts.service_fqdn(s.name, s.namespace, model.domain) for s in ctx.target.services}
    declared_elsewhere = {h for se in ctx.snapshot.all("serviceentries")
                          for h in o.as_list(o.spec(se).get("hosts")) if isinstance(h, str)}
    findings = []
    short_names = tuple(f"{s.name}." for s in ctx.target.services)
    declaring = {id(v) for v in model.declaring}
    # only names that start like the host's Services, or written in the host's own VirtualServices
    for mention in model.index.mentions_for((s.name for s in ctx.target.services), model.declaring):
        obj, kind, spelled, where = mention.obj, mention.kind, mention.spelled, mention.where
        if not spelled.startswith(short_names) and id(obj) not in declaring:
            continue
        fqdn = _meant_service(spelled, wanted, model.domain, model.declaring, obj)
        if fqdn is None or spelled in declared_elsewhere or not _service_exists(ctx, fqdn):
            continue
        short = fqdn.split(".")[0]
        message = (f"{kind} {o.namespace(obj)}/{o.name(obj)} names `{spelled}` in {where}: Istio takes a name with a "
                   f"dot literally, so it is not the Service {fqdn} and "
                   + ("the rule applies to nothing" if where != "a route destination" else
                      "requests routed there fail (no such host in the mesh)"))
        remediation = (f"Write `{fqdn}` (or `{short}` when the {kind} is in namespace {fqdn.split('.')[1]}).",)
        findings.append(Problem(message, ctx.target.host,
                                (ResourceRef(kind, o.namespace(obj), o.name(obj), "unresolved host"),),
                                {"written": spelled, "meant": fqdn, "in": where}, remediation))
    return findings


def _service_exists(ctx: CheckContext, fqdn: str) -> bool:
    parsed = hosts.parse_service_fqdn(fqdn, ctx.settings.cluster_domain)
    return parsed is not None and ctx.snapshot.get("services", parsed.namespace, parsed.name) is not None


def _meant_service(spelled: str, wanted: set[str], domain: str, declaring: Sequence[dict[str, Any]],
                   obj: dict[str, Any]) -> str | None:
    """The Service FQDN a dotted non-FQDN name was meant to be: one of the host's Services, or, inside
    the VirtualServices that serve the host, any `name.ns[.svc]` that completes to an FQDN."""
    if not dotted_short_name(spelled, domain):
        return None
    for fqdn in wanted:
        if fqdn.startswith(spelled + "."):
            return fqdn
    if any(obj is d for d in declaring):
        parts = spelled.split(".")
        if len(parts) == 2 or (len(parts) >= 3 and parts[2] == "svc"):
            return hosts.service_fqdn(parts[0], parts[1], domain)
    return None


# ------------------------------------------------------------------------------------------- MD109

@check("MD109", needs=("services", "serviceentries", "virtualservices"))
def host_not_in_registry(ctx: CheckContext) -> list[Problem]:
    """The registry is what Istio builds clusters from (ISTIO-SEMANTICS §B): Kubernetes Services and
    ServiceEntry hosts, wildcards included. Live only: a directory of files rarely holds every Service."""
    model = ctx.routing
    known = registry.Registry.of(ctx.snapshot, model.domain)
    findings = []
    if ctx.target.kind == CONFIG_ONLY and not known.defines(ctx.target.host):
        rules = [*(_vs(vs, "declares the host") for vs in model.declaring),
                 *(_dr(dr, "configures the host") for dr in model.exact_rules())]
        findings.append(Problem(
            f"No Service or ServiceEntry defines {ctx.target.host}: Istio does not know the host, so "
            f"{len(rules)} object(s) configure nothing and requests for it fail (404 NR at a sidecar)",
            ctx.target.host, tuple(rules), {"unknownHost": ctx.target.host}))
    unknown: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for vs in (*model.declaring, *model.routing_here):
        for dest in vss.all_destinations(vs, model.domain):
            if not hosts.is_ip(dest.host) and dest.host != ctx.target.host and not known.defines(dest.host) \
                    and not known.meant_service(dest.host) and vs not in unknown[dest.host]:
                unknown[dest.host].append(vs)
    for host, senders in sorted(unknown.items()):
        findings.append(Problem(
            f"{', '.join(f'VirtualService {vss.vs_ref(vs)}' for vs in senders)} route(s) to {host}, which no "
            "Service or ServiceEntry defines: Envoy has no cluster for it and answers 503 (flag NC) for that "
            "share of the traffic", ctx.target.host, tuple(_vs(vs, "routes to an unknown host") for vs in senders),
            {"unknownHost": host, "envoyResponse": "503 NC"},
            (f"Correct the destination host in {vss.vs_ref(senders[0])} (a short name resolves in the "
             "VirtualService's own namespace), or create the Service or a ServiceEntry for it.",)))
    return findings
