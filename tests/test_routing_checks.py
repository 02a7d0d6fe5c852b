"""MD101-MD109 on broken and correct worlds (MD109, live only, on the fake API server).

Expected winners and losers come from ISTIO-SEMANTICS.md §B and §A.3.1-A.3.2 (Istio's own order:
visibility class, then creation time, then name; DestinationRule lookup client -> service -> root).
"""

from __future__ import annotations

import pytest

from kubectl_meshdoctor.mesh import virtualservices as vss
from tests.conftest import BASE, SCENARIOS, found, objects_of, offline, run_cli, run_world, scenario_files
from tests.fakeapi.server import KINDS, Access
from tests.worlds import ROUTING_GROUND

MODES = ("offline",)  # live: tests/test_parity_fake.py proves every world the same served by the API
ROUTING = tuple(f"MD10{i}" for i in range(1, 9))


def report(mode: str, live, scenario: str, host: str, namespace: str = "bookinfo", answered: bool = True):
    files = [BASE, *(SCENARIOS / "routing" / g for g in ("services.yaml", "gateways.yaml", f"{scenario}.yaml"))]
    result = run_world(mode, live, files, "host", host, "-n", namespace, "-o", "json")
    assert "Traceback" not in result.stderr, result.stderr
    doc = result.json()
    # these worlds hold no pods or endpoints, so only the routing checks are expected to run
    if answered:
        assert {c["status"] for c in doc["checks"] if c["code"] in ROUTING} <= {"passed", "failed"}
    return doc


def routing_codes(doc: dict) -> list[str]:
    return sorted(f["code"] for f in doc["findings"] if f["code"] in ROUTING)


# ------------------------------------------------------------------------------------------- MD101

@pytest.mark.parametrize("mode", MODES)
def test_older_mesh_virtualservice_wins_whatever_the_host_spelling(mode, live):
    doc = report(mode, live, "mesh-duplicate", "reviews")
    [finding] = found(doc, "MD101")
    assert finding["evidence"]["inEffect"] == "bookinfo/reviews"
    assert [i["virtualService"] for i in finding["evidence"]["ignored"]] == ["bookinfo/reviews-canary"]
    assert "bookinfo" in finding["evidence"]["clientNamespaces"]
    assert "IST0109" in finding["evidence"]["related"]
    assert {(r["name"], r["role"]) for r in finding["resources"]} == {("reviews", "in effect"),
                                                                       ("reviews-canary", "ignored")}
    assert any("Merge the http rules of bookinfo/reviews-canary into bookinfo/reviews" in s
               for s in finding["remediation"])


@pytest.mark.parametrize("mode", MODES)
def test_same_creation_time_is_broken_by_name(mode, live):
    [finding] = found(report(mode, live, "mesh-duplicate-tie", "reviews"), "MD101")
    assert finding["evidence"]["inEffect"] == "bookinfo/alpha"
    assert finding["evidence"]["ignored"][0]["reason"] == "same creation time; its name sorts after"


@pytest.mark.parametrize("mode", MODES)
def test_private_virtualservice_beats_an_older_public_one_for_its_namespace_only(mode, live):
    [finding] = found(report(mode, live, "mesh-private-first", "reviews"), "MD101")
    assert finding["evidence"]["inEffect"] == "frontend/reviews-for-frontend"
    assert finding["evidence"]["clientNamespaces"] == ["frontend"]
    assert "public" in finding["evidence"]["ignored"][0]["reason"]


@pytest.mark.parametrize("mode", MODES)
def test_one_mesh_virtualservice_with_wildcard_and_gateway_neighbours_is_silent(mode, live):
    doc = report(mode, live, "mesh-single", "reviews")
    assert routing_codes(doc) == []
    view = next(v for v in doc["routing"]["views"] if v["clientNamespace"] == "bookinfo")
    assert view["virtualService"]["inEffect"] == "bookinfo/reviews"  # the exact host beats the wildcard
    assert [r["catchAll"] for r in view["virtualService"]["routes"]] == [False, True]


