"""The routing model on its own: each expectation is a rule of ISTIO-SEMANTICS.md §A.3.1-A.3.2 and §B."""

from __future__ import annotations

from typing import Any

import pytest

from kubectl_meshdoctor.mesh import destinationrules as drs
from kubectl_meshdoctor.mesh import virtualservices as vss
from kubectl_meshdoctor.mesh.settings import MeshSettings
from kubectl_meshdoctor.mesh.version import IstioVersion
from kubectl_meshdoctor.mesh.visibility import EXPORTED, PRIVATE, PUBLIC, visibility_class

HOST = "reviews.bookinfo.svc.cluster.local"


def settings(version: str | None = "1.22.0", **kw: Any) -> MeshSettings:
    return MeshSettings(version=IstioVersion.parse(version) if version else None, auto_mtls=True,
                        root_namespace="istio-system", **kw)


def obj(kind: str, name: str, ns: str, spec: dict[str, Any], created: str = "2026-01-01T00:00:00Z") -> dict[str, Any]:
    return {"apiVersion": "networking.istio.io/v1", "kind": kind, "spec": spec,
            "metadata": {"name": name, "namespace": ns, "creationTimestamp": created}}


def vs(name: str, ns: str, hosts: list[str], http: list[dict[str, Any]] | None = None, **spec: Any):
    created = spec.pop("created", "2026-01-01T00:00:00Z")
    default_http = [{"route": [{"destination": {"host": "x"}}]}]
    return obj("VirtualService", name, ns, {"hosts": hosts, "http": http or default_http, **spec}, created)


def dr(name: str, ns: str, host: str, created: str = "2026-01-01T00:00:00Z", **spec: Any):
    return obj("DestinationRule", name, ns, {"host": host, **spec}, created)


# ----------------------------------------------------------------------------------- gateways, matches

@pytest.mark.parametrize(("ref", "expected"), [
    ("mesh", "mesh"), ("my-gw", "apps/my-gw"), ("./my-gw", "apps/my-gw"), ("edge/my-gw", "edge/my-gw"),
    ("my-gw.edge.svc.cluster.local", "edge/my-gw")])
def test_gateway_references_are_normalized_in_the_virtualservice_namespace(ref, expected):
    assert vss.normalize_gateway(ref, "apps") == expected


def test_no_gateways_means_mesh():
    assert vss.vs_gateways(vs("a", "apps", ["a"])) == ("mesh",)


@pytest.mark.parametrize(("match", "catch_all"), [
    ({}, True), ({"uri": {"prefix": "/"}}, True), ({"uri": {"regex": ".*"}}, True),
    ({"gateways": ["mesh"]}, True), ({"sourceLabels": {"app": "x"}}, True), ({"port": 8080}, True),
    ({"uri": {"prefix": "/a"}}, False), ({"uri": {"exact": "/"}}, False), ({"method": {"exact": "GET"}}, False),
    ({"headers": {"end-user": {"exact": "jason"}}}, False), ({"uri": {"prefix": "/"}, "queryParams": {"q": {}}}, False),
    ({"authority": {"exact": "a.example.com"}}, False)])
def test_catch_all_is_prefix_slash_without_header_like_matchers(match, catch_all):
    assert vss.is_catch_all(match) is catch_all


def test_routes_stop_at_the_first_catch_all_match_entry():
    service = vs("a", "apps", ["a"], [
        {"match": [{"uri": {"prefix": "/a"}}, {"uri": {"prefix": "/"}}], "route": [{"destination": {"host": "a"}}]},
        {"match": [{"uri": {"prefix": "/b"}}], "route": [{"destination": {"host": "b"}}]}])
    routes, stop = vss.routes_for(service, "mesh", "cluster.local")
    assert [(r.rule, r.match) for r in routes] == [(0, 0), (0, 1)]
    assert stop is routes[-1]
    assert vss.unreachable_rules(service, "mesh", "cluster.local")[1] == [1]


def test_rules_restricted_to_another_gateway_do_not_count_for_this_one():
    service = vs("a", "apps", ["a"], [
        {"match": [{"gateways": ["mesh"]}], "route": [{"destination": {"host": "a"}}]},
        {"match": [{"uri": {"prefix": "/x"}, "gateways": ["gw"]}], "route": [{"destination": {"host": "a"}}]}],
        gateways=["mesh", "gw"])
    assert vss.unreachable_rules(service, "mesh", "cluster.local")[1] == []  # rule 2 is for the gateway only
    assert vss.unreachable_rules(service, "apps/gw", "cluster.local") == (None, [])


