"""The TLS model on its own; every expectation is a rule quoted in ISTIO-SEMANTICS.md §A."""

from __future__ import annotations

from typing import Any

import pytest

from kubectl_meshdoctor.mesh import tls
from kubectl_meshdoctor.mesh.destinationrules import DRLookup, merge
from kubectl_meshdoctor.mesh.settings import MeshSettings
from kubectl_meshdoctor.mesh.version import IstioVersion

PORT = {"name": "http", "port": 8000, "targetPort": 80}


def pa(name: str, ns: str, mode: str | None = None, selector: dict[str, str] | None = None,
       created: str = "2026-01-01T00:00:00Z", **spec: Any) -> dict[str, Any]:
    body: dict[str, Any] = dict(spec)
    if mode:
        body["mtls"] = {"mode": mode}
    if selector:
        body["selector"] = {"matchLabels": selector}
    return {"apiVersion": "security.istio.io/v1", "kind": "PeerAuthentication",
            "metadata": {"name": name, "namespace": ns, "creationTimestamp": created}, "spec": body}


def mode_for(pas: list[dict[str, Any]], labels: dict[str, str] | None = None, port: int | None = 80) -> str:
    return tls.pa_server_mode(tls.peer_policies(pas, "app", labels or {"app": "x"}, "istio-system"), port).mode


@pytest.mark.parametrize(("sent", "server", "http_port", "expected"), [
    ("ISTIO_MUTUAL", "STRICT", True, "OK"), ("ISTIO_MUTUAL", "PERMISSIVE", True, "OK"),
    ("ISTIO_MUTUAL", "DISABLE", True, "CONFLICT"), ("ISTIO_MUTUAL", "NO_SIDECAR", True, "CONFLICT"),
    ("DISABLE", "STRICT", True, "CONFLICT"), ("DISABLE", "PERMISSIVE", True, "OK"), ("DISABLE", "DISABLE", True, "OK"),
    ("DISABLE", "NO_SIDECAR", True, "OK"), ("SIMPLE", "STRICT", False, "CONFLICT"),
    ("SIMPLE", "PERMISSIVE", True, "CONFLICT"), ("SIMPLE", "PERMISSIVE", False, "OK"),
    ("MUTUAL", "DISABLE", True, "CONFLICT")])
def test_compatibility_matrix(sent, server, http_port, expected):
    assert tls.verdict(sent, server, http_port) == expected


def test_no_policy_is_permissive_and_unset_inherits():
    assert mode_for([]) == "PERMISSIVE"
    assert mode_for([pa("default", "istio-system", "STRICT"), pa("default", "app")]) == "STRICT"  # ns UNSET


def test_classes_apply_mesh_then_namespace_then_workload_then_port():
    policies = [pa("default", "istio-system", "STRICT"), pa("default", "app", "PERMISSIVE"),
                pa("x", "app", "DISABLE", {"app": "x"}, portLevelMtls={"80": {"mode": "STRICT"}, "81": {}})]
    assert mode_for(policies, port=80) == "STRICT"
    assert mode_for(policies, port=81) == "DISABLE"  # UNSET port entry inherits the workload mode
    assert mode_for(policies, labels={"app": "other"}) == "PERMISSIVE"


def test_root_namespace_selectors_are_ignored_and_the_oldest_wins_a_class():
    root_selector = pa("x", "istio-system", "DISABLE", {"app": "x"})
    policies = tls.peer_policies([root_selector], "app", {"app": "x"}, "istio-system")
    assert policies.root_selectors == (root_selector,) and tls.pa_server_mode(policies, 80).mode == "PERMISSIVE"
    old = pa("b-old", "app", "STRICT", created="2026-01-01T00:00:00Z")
    new = pa("a-new", "app", "DISABLE", created="2026-02-01T00:00:00Z")
    assert mode_for([new, old]) == "STRICT"
    tie = [pa("b", "app", "DISABLE"), pa("a", "app", "STRICT")]
    assert mode_for(tie) == "STRICT"  # same second: the name breaks the tie


def test_port_level_on_a_selectorless_policy_is_ignored():
    assert mode_for([pa("default", "app", "STRICT", portLevelMtls={"80": {"mode": "DISABLE"}})]) == "STRICT"


@pytest.mark.parametrize(("peers", "expected"), [
    ([{"mtls": {}}], "STRICT"), ([{"mtls": None}], "STRICT"), ([{"mtls": {"mode": "PERMISSIVE"}}], "PERMISSIVE"),
    ([{"jwt": {}}], "DISABLE"), ([], "DISABLE")])