@pytest.mark.parametrize("mode", MODES)
def test_two_virtualservices_with_the_same_wildcard_host(mode, live):
    [finding] = found(report(mode, live, "wildcard-duplicate", "reviews"), "MD101")
    assert finding["evidence"]["inEffect"] == "bookinfo/timeouts"
    assert finding["evidence"]["hostPattern"] == "*.bookinfo.svc.cluster.local"


# ----------------------------------------------------------------------------------- MD102, MD103

@pytest.mark.parametrize("mode", MODES)
def test_guidelines_myapp_fragments_are_silent_and_merged_in_order(mode, live):
    doc = report(mode, live, "myapp-fragments", "myapp.com", "default")
    assert doc["target"]["host"] == "myapp.com"
    assert routing_codes(doc) == []
    [gateway] = doc["routing"]["gateways"]
    assert gateway["gateway"] == "default/myapp-gateway"
    assert gateway["fragments"] == ["default/myapp-service1", "default/myapp-service2"]
    assert [r["match"] for r in gateway["routes"]] == ["uri prefix /service1", "uri prefix /service2"]


@pytest.mark.parametrize("mode", MODES)
def test_two_catch_alls_across_fragments(mode, live):
    doc = report(mode, live, "gateway-two-catch-alls", "myapp.com", "default")
    [finding] = found(doc, "MD103")
    assert finding["severity"] == "error"
    assert finding["evidence"]["catchAlls"] == ["VirtualService default/myapp-service1 rule #2",
                                                "VirtualService default/myapp-service2 rule #2"]
    assert finding["evidence"]["inEffect"] == "VirtualService default/myapp-service1 rule #2"
    routes = doc["routing"]["gateways"][0]["routes"]
    assert [r["catchAll"] for r in routes] == [False, False, True, True]  # catch-alls moved to the end


@pytest.mark.parametrize("mode", MODES)
def test_overlapping_prefixes_across_fragments(mode, live):
    [finding] = found(report(mode, live, "gateway-overlap", "myapp.com", "default"), "MD102")
    assert finding["evidence"]["routes"] == [
        "VirtualService default/myapp-api rule #1: uri prefix /api",
        "VirtualService default/myapp-api-v2 rule #1: uri prefix /api/v2"]


# ------------------------------------------------------------------------------------------- MD104

@pytest.mark.parametrize("mode", MODES)
def test_rule_after_a_catch_all_is_unreachable(mode, live):
    [finding] = found(report(mode, live, "unreachable-rule", "reviews"), "MD104")
    assert finding["evidence"]["catchAllRule"] == 1 and finding["evidence"]["unreachableRules"] == [2]
    assert "IST0130" in finding["evidence"]["related"]


@pytest.mark.parametrize("mode", MODES)
def test_guidelines_combined_virtualservice_is_silent(mode, live):
    doc = report(mode, live, "helloworld-combined", "helloworld", "default")
    assert routing_codes(doc) == []
    view = next(v for v in doc["routing"]["views"] if v["clientNamespace"] == "default")
    assert [r["match"] for r in view["virtualService"]["routes"]] == ["gateways ['mesh']"]


# ----------------------------------------------------------------------------------- MD105, MD106

@pytest.mark.parametrize("mode", MODES)
def test_duplicate_subset_and_discarded_traffic_policy(mode, live):
    doc = report(mode, live, "dr-merge-broken", "reviews")
    [dup] = found(doc, "MD105")
    assert dup["subset"] == "v2"
    assert dup["evidence"]["kept"] == {"destinationRule": "bookinfo/reviews", "labels": {"version": "v2"}}
    assert dup["evidence"]["discarded"] == {"destinationRule": "bookinfo/reviews-canary",
                                            "labels": {"version": "v2-canary"}}
    [policy] = found(doc, "MD106")
    assert policy["evidence"]["inEffect"] == {"destinationRule": "bookinfo/reviews", "settings": ["connectionPool"]}
    assert policy["evidence"]["discarded"] == [{"destinationRule": "bookinfo/reviews-canary", "settings": ["tls"]}]
    assert "tls settings are not applied" in policy["message"]
    view = next(v for v in doc["routing"]["views"] if v["clientNamespace"] == "bookinfo")
    assert view["destinationRule"]["subsets"] == ["v1 (from bookinfo/reviews)", "v2 (from bookinfo/reviews)",
                                                  "v3 (from bookinfo/reviews-canary)"]