def test_delegate_routes_replace_the_delegating_rule_one_level():
    root = vs("root", "apps", ["a.example.com"], [{"match": [{"uri": {"prefix": "/r"}}],
                                                   "delegate": {"name": "child", "namespace": "team"}}],
              gateways=["gw"])
    child = obj("VirtualService", "child", "team", {"http": [
        {"match": [{"uri": {"prefix": "/r/x"}}], "route": [{"destination": {"host": "x"}}]},
        {"route": [{"destination": {"host": "y"}}]}]})
    routes, _ = vss.routes_for(root, "apps/gw", "cluster.local", {"team/child": child})
    assert [(r.conditions.get("uri"), r.destinations[0].host, r.catch_all) for r in routes] == [
        ({"prefix": "/r/x"}, "x.team.svc.cluster.local", False), ({"prefix": "/r"}, "y.team.svc.cluster.local", False)]
    assert vss.routes_for(root, "apps/gw", "cluster.local", {})[0] == []  # missing delegate: skipped


@pytest.mark.parametrize(("a", "b", "overlap"), [
    ({"uri": {"prefix": "/api"}}, {"uri": {"prefix": "/api/v2"}}, True),
    ({"uri": {"prefix": "/a"}}, {"uri": {"prefix": "/b"}}, False),
    ({"uri": {"exact": "/a/b"}}, {"uri": {"prefix": "/a"}}, True),
    ({"uri": {"exact": "/a"}}, {"uri": {"exact": "/b"}}, False),
    ({"uri": {"regex": "/a.*"}}, {"uri": {"prefix": "/a"}}, False),  # not provable: no alarm
    ({"uri": {"prefix": "/s"}, "headers": {"t": {"exact": "a"}}},
     {"uri": {"prefix": "/s"}, "headers": {"t": {"exact": "b"}}}, False),
    ({"uri": {"prefix": "/s"}, "headers": {"t": {"exact": "a"}}}, {"uri": {"prefix": "/s"}}, True),
    ({"method": {"exact": "GET"}}, {"method": {"exact": "POST"}}, False)])
def test_overlap_is_reported_only_when_provable(a, b, overlap):
    assert vss.matches_overlap(a, b) is overlap


# ---------------------------------------------------------------------------------------- visibility

@pytest.mark.parametrize(("export", "client", "expected"), [
    (None, "apps", PUBLIC), (None, "other", PUBLIC), (["*"], "other", PUBLIC), (["*", "."], "other", PUBLIC),
    (["."], "apps", PRIVATE), (["."], "other", None), (["apps"], "apps", PRIVATE), (["other"], "other", EXPORTED),
    (["other"], "apps", None), (["~"], "apps", None), ([".", "other"], "other", EXPORTED)])
def test_export_to_classes(export, client, expected):
    service = vs("a", "apps", ["a"], **({"exportTo": export} if export is not None else {}))
    assert visibility_class(service, client, ("*",)) == expected


def test_mesh_default_export_and_istio_1_4_first_element_only():
    service = vs("a", "apps", ["a"])
    assert visibility_class(service, "other", (".",)) is None
    old = IstioVersion(1, 4, 6)
    assert visibility_class(vs("a", "apps", ["a"], exportTo=["other", "."]), "x", ("*",), old) == PUBLIC
    assert visibility_class(vs("a", "apps", ["a"], exportTo=[".", "other"]), "other", ("*",), old) is None


# -------------------------------------------------------------------------------- sidecar VS selection

def test_private_then_exported_then_public_each_by_age_then_name():
    public_old = vs("public-old", "shared", [HOST], created="2025-01-01T00:00:00Z")
    exported = vs("exported", "team", [HOST], exportTo=["apps"], created="2026-01-01T00:00:00Z")
    private_new = vs("private-new", "apps", [HOST], exportTo=["."], created="2026-06-01T00:00:00Z")
    sel = vss.mesh_selection([public_old, exported, private_new], settings(), "apps", HOST)
    assert sel.winner.ref == "apps/private-new"
    assert [c.ref for c in sel.ignored] == ["team/exported", "shared/public-old"]
    tie = vss.mesh_selection([vs("b", "apps", [HOST]), vs("a", "apps", [HOST])], settings(), "apps", HOST)
    assert tie.winner.ref == "apps/a"