def test_legacy_policy_modes(peers, expected):
    policy = {"kind": "MeshPolicy", "metadata": {"name": "default"}, "spec": {"peers": peers}}
    service = {"metadata": {"name": "httpbin", "namespace": "app"}, "spec": {}}
    assert tls.legacy_server_mode([], [policy], service, PORT, "cluster.local").mode == expected


def test_legacy_service_policy_by_port_name_beats_namespace_and_mesh():
    service = {"metadata": {"name": "httpbin", "namespace": "app"}, "spec": {}}
    specific = {"kind": "Policy", "metadata": {"name": "httpbin", "namespace": "app"},
                "spec": {"targets": [{"name": "httpbin", "ports": [{"name": "http"}]}], "peers": []}}
    namespace = {"kind": "Policy", "metadata": {"name": "default", "namespace": "app"},
                 "spec": {"peers": [{"mtls": {}}]}}
    assert tls.legacy_server_mode([namespace, specific], [], service, PORT, "cluster.local").mode == "DISABLE"
    other_port = {**PORT, "name": "grpc", "port": 9000}
    assert tls.legacy_server_mode([namespace, specific], [], service, other_port, "cluster.local").mode == "STRICT"


def dr(tp: dict[str, Any] | None = None, subsets: list[dict[str, Any]] | None = None) -> DRLookup:
    spec: dict[str, Any] = {"host": "httpbin", "subsets": subsets or []}
    if tp is not None:
        spec["trafficPolicy"] = tp
    rule = {"metadata": {"name": "httpbin", "namespace": "app"}, "spec": spec}
    return DRLookup("app", "h", "client namespace", "app", "h", merge([rule]))


AUTO_ON = (True, "ISTIO_MUTUAL", "")
SETTINGS = MeshSettings(version=IstioVersion(1, 22), auto_mtls=True, root_namespace="istio-system")


@pytest.mark.parametrize(("lookup", "subset", "explicit"), [
    (dr({"tls": {"mode": "ISTIO_MUTUAL"}}), "", "ISTIO_MUTUAL"),
    (dr({"tls": {}}), "", "DISABLE"),  # tls without mode is DISABLE
    (dr({"tls": {"mode": "ISTIO_MUTUAL"}, "portLevelSettings": [{"port": {"number": 8000}}]}), "", None),  # wholesale
    (dr({"tls": {"mode": "ISTIO_MUTUAL"}, "portLevelSettings": [{"port": {"number": 9}, "tls": {}}]}), "",
     "ISTIO_MUTUAL"),
    (dr({"tls": {"mode": "ISTIO_MUTUAL"}}, [{"name": "v1", "trafficPolicy": {"connectionPool": {}}}]), "v1",
     "ISTIO_MUTUAL"),  # a subset policy without tls keeps the top-level tls
    (dr({"tls": {"mode": "ISTIO_MUTUAL"}}, [{"name": "v1", "trafficPolicy": {
        "portLevelSettings": [{"port": {"number": 8000}}]}}]), "v1", None),  # subset port-level replaces all
    (dr(None), "", None)])
def test_client_mode_overrides(lookup, subset, explicit):
    assert tls.client_mode(lookup, PORT, subset, AUTO_ON, SETTINGS).explicit == explicit


def test_auto_mtls_sends_mutual_tls_only_to_labelled_pods():
    client = tls.client_mode(dr(None), PORT, "", AUTO_ON, SETTINGS)
    assert client.sends_to({"metadata": {"labels": {"security.istio.io/tlsMode": "istio"}}}) == "ISTIO_MUTUAL"
    assert client.sends_to({"metadata": {"labels": {}}}) == "DISABLE"


def test_istio_1_0_auth_policy_gives_mutual_tls_only_without_any_rule():
    old = MeshSettings(version=IstioVersion(1, 0, 6), auto_mtls=False, root_namespace="istio-system",
                       auth_policy="MUTUAL_TLS")
    no_rule = DRLookup("app", "h", None, None, None, None)
    assert tls.client_mode(no_rule, PORT, "", (False, None, ""), old).explicit == "ISTIO_MUTUAL"
    assert tls.client_mode(dr({"connectionPool": {}}), PORT, "", (False, None, ""), old).explicit is None


def test_named_target_port_resolves_through_the_pod():
    pod = {"spec": {"containers": [{"ports": [{"name": "web", "containerPort": 8080}]}]}}
    assert tls.target_port({"port": 80, "targetPort": "web"}, pod) == 8080
    assert tls.target_port({"port": 80}, pod) == 80
    assert tls.target_port({"port": 80, "targetPort": "missing"}, pod) is None