@pytest.mark.parametrize("mode", MODES)
def test_an_identical_duplicate_subset_is_worth_knowing_not_an_error(mode, live):
    """Istio 1.6+ mergeDestinationRule keeps the first subset of a name and drops later ones whole; when
    they are identical Envoy gets the same cluster (pilot/pkg/model/destination_rule.go)."""
    doc = report(mode, live, "dr-duplicate-identical", "reviews")
    [dup] = found(doc, "MD105")
    assert (dup["subset"], dup["severity"], dup["evidence"]["identical"]) == ("v1", "info", True)
    assert "identical" in dup["message"]
    assert doc["summary"]["error"] == 0
    [broken] = found(report(mode, live, "dr-merge-broken", "reviews"), "MD105")
    assert (broken["severity"], broken["evidence"]["identical"]) == ("error", False)


# ------------------------------------------------------------------------------------------- MD107

@pytest.mark.parametrize("mode", MODES)
def test_private_destinationrule_is_invisible_to_the_gateway_namespace(mode, live):
    [finding] = found(report(mode, live, "dr-export-dot", "reviews"), "MD107")
    assert finding["evidence"]["destinationRule"] == "bookinfo/reviews"
    assert list(finding["evidence"]["unusedBy"]) == ["istio-system"]
    assert "not exported there" in finding["evidence"]["unusedBy"]["istio-system"]
    assert finding["evidence"]["usedBy"] == ["bookinfo"]


@pytest.mark.parametrize("mode", MODES)
def test_wildcard_rule_in_client_namespace_shadows_the_exact_rule(mode, live):
    doc = report(mode, live, "dr-wildcard-shadow", "reviews")
    [finding] = found(doc, "MD107")
    why = finding["evidence"]["unusedBy"]["frontend"]
    assert "client namespace frontend" in why and "frontend/mtls-everything matches *.local" in why
    assert ("DestinationRule", "frontend", "mtls-everything", "used instead") in {
        (r["kind"], r["namespace"], r["name"], r["role"]) for r in finding["resources"]}


# ------------------------------------------------------------------------------------------- MD108

@pytest.mark.parametrize("mode", MODES)
def test_dotted_short_names_are_taken_literally(mode, live):
    doc = report(mode, live, "host-spelling", "reviews")
    written = sorted((f["evidence"]["written"], f["evidence"]["in"]) for f in found(doc, "MD108"))
    assert written == [("reviews.bookinfo", "a route destination"), ("reviews.bookinfo", "hosts"),
                       ("reviews.bookinfo.svc", "host")]
    assert all(f["evidence"]["meant"] == "reviews.bookinfo.svc.cluster.local" for f in found(doc, "MD108"))


# ------------------------------------------------------------------------------------------ general

CORRECT_WORLDS = [
    ("gateway-one-catch-all", "myapp.com", "default"),  # distinct prefixes, one catch-all
    ("dr-merge-ok", "reviews", "bookinfo"),             # distinct subsets, one top-level trafficPolicy
    ("dr-export-all", "reviews", "bookinfo"),           # the rule is visible to the gateway's namespace
    ("dr-wildcard-root", "reviews", "bookinfo"),        # `*.local` in the root comes after the service namespace
    ("host-spelling-ok", "reviews", "bookinfo"),        # FQDN, short name, external host with dots
]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(("scenario", "host", "namespace"), CORRECT_WORLDS)
def test_correct_worlds_are_silent(mode, live, scenario, host, namespace):
    assert routing_codes(report(mode, live, scenario, host, namespace)) == []


def test_offline_configuration_absent_from_files_is_none_but_runtime_state_is_unknown():
    """A config directory without VirtualServices has none; a world without Pods has not been captured."""
    world = SCENARIOS / "routing" / "services.yaml"
    result = run_cli("host", "reviews", "-n", "bookinfo", "-f", str(world), "--offline", "-o", "json")
    doc = result.json()
    status = {c["code"]: c for c in doc["checks"]}
    assert status["MD101"]["status"] == "passed"
    assert status["MD502"] == {"id": "pod-without-sidecar", "code": "MD502", "status": "skipped",
                               "reason": "no Pod objects in the input files"}
    assert result.exit_code == 4


