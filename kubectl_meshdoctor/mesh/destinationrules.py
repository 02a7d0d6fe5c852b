"""Which DestinationRule a client really uses for a host, and what merging leaves of it (§A.3.1-A.3.2).

Lookup (1.1+): the client's namespace, then the Service's, then the root namespace; the first
namespace with any matching rule wins, and rules from different namespaces never merge. Inside a
namespace the most specific host wins (exact over wildcard, longer wildcard over shorter). The rules
for that host then merge oldest first: the first definition of a subset wins, and the oldest rule with
a top-level trafficPolicy wins it whole. Istio 1.0 had no lookup path: one cluster-wide choice.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Any

from kubectl_meshdoctor.mesh import hosts
from kubectl_meshdoctor.mesh.settings import MeshSettings
from kubectl_meshdoctor.mesh.version import IstioVersion
from kubectl_meshdoctor.mesh.virtualservices import best_pattern
from kubectl_meshdoctor.mesh.visibility import creation_order, export_list, visible
from kubectl_meshdoctor.snapshot import objects as o

CLIENT, SERVICE, ROOT, GLOBAL = "client namespace", "service namespace", "root namespace", "cluster-wide"


def dr_host(dr: dict[str, Any], domain: str) -> str:
    return hosts.resolve(o.as_str(o.spec(dr).get("host")), o.namespace(dr), domain)


def dr_ref(dr: dict[str, Any]) -> str:
    return o.ref(dr)


def has_selector(dr: dict[str, Any]) -> bool:
    return bool(o.as_dict(o.spec(dr).get("workloadSelector")))


@dataclass(frozen=True)
class SubsetDefinition:
    name: str
    spec: dict[str, Any] = field(repr=False, compare=False)
    rule: dict[str, Any] = field(repr=False, compare=False)


@dataclass(frozen=True, eq=False)
class MergedRule:
    rules: tuple[dict[str, Any], ...]  # oldest first
    subsets: tuple[SubsetDefinition, ...]
    duplicate_subsets: tuple[tuple[SubsetDefinition, SubsetDefinition], ...]  # (discarded, kept)
    policy_from: dict[str, Any] | None
    discarded_policies: tuple[tuple[dict[str, Any], tuple[str, ...]], ...]  # (rule, its policy's keys)

    def subset(self, name: str) -> SubsetDefinition | None:
        return self._by_name.get(name)

    @cached_property
    def _by_name(self) -> dict[str, SubsetDefinition]:
        return {s.name: s for s in self.subsets}

    @property
    def traffic_policy(self) -> dict[str, Any]:
        return o.as_dict(o.spec(self.policy_from).get("trafficPolicy")) if self.policy_from else {}


def merge(rules: Iterable[dict[str, Any]]) -> MergedRule:
    ordered = sorted(rules, key=creation_order)
    kept: dict[str, SubsetDefinition] = {}
    duplicates = []
    policy_from = None
    discarded = []
    for rule in ordered:
        for subset in o.as_list(o.spec(rule).get("subsets")):
            name = o.as_str(o.as_dict(subset).get("name"))
            definition = SubsetDefinition(name, o.as_dict(subset), rule)
            if name in kept:
                duplicates.append((definition, kept[name]))
            elif name:
                kept[name] = definition
        if "trafficPolicy" in o.spec(rule) and o.spec(rule)["trafficPolicy"] is not None:
            if policy_from is None:
                policy_from = rule
            else:
                discarded.append((rule, tuple(sorted(o.as_dict(o.spec(rule)["trafficPolicy"])))))
    return MergedRule(tuple(ordered), tuple(kept.values()), tuple(duplicates), policy_from, tuple(discarded))


@dataclass(frozen=True, eq=False)
class DRLookup:
    client_ns: str
    host: str
    step: str | None  # which step found the rules; None: no DestinationRule applies
    namespace: str | None
    pattern: str | None
    merged: MergedRule | None
    notes: tuple[str, ...] = ()

    def uses(self, rule: dict[str, Any]) -> bool:
        return self.merged is not None and any(r is rule for r in self.merged.rules)


def lookup(rules: list[dict[str, Any]], settings: MeshSettings, client_ns: str, host: str,
           service_ns: str | None) -> DRLookup:
    """push_context.go destinationRule: the client's namespace-local rules (its own, wildcard ones too),
    then the rules the service's namespace exports, then those the root namespace exports. An exporting
    namespace's most specific host is chosen among every rule it exports, and only then are the rules
    not exported to the client dropped (getExportedDestinationRuleFromNamespace): when none is left the
    lookup moves on, though a less specific rule there may be exported to the client. Private-only rules
    never enter the exported set (setDestinationRules, isPrivateOnly)."""
    plain = [r for r in rules if not has_selector(r)]
    if settings.version is not None and not settings.version.at_least(1, 1):
        return _pick(plain, settings, client_ns, host, GLOBAL, None)
    default, version, root = settings.default_dr_export_to, settings.version, settings.root_namespace
    notes: list[str] = []

    def exported_step(step: str, ns: str) -> DRLookup | None:
        exported = [r for r in plain if o.namespace(r) == ns and not private_only(r, default, version)]
        pattern = best_pattern({dr_host(r, settings.cluster_domain) for r in exported}, host)
        if pattern is None:
            return None
        chosen = [r for r in exported if dr_host(r, settings.cluster_domain) == pattern
                  and visible(r, client_ns, default, version)]
        if not chosen:
            notes.append(f"the most specific rule {ns} exports for {host} ({pattern}: "
                         f"{', '.join(dr_ref(r) for r in exported if dr_host(r, settings.cluster_domain) == pattern)})"
                         f" is not exported to {client_ns}, so the lookup moves past {ns}")
            return None
        return _pick(chosen, settings, client_ns, host, step, ns)

    # A client in the root namespace first sees only the root's private rules (rootNamespaceLocal).
    if client_ns == root:
        first = [r for r in plain if o.namespace(r) == root and private_only(r, default, version)]
    else:
        first = [r for r in plain if o.namespace(r) == client_ns and visible(r, client_ns, default, version)]
    found = _pick(first, settings, client_ns, host, CLIENT, client_ns)
    if found.merged is not None:
        return found
    later = []
    if service_ns and (service_ns != client_ns or client_ns == root):
        later.append((SERVICE, service_ns))
    if root != service_ns:
        later.append((ROOT, root))
    for step, ns in later:
        exported = exported_step(step, ns)
        if exported is not None:
            return replace(exported, notes=(*notes, *exported.notes))
    return DRLookup(client_ns, host, None, None, None, None, tuple(notes))


def private_only(rule: dict[str, Any], default: tuple[str, ...], version: IstioVersion | None) -> bool:
    exports = set(export_list(rule, default, version))
    return len(exports) == 1 and exports <= {".", o.namespace(rule)}


def _pick(candidates: list[dict[str, Any]], settings: MeshSettings, client_ns: str, host: str, step: str,
          ns: str | None) -> DRLookup:
    domain = settings.cluster_domain
    pattern = best_pattern({dr_host(r, domain) for r in candidates}, host)
    if pattern is None:
        return DRLookup(client_ns, host, None, None, None, None)
    chosen = [r for r in candidates if dr_host(r, domain) == pattern]
    if settings.version is not None and settings.version < IstioVersion(1, 0, 1):
        chosen = sorted(chosen, key=creation_order)[-1:]  # 1.0.0 did not merge: the newest rule won
    notes: tuple[str, ...] = ()
    exports = {tuple(e for e in o.as_list(o.spec(r).get("exportTo")) if isinstance(e, str)) for r in chosen}
    if len(exports) > 1 and (settings.version is None or settings.version.at_least(1, 24)):
        notes = ("Istio 1.24+ keeps DestinationRules with different exportTo apart "
                 "(ENABLE_ENHANCED_DESTINATIONRULE_MERGE); the merge shown assumes they merge",)
    return DRLookup(client_ns, host, step, ns, pattern, merge(chosen), notes)


def why_not_used(rule: dict[str, Any], client_ns: str, found: DRLookup, settings: MeshSettings) -> str:
    """Why clients in client_ns do not use `rule` (found: what their lookup found instead)."""
    if not visible(rule, client_ns, settings.default_dr_export_to, settings.version):
        return f"not exported there (exportTo {list(export_list(rule, settings.default_dr_export_to, None))})"
    if found.merged is not None:
        used = ", ".join(dr_ref(r) for r in found.merged.rules)
        return f"the lookup stops at the {found.step} {found.namespace}, where {used} matches {found.pattern}"
    return (f"namespace {o.namespace(rule)} is not on their lookup path (their namespace, the service's, "
            f"the root namespace {settings.root_namespace})")