def test_exact_host_beats_wildcards_and_longer_wildcard_beats_shorter():
    candidates = [vs("all", "apps", ["*"]), vs("ns", "apps", ["*.bookinfo.svc.cluster.local"]),
                  vs("local", "apps", ["*.local"])]
    assert vss.mesh_selection(candidates, settings(), "apps", HOST).winner.ref == "apps/ns"
    exact = vss.mesh_selection([*candidates, vs("exact", "apps", ["reviews.bookinfo.svc.cluster.local"])],
                               settings(), "apps", HOST)
    assert exact.winner.ref == "apps/exact" and exact.ignored == ()


def test_gateway_only_virtualservices_do_not_apply_to_sidecars():
    assert vss.mesh_selection([vs("gw", "apps", [HOST], gateways=["gw"])], settings(), "apps", HOST).winner is None


# ------------------------------------------------------------------------------------ gateway merge

def test_gateway_merge_appends_fragments_by_age_and_moves_catch_alls_last():
    older = vs("older", "apps", ["myapp.com"], [{"route": [{"destination": {"host": "a"}}]}], gateways=["gw"],
               created="2026-01-01T00:00:00Z")
    newer = vs("newer", "apps", ["myapp.com"],
               [{"match": [{"uri": {"prefix": "/n"}}], "route": [{"destination": {"host": "n"}}]},
                {"route": [{"destination": {"host": "z"}}]}],
               gateways=["gw"], created="2026-02-01T00:00:00Z")
    gw = gateway("gw", "apps", ["myapp.com"])
    merged = vss.gateway_merge([newer, older], settings(), "apps/gw", gw, "myapp.com", "apps")
    assert [f.ref for f in merged.fragments] == ["apps/older", "apps/newer"]
    assert [(vss.vs_ref(r.vs), r.rule, r.catch_all) for r in merged.routes] == [
        ("apps/newer", 0, False), ("apps/older", 0, True), ("apps/newer", 1, True)]
    assert len(vss.gateway_merge([newer, older], settings("1.0.6"), "apps/gw", gw, "myapp.com", "apps").fragments) == 1
    assert vss.gateway_merge([newer, older], settings(), "apps/gw", None, "myapp.com", "apps").fragments == ()


def gateway(name: str, namespace: str, server_hosts: list[str]) -> dict:
    return {"kind": "Gateway", "metadata": {"name": name, "namespace": namespace},
            "spec": {"servers": [{"port": {"number": 80, "name": "http", "protocol": "HTTP"}, "hosts": server_hosts}]}}


@pytest.mark.parametrize(("vs_hosts", "server_hosts", "expected"), [
    # the examples of pkg/config/host/names.go Names.Intersection, server hosts on the right
    (["foo.com", "bar.com"], ["*.com"], ["foo.com", "bar.com"]),
    (["foo.com", "*.net"], ["*.com", "bar.net"], ["foo.com", "bar.net"]),
    (["foo.com", "*.net"], ["*.bar.net"], ["*.bar.net"]),
    (["foo.com"], ["bar.com"], []),
    # NamesForNamespace: `ns/host` admits VirtualServices of ns only, `*/host` and `./host` as documented
    (["foo.com"], ["apps/foo.com"], ["foo.com"]),
    (["foo.com"], ["other/foo.com"], []),
    (["foo.com"], ["*/foo.com"], ["foo.com"]),
    (["foo.com"], ["./foo.com"], []),  # `.` is the Gateway's namespace (edge), not the VirtualService's (apps)
])
def test_virtual_hosts_are_the_intersection_of_server_and_virtualservice_hosts(vs_hosts, server_hosts, expected):
    service = vs("v", "apps", vs_hosts, [], gateways=["edge/gw"])
    servers = vss.server_hosts(gateway("gw", "edge", server_hosts))
    assert vss.virtual_hosts(service, servers, "cluster.local") == expected


# ------------------------------------------------------------------------------- DestinationRule lookup

def test_lookup_order_client_then_service_then_root_never_merged_across():
    rules = [dr("root", "istio-system", HOST, subsets=[{"name": "r"}]), dr("svc", "bookinfo", "reviews"),
             dr("client", "frontend", HOST)]
    s = settings()
    assert drs.lookup(rules, s, "frontend", HOST, "bookinfo").merged.rules == (rules[2],)
    assert drs.lookup(rules, s, "other", HOST, "bookinfo").merged.rules == (rules[1],)
    assert drs.lookup(rules[:1], s, "other", HOST, "bookinfo").step == drs.ROOT