# ------------------------------------------------------------------------------------------- MD109
# Live only (a directory of files rarely holds every Service of the cluster), so these run on the
# fake API server.

def test_routes_and_rules_for_hosts_no_service_or_serviceentry_defines(live):
    cluster = live(objects_of(scenario_files("routing/services", "routing/not-in-registry")))
    doc = cluster.run("host", "reviews", "-n", "bookinfo", "-o", "json").json()
    by_host = {f["evidence"]["unknownHost"]: f for f in found(doc, "MD109")}
    assert set(by_host) == {"reviews-canary.bookinfo.svc.cluster.local", "audit.example.net"}
    canary = by_host["reviews-canary.bookinfo.svc.cluster.local"]
    assert canary["evidence"]["envoyResponse"] == "503 NC"
    assert [(r["kind"], r["name"]) for r in canary["resources"]] == [("VirtualService", "reviews")]
    legacy = cluster.run("host", "legacy.bookinfo.svc.cluster.local", "-o", "json").json()
    [own] = [f for f in found(legacy, "MD109") if f["evidence"]["unknownHost"] == legacy["target"]["host"]]
    assert {(r["kind"], r["name"]) for r in own["resources"]} == {("VirtualService", "legacy"),
                                                                   ("DestinationRule", "legacy")}


def test_hosts_known_by_a_service_or_a_wildcard_serviceentry_are_silent(live):
    cluster = live(objects_of(scenario_files("routing/services", "routing/in-registry")))
    for host in ("reviews", "legacy"):
        doc = cluster.run("host", host, "-n", "bookinfo", "-o", "json").json()
        assert found(doc, "MD109") == []
        assert next(c for c in doc["checks"] if c["code"] == "MD109")["status"] == "passed"


def test_host_not_in_registry_is_not_run_offline():
    doc = run_cli("host", "reviews", "-n", "bookinfo", "-o", "json",
                  *offline(*scenario_files("routing/services", "routing/not-in-registry"))).json()
    assert next(c for c in doc["checks"] if c["code"] == "MD109")["status"] == "not-run"


# ------------------------------------------------- gateway virtual hosts (server hosts x VirtualService hosts)

@pytest.mark.parametrize("mode", MODES)
def test_a_virtualservice_the_server_host_excludes_is_not_merged(mode, live):
    """gateway.go buildGatewayHTTPRouteConfig: `host.NamesForNamespace(server.Hosts, vs.Namespace)` drops
    `default/shop.example.com` for a VirtualService in frontend, so it adds no routes: one catch-all, no
    MD103; MD403 says why frontend's VirtualService is ignored."""
    doc = report(mode, live, "gateway-server-namespace", "shop.example.com", "default")
    assert found(doc, "MD103") == []
    [ignored] = found(doc, "MD403")
    assert ignored["resources"][0]["name"] == "shop-legacy"
    assert "only to VirtualServices in the namespaces they name (default/shop.example.com)" in ignored["message"]
    [gateway] = doc["routing"]["gateways"]
    assert (gateway["fragments"], gateway["virtualHost"]) == (["default/shop"], "shop.example.com")


@pytest.mark.parametrize("mode", MODES)
def test_a_wildcard_virtualservice_narrowed_by_the_server_joins_the_exact_virtual_host(mode, live):
    """names.go Intersection keeps the narrower name: `*.example.com` x server `shop.example.com` is
    shop.example.com, the same virtual host as the exact VirtualService, so their catch-alls collide."""
    [finding] = found(report(mode, live, "gateway-wildcard-narrowed", "shop.example.com", "default"), "MD103")
    assert finding["evidence"]["virtualHost"] == "shop.example.com"
    assert finding["evidence"]["proxyNamespace"] == "default"  # no proxy pod in the files: the Gateway's namespace
    assert finding["evidence"]["inEffect"] == "VirtualService default/all-shops rule #1"
    assert finding["evidence"]["fragments"] == ["default/all-shops", "default/shop"]


