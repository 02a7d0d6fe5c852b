"""What a change set does to subsets and routes, and the order that keeps traffic flowing.

Objects reach istiod in no guaranteed order, so `kubectl apply -f both.yaml` can deliver a route to a
new subset before the subset, or remove a subset before the route that uses it: 503s (guidelines,
"503 errors while reconfiguring service routes"). Make-before-break: DestinationRules that add subsets
first, then VirtualServices, then DestinationRules that remove subsets, waiting between steps.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from kubectl_meshdoctor.mesh import destinationrules as drs
from kubectl_meshdoctor.mesh import virtualservices as vss
from kubectl_meshdoctor.mesh.settings import MeshSettings
from kubectl_meshdoctor.snapshot import Snapshot
from kubectl_meshdoctor.snapshot import objects as o

WAIT = ("Wait until every proxy has it: `istioctl proxy-status` shows SYNCED for the clients of the host "
        "(usually a few seconds).")


def _subsets(rule: dict[str, Any] | None) -> dict[str, dict[str, Any]]:
    return {o.as_str(o.as_dict(s).get("name")): o.as_dict(s) for s in o.as_list(o.spec(rule).get("subsets"))
            if o.as_str(o.as_dict(s).get("name"))}


def _routed(vs: dict[str, Any] | None, domain: str) -> set[tuple[str, str]]:
    return {(d.host, d.subset) for d in vss.all_destinations(vs, domain) if d.subset} if vs else set()


@dataclass(frozen=True, eq=False)
class ChangeSet:
    """The world before, and the objects a change adds or replaces (by kind, namespace, name)."""

    base: Snapshot
    objects: tuple[tuple[str, dict[str, Any]], ...]

    def of(self, key: str) -> list[dict[str, Any]]:
        return [obj for k, obj in self.objects if k == key]


@dataclass(frozen=True, eq=False)
class Hazard:
    kind: str  # window | never
    host: str
    subset: str
    message: str
    objects: tuple[tuple[str, str, str, str], ...]  # (kind, namespace, name, role)


@dataclass(frozen=True, eq=False)
class Step:
    title: str
    objects: tuple[dict[str, Any], ...]
    why: tuple[str, ...]
    wait: str = ""
    slug: str = "change"  # names the step's file: 01-add-subsets.yaml


@dataclass(frozen=True, eq=False)
class Plan:
    steps: tuple[Step, ...]
    hazards: tuple[Hazard, ...] = field(default_factory=tuple)

    @property
    def one_shot_safe(self) -> bool:
        return len(self.steps) <= 1 and not self.hazards


def plan(change: ChangeSet, settings: MeshSettings) -> Plan:
    domain = settings.cluster_domain
    base = change.base
    after = Snapshot.build([*((k, obj) for k in ("destinationrules", "virtualservices") for obj in base.all(k)),
                            *change.objects], base.statuses, base.mode)
    add_rules, remove_rules, quiet_rules = [], [], []
    added: dict[tuple[str, str], dict[str, Any]] = {}   # (host, subset) -> rule that adds it
    removed: dict[tuple[str, str], dict[str, Any]] = {}  # (host, subset) -> rule that removes it
    for rule in change.of("destinationrules"):
        old = base.get("destinationrules", o.namespace(rule), o.name(rule))
        new_names, old_names = set(_subsets(rule)), set(_subsets(old))
        host = drs.dr_host(rule, domain)
        for name in new_names - old_names:
            added[(host, name)] = rule
        for name in old_names - new_names:
            removed[(host, name)] = rule
        if new_names - old_names:
            add_rules.append(_with_old_subsets(rule, old) if old_names - new_names else rule)
        if old_names - new_names:
            remove_rules.append(rule)
        if new_names == old_names:
            quiet_rules.append(rule)
    routes_after = {vs_key: _routed(vs, domain) for vs_key, vs in _by_key(after.all("virtualservices")).items()}
    routes_before = {vs_key: _routed(vs, domain) for vs_key, vs in _by_key(base.all("virtualservices")).items()}
    new_routes = {pair for key, pairs in routes_after.items() for pair in pairs - routes_before.get(key, set())}
    hazards = _hazards(change, after, added, removed, new_routes, routes_before, routes_after, settings)
    others = [obj for key, obj in change.objects if key not in ("destinationrules", "virtualservices")]
    services = change.of("virtualservices")
    needs_order = any(pair in new_routes for pair in added) or \
        any(pair in pairs for pairs in routes_before.values() for pair in removed)
    if not needs_order:
        return Plan((Step("Apply the whole change in one step", tuple(obj for _, obj in change.objects),
                          ("no route uses a subset that the change adds, and no removed subset is still routed to",)),),
                    tuple(hazards))
    steps = []
    first = [*others, *quiet_rules, *add_rules]
    if first:
        steps.append(Step("Add the new subsets (DestinationRules first)", tuple(first),
                          tuple(f"{drs.dr_ref(r)} adds subset {s}" for (h, s), r in added.items()), WAIT,
                          "add-subsets"))
    if services:
        why = tuple(f"{vss.vs_ref(v)} routes to subsets {', '.join(sorted(s for _, s in _routed(v, domain)))}"
                    for v in services)
        steps.append(Step("Update the routes (VirtualServices)", tuple(services), why, WAIT if remove_rules else "",
                          "virtualservices"))
    if remove_rules:
        steps.append(Step("Remove the subsets no route uses any more", tuple(remove_rules),
                          tuple(f"{drs.dr_ref(r)} removes subset {s}" for (h, s), r in removed.items()), "",
                          "remove-subsets"))
    return Plan(tuple(steps), tuple(hazards))


def _by_key(objects: Any) -> dict[tuple[str, str], dict[str, Any]]:
    return {(o.namespace(obj), o.name(obj)): obj for obj in objects}


def _with_old_subsets(rule: dict[str, Any], old: dict[str, Any] | None) -> dict[str, Any]:
    """The rule as it should stand during the change: the new subsets *and* the ones it will remove."""
    kept = [s for name, s in _subsets(old).items() if name not in _subsets(rule)]
    return {**rule, "spec": {**o.spec(rule), "subsets": [*o.as_list(o.spec(rule).get("subsets")), *kept]}}


def _hazards(change: ChangeSet, after: Snapshot, added: dict[Any, Any], removed: dict[Any, Any], new_routes: set[Any],
             routes_before: dict[Any, Any], routes_after: dict[Any, Any], settings: MeshSettings) -> list[Hazard]:
    out: list[Hazard] = []
    changed_vs = {(o.namespace(v), o.name(v)) for v in change.of("virtualservices")}
    rules_after = list(after.all("destinationrules"))
    for key, pairs in routes_after.items():
        for host, subset in sorted(pairs):
            found = drs.lookup(rules_after, settings, key[0], host, _service_ns(host, settings))
            defined = found.merged is not None and found.merged.subset(subset) is not None
            if not defined and (key in changed_vs or (host, subset) in removed):
                out.append(Hazard("never", host, subset,
                                  f"after the change, VirtualService {key[0]}/{key[1]} routes to subset {subset} of "
                                  f"{host}, which the DestinationRule its clients use does not define: this route "
                                  "returns 503 in any order of apply",
                                  (("VirtualService", *key, "routes to a missing subset"),)))
            elif (host, subset) in added and (host, subset) in new_routes and key in changed_vs:
                rule = added[(host, subset)]
                out.append(Hazard("window", host, subset,
                                  f"VirtualService {key[0]}/{key[1]} starts routing to subset {subset} of {host}, "
                                  f"which DestinationRule {drs.dr_ref(rule)} adds in the same change: if the route "
                                  "reaches the proxies first, requests get 503 (NC) until the subset arrives",
                                  (("VirtualService", *key, "routes to the new subset"),
                                   ("DestinationRule", o.namespace(rule), o.name(rule), "adds the subset"))))
    for (host, subset), rule in removed.items():
        users = [key for key, pairs in routes_before.items() if (host, subset) in pairs]
        stopping = [key for key in users if (host, subset) not in routes_after.get(key, set())]
        for key in stopping:
            out.append(Hazard("window", host, subset,
                              f"DestinationRule {drs.dr_ref(rule)} removes subset {subset} of {host} while "
                              f"VirtualService {key[0]}/{key[1]} stops routing to it in the same change: if the "
                              "removal reaches the proxies first, requests still routed there get 503 (NC)",
                              (("DestinationRule", o.namespace(rule), o.name(rule), "removes the subset"),
                               ("VirtualService", *key, "still routes there before the change"))))
    return out


def _service_ns(host: str, settings: MeshSettings) -> str | None:
    from kubectl_meshdoctor.mesh.hosts import parse_service_fqdn

    parsed = parse_service_fqdn(host, settings.cluster_domain)
    return parsed.namespace if parsed else None