def test_wildcard_in_client_namespace_shadows_exact_rule_in_service_namespace():
    rules = [dr("exact", "bookinfo", "reviews"), dr("everything", "frontend", "*.local")]
    found = drs.lookup(rules, settings(), "frontend", HOST, "bookinfo")
    assert (found.step, found.pattern, found.merged.rules) == (drs.CLIENT, "*.local", (rules[1],))


def test_most_specific_host_inside_one_namespace():
    rules = [dr("local", "bookinfo", "*.local"), dr("svc", "bookinfo", "*.svc.cluster.local"),
             dr("exact", "bookinfo", "reviews")]
    assert drs.lookup(rules, settings(), "bookinfo", HOST, "bookinfo").merged.rules == (rules[2],)
    assert drs.lookup(rules[:2], settings(), "bookinfo", HOST, "bookinfo").merged.rules == (rules[1],)


def test_private_rule_is_skipped_by_other_namespaces():
    rules = [dr("private", "bookinfo", "reviews", exportTo=["."]), dr("mesh", "istio-system", "*.local")]
    assert drs.lookup(rules, settings(), "istio-system", HOST, "bookinfo").merged.rules == (rules[1],)
    assert drs.lookup(rules, settings(), "bookinfo", HOST, "bookinfo").merged.rules == (rules[0],)


def test_root_namespace_client_sees_only_private_root_rules_first():
    public_root = dr("public", "istio-system", HOST)
    private_root = dr("private", "istio-system", "*.local", exportTo=["."])
    svc_rule = dr("svc", "bookinfo", "reviews")
    found = drs.lookup([public_root, private_root, svc_rule], settings(), "istio-system", HOST, "bookinfo")
    assert found.merged.rules == (private_root,)  # step 1: the root's private rules only
    found = drs.lookup([public_root, svc_rule], settings(), "istio-system", HOST, "bookinfo")
    assert found.merged.rules == (svc_rule,)  # then the service namespace, before the root's public rules


def test_workload_selector_rules_are_not_on_the_lookup_path_and_istio_1_0_is_cluster_wide():
    selected = dr("selected", "bookinfo", "reviews", workloadSelector={"matchLabels": {"app": "x"}})
    assert drs.lookup([selected], settings(), "bookinfo", HOST, "bookinfo").merged is None
    far = dr("far", "elsewhere", "reviews.bookinfo.svc.cluster.local")
    assert drs.lookup([far], settings(), "bookinfo", HOST, "bookinfo").merged is None
    assert drs.lookup([far], settings("1.0.3"), "bookinfo", HOST, "bookinfo").step == drs.GLOBAL
    newer = dr("newer", "bookinfo", "reviews", "2026-02-01T00:00:00Z")
    assert drs.lookup([far, newer], settings("1.0.3"), "x", HOST, None).merged.rules == (far, newer)
    assert drs.lookup([far, newer], settings("1.0.0"), "x", HOST, None).merged.rules == (newer,)  # no merge


def test_merge_first_subset_wins_and_oldest_traffic_policy_wins_whole():
    old = dr("old", "bookinfo", "reviews", "2026-01-01T00:00:00Z", trafficPolicy={"connectionPool": {}},
             subsets=[{"name": "v1", "labels": {"version": "v1"}}])
    new = dr("new", "bookinfo", "reviews", "2026-02-01T00:00:00Z", trafficPolicy={"tls": {"mode": "ISTIO_MUTUAL"}},
             subsets=[{"name": "v1", "labels": {"version": "other"}}, {"name": "v2"}])
    nulled = dr("nulled", "bookinfo", "reviews", "2026-03-01T00:00:00Z", trafficPolicy=None)
    merged = drs.merge([nulled, new, old])
    assert [drs.dr_ref(r) for r in merged.rules] == ["bookinfo/old", "bookinfo/new", "bookinfo/nulled"]
    assert [(s.name, drs.dr_ref(s.rule)) for s in merged.subsets] == [("v1", "bookinfo/old"), ("v2", "bookinfo/new")]
    assert [(lost.name, drs.dr_ref(lost.rule)) for lost, _ in merged.duplicate_subsets] == [("v1", "bookinfo/new")]
    assert merged.policy_from is old and merged.traffic_policy == {"connectionPool": {}}
    assert [(drs.dr_ref(r), keys) for r, keys in merged.discarded_policies] == [("bookinfo/new", ("tls",))]