@pytest.mark.parametrize("mode", MODES)
def test_wildcard_and_exact_virtual_hosts_stay_apart_when_the_server_admits_the_wildcard(mode, live):
    doc = report(mode, live, "gateway-wildcard-split", "shop.example.com", "default")
    assert routing_codes(doc) == []
    [gateway] = doc["routing"]["gateways"]
    assert gateway["fragments"] == ["default/shop"]


@pytest.mark.parametrize("mode", MODES)
def test_a_gateway_looks_destinationrules_up_from_its_proxies_namespace(mode, live):
    """DefaultSidecarScopeForGateway(ps, proxy.ConfigNamespace): the ingress pods run in istio-system, so a
    rule private to bookinfo (where the Gateway lives) is invisible to them and subset v1 is missing."""
    [finding] = found(report(mode, live, "gateway-proxy-namespace", "reviews"), "MD301")
    assert finding["evidence"]["clientNamespaces"] == ["istio-system"]
    assert "gateway bookinfo/bookinfo-gateway's proxies (in istio-system)" in finding["message"]
    assert "exported" in finding["evidence"]["definedElsewhere"]["bookinfo/reviews"]
    assert found(report(mode, live, "gateway-proxy-namespace-ok", "reviews"), "MD301") == []


# ------------------------------------------------------------------------------------- Sidecar scope

@pytest.mark.parametrize("mode", MODES)
def test_the_root_namespace_sidecar_hides_other_namespaces_virtualservices(mode, live):
    """push_context.go doGetSidecarScope: without a Sidecar of their own, proxies use the root namespace's
    selector-less one, `./*` read as their own namespace; SelectVirtualServices imports only VirtualServices
    of imported namespaces."""
    doc = report(mode, live, "root-sidecar-scopes-vs", "reviews")
    assert found(doc, "MD101") == []
    [bookinfo] = [v for v in doc["routing"]["views"] if v["clientNamespace"] == "bookinfo"]
    assert bookinfo["virtualService"]["inEffect"] == "bookinfo/reviews"
    assert bookinfo["sidecar"] == "Sidecar istio-system/default (the root namespace's default)"


@pytest.mark.parametrize("mode", MODES)
def test_a_root_sidecar_importing_everything_changes_nothing(mode, live):
    [finding] = found(report(mode, live, "root-sidecar-imports-all", "reviews"), "MD101")
    assert finding["evidence"]["inEffect"] == "frontend/reviews-from-frontend"
    assert "bookinfo" in finding["evidence"]["clientNamespaces"]


def test_md101_cannot_tell_when_sidecars_are_forbidden(live):
    files = [BASE, *ROUTING_GROUND, SCENARIOS / "routing" / "root-sidecar-scopes-vs.yaml"]
    no_sidecars = Access("oncall", frozenset((k.plural, None) for k in KINDS if k.plural != "sidecars"))
    cluster = live(objects_of(files), tokens={"oncall": no_sidecars})
    doc = cluster.run("host", "reviews", "-n", "bookinfo", "-o", "json", token="oncall").json()
    [md101] = [c for c in doc["checks"] if c["code"] == "MD101"]
    assert md101["status"] == "skipped" and "Sidecar" in md101["reason"] and "forbidden" in md101["reason"]


# ------------------------------------------------------------------------- the namespace of an external host

@pytest.mark.parametrize("mode", MODES)
def test_an_external_host_takes_its_serviceentrys_namespace_for_the_lookup(mode, live):
    """push_context.go destinationRule(proxyNs, service): after the client's namespace, the service's,
    which for a ServiceEntry host is the ServiceEntry's (frontend), not the namespace asked for."""
    doc = report(mode, live, "external-serviceentry", "api.partner.example", "bookinfo")
    assert found(doc, "MD107") == []
    assert {c["code"]: c["status"] for c in doc["checks"]}["MD107"] == "passed"


@pytest.mark.parametrize("mode", MODES)
def test_without_a_serviceentry_the_hosts_namespace_is_unknown_not_guessed(mode, live):
    doc = report(mode, live, "external-no-serviceentry", "api.partner.example", "bookinfo", answered=False)
    [md107] = [c for c in doc["checks"] if c["code"] == "MD107"]
    assert md107["status"] == "skipped" and "namespace on the lookup path" in md107["reason"]
    assert any("namespace Istio would give it" in n for n in doc["notes"])


# ---------------------------------------------------------- DestinationRule lookup: what a namespace exports

@pytest.mark.parametrize("mode", MODES)
def test_the_most_specific_exported_rule_is_chosen_before_the_client_filter(mode, live):
    """getExportedDestinationRuleFromNamespace: MostSpecificHostMatch over every rule bookinfo exports
    picks the exact one (exported to istio-system only), then the client filter empties the result and
    the lookup moves to the root: the public wildcard rule with v1 is never consulted for frontend."""
    doc = report(mode, live, "dr-specific-not-exported", "reviews")
    [finding] = found(doc, "MD301")
    assert finding["evidence"]["clientNamespaces"] == ["frontend"] and finding["subset"] == "v1"
    assert "is not exported to frontend, so the lookup moves past bookinfo" in finding["message"]
    [bookinfo] = [v for v in doc["routing"]["views"] if v["clientNamespace"] == "bookinfo"]
    assert bookinfo["destinationRule"]["rules"] == ["bookinfo/bookinfo-versions"]  # bookinfo's own clients


@pytest.mark.parametrize("mode", MODES)
def test_a_private_rule_beside_a_public_one_stays_private(mode, live):
    """setDestinationRules: a private-only rule never enters bookinfo's exported rules, so frontend merges
    only the public rule and lacks v2; bookinfo's clients merge both."""
    files = [BASE, SCENARIOS / "workloads" / "ready.yaml", SCENARIOS / "subsets" / "private-subset-beside-public.yaml"]
    doc = run_world(mode, live, files, "host", "reviews", "-n", "bookinfo", "-o", "json").json()
    [finding] = found(doc, "MD301")
    assert finding["evidence"]["clientNamespaces"] == ["frontend"] and finding["subset"] == "v2"
    assert finding["evidence"]["destinationRule"] == ["bookinfo/reviews"]
    [bookinfo] = [v for v in doc["routing"]["views"] if v["clientNamespace"] == "bookinfo"]
    assert bookinfo["destinationRule"]["rules"] == ["bookinfo/reviews", "bookinfo/reviews-canary"]


# ------------------------------------------------------------------ MD104 beyond http catch-alls

@pytest.mark.parametrize("mode", MODES)
def test_tcp_rules_after_an_unscoped_tcp_rule_and_repeated_http_matches_are_unreachable(mode, live):
    """tls.go buildSidecarOutboundTCPFilterChainOpts: a tcp rule without match (or with an unscoped match)
    ends the loop (`break TcpLoop`); an http rule whose matches all repeat an earlier rule's never wins."""
    doc = report(mode, live, "tcp-rule-after-catch-all", "reviews")
    got = {(f["evidence"].get("routeKind"), tuple(f["evidence"]["unreachableRules"]), f["evidence"].get("shadowedBy"))
           for f in found(doc, "MD104")}
    assert got == {("http", (2,), 1), ("tcp", (2,), 1)}
    assert found(doc, "MD301") == []  # the shadowed rules route nothing, so their subsets are not judged


@pytest.mark.parametrize("mode", MODES)
def test_scoped_tcp_rules_before_the_catch_all_are_all_reachable(mode, live):
    assert routing_codes(report(mode, live, "tcp-rules-scoped", "reviews")) == []


def test_tls_rules_with_the_same_match_predicate_keep_the_first():
    rule = {"match": [{"port": 443, "sniHosts": ["a.example.com"]}], "route": [{"destination": {"host": "a"}}]}
    vs = {"metadata": {"name": "v", "namespace": "ns"}, "spec": {"hosts": ["a.example.com"], "tls": [rule, rule]}}
    [dead] = vss.shadowed_rules(vs, "tls", vss.MESH)
    assert (dead.kind, dead.rule, dead.by) == ("tls", 1, 0)
    assert vss.shadowed_rules(vs, "tcp", vss.MESH) == []
