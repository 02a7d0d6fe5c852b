"""MD301-MD302 (subsets) and MD401-MD404 (ingress) on broken and correct worlds, offline and live."""

from __future__ import annotations

import pytest

from tests.conftest import BASE, SCENARIOS, found, objects_of, run_world
from tests.fakeapi.server import KINDS, Access

MODES = ("offline",)  # live: tests/test_parity_fake.py proves every world the same served by the API
CODES = {"MD301", "MD302", "MD401", "MD402", "MD403", "MD404"}


def run(mode: str, live, files: list, host: str, namespace: str):
    result = run_world(mode, live, files, "host", host, "-n", namespace, "-o", "json")
    assert "Traceback" not in result.stderr, result.stderr
    doc = result.json()
    assert all(c["status"] != "skipped" for c in doc["checks"] if c["code"] in CODES), doc["checks"]
    return doc


def subsets(mode: str, live, scenario: str):
    files = [BASE, SCENARIOS / "workloads" / "ready.yaml", SCENARIOS / "subsets" / f"{scenario}.yaml"]
    return run(mode, live, files, "reviews", "bookinfo")


def ingress(mode: str, live, scenario: str, host: str = "helloworld", directory: str = "ingress"):
    files = [BASE, SCENARIOS / "ingress" / "ground.yaml", SCENARIOS / directory / f"{scenario}.yaml"]
    return run(mode, live, files, host, "default")


def ours(doc: dict) -> list[str]:
    return sorted(f["code"] for f in doc["findings"] if f["code"] in CODES)


# ------------------------------------------------------------------------------------------ subsets

@pytest.mark.parametrize("mode", MODES)
def test_route_to_an_undefined_subset(mode, live):
    [finding] = found(subsets(mode, live, "missing-subset"), "MD301")
    assert finding["subset"] == "v3" and finding["severity"] == "error"
    assert finding["evidence"]["envoyCluster"] == "outbound|9080|v3|reviews.bookinfo.svc.cluster.local"
    assert finding["evidence"]["destinationRule"] == ["bookinfo/reviews"]
    assert finding["evidence"]["routes"] == ["VirtualService bookinfo/reviews http rule #1"]
    assert "503 (flag NC; NR before Istio 1.10)" in finding["message"]
    assert any("wait until the proxies have it, then apply the VirtualService" in s for s in finding["remediation"])


@pytest.mark.parametrize("mode", MODES)
def test_defined_subsets_with_ready_pods_are_silent(mode, live):
    assert ours(subsets(mode, live, "defined")) == []


@pytest.mark.parametrize("mode", MODES)
def test_subset_in_a_private_rule_is_missing_for_other_namespaces_only(mode, live):
    [finding] = found(subsets(mode, live, "private-elsewhere"), "MD301")
    assert finding["evidence"]["clientNamespaces"] == ["frontend"]
    assert finding["evidence"]["destinationRule"] == []  # frontend sees no rule at all
    assert "not exported there" in finding["evidence"]["definedElsewhere"]["bookinfo/reviews"]


@pytest.mark.parametrize("mode", MODES)
def test_mirror_to_an_undefined_subset(mode, live):
    [finding] = found(subsets(mode, live, "mirror-missing"), "MD301")
    assert finding["subset"] == "shadow"
    assert finding["evidence"]["routes"] == ["mirror of VirtualService bookinfo/reviews http rule #1"]


@pytest.mark.parametrize("mode", MODES)
def test_subset_without_ready_pods_and_subset_without_labels(mode, live):
    doc = subsets(mode, live, "empty-subset")
    by_subset = {f["subset"]: f for f in found(doc, "MD302")}
    assert set(by_subset) == {"v3", "all"}
    assert by_subset["v3"]["severity"] == "error" and "503 UH" in by_subset["v3"]["message"]
    assert by_subset["v3"]["evidence"]["matchingPods"] == {}
    assert by_subset["all"]["severity"] == "warning" and "no labels" in by_subset["all"]["message"]


def test_subset_check_does_not_repeat_a_service_without_ready_endpoints():
    files = [BASE, SCENARIOS / "workloads" / "not-ready.yaml", SCENARIOS / "subsets" / "defined.yaml"]
    doc = run("offline", None, files, "reviews", "bookinfo")
    assert found(doc, "MD302") == [] and len(found(doc, "MD506")) == 1


# ------------------------------------------------------------------------------------------ ingress

@pytest.mark.parametrize("mode", MODES)
def test_guidelines_gateway_route_ignores_the_mesh_subset(mode, live):
    doc = ingress(mode, live, "helloworld-subset-ignored")
    [finding] = found(doc, "MD401")
    assert finding["evidence"] == {"gateway": "default/myapp-gateway",
                                   "gatewayRoute": "VirtualService default/myapp http rule #1",
                                   "meshVirtualService": "default/helloworld", "meshSubsets": ["v1"]}
    assert any("subset: v1" in s for s in finding["remediation"])
    assert any("match.gateways" in s for s in finding["remediation"])
    assert ours(doc) == ["MD401"]


@pytest.mark.parametrize("mode", MODES)
def test_gateway_route_with_the_subset_is_silent(mode, live):
    assert ours(ingress(mode, live, "helloworld-gateway-subset")) == []


@pytest.mark.parametrize("mode", MODES)
def test_one_virtualservice_for_mesh_and_gateway_is_silent(mode, live):
    assert ours(ingress(mode, live, "helloworld-combined", directory="routing")) == []


@pytest.mark.parametrize("mode", MODES)
def test_missing_gateway(mode, live):
    [finding] = found(ingress(mode, live, "gateway-missing"), "MD402")
    assert (finding["evidence"]["gateway"], finding["evidence"]["written"]) == ("default/ingress-gateway",
                                                                               "ingress-gateway")
    assert "IST0101" in finding["evidence"]["related"]


@pytest.mark.parametrize("mode", MODES)
def test_a_virtual_service_bound_to_a_gateway_api_gateway_is_told_to_use_an_http_route(mode, live):
    [finding] = found(ingress(mode, live, "vs-on-gateway-api-gateway"), "MD402")
    assert (finding["evidence"]["gateway"], finding["evidence"]["gatewayApi"]) == ("default/web", True)
    assert "is a Kubernetes Gateway API Gateway (istio), not an Istio Gateway" in finding["message"]
    assert any("HTTPRoute with `parentRefs: [{name: web, namespace: default}]`" in s for s in finding["remediation"])
    assert ("Gateway", "default", "web") in {(r["kind"], r["namespace"], r["name"]) for r in finding["resources"]}


@pytest.mark.parametrize("mode", MODES)
def test_istiods_generated_name_for_a_gateway_api_listener_exists_unless_the_listener_does_not(mode, live):
    [finding] = found(ingress(mode, live, "vs-on-generated-gateway-name"), "MD402")  # only the https one
    assert finding["evidence"]["written"] == "web~istio-autogenerated-k8s-gateway~https"
    assert "listener https of Gateway API Gateway default/web, which has no such listener" in finding["message"]
    assert [r["name"] for r in finding["resources"] if r["kind"] == "VirtualService"] == ["helloworld-web-tls"]


@pytest.mark.parametrize("mode", MODES)
def test_host_not_served_by_the_gateway(mode, live):
    [finding] = found(ingress(mode, live, "host-not-on-gateway"), "MD403")
    assert finding["evidence"]["host"] == "shop.example.com"
    assert finding["evidence"]["gatewayHosts"] == ["*/myapp.com"]


@pytest.mark.parametrize("mode", MODES)
def test_a_virtualservice_on_two_gateways_is_judged_per_host_over_both(mode, live):
    """gateway.go buildGatewayHTTPRouteConfig intersects each server's hosts with the VirtualService's:
    myapp.com is served by myapp-gateway and shop.example.com by shop-gateway, so only the host no
    gateway admits is reported, once, naming both gateways."""
    [finding] = found(ingress(mode, live, "two-gateways-split-hosts"), "MD403")
    assert finding["evidence"]["host"] == "outlet.example.com"
    assert finding["evidence"]["gateways"] == ["default/myapp-gateway", "default/shop-gateway"]
    assert {r["name"] for r in finding["resources"] if r["kind"] == "Gateway"} == {"myapp-gateway", "shop-gateway"}


@pytest.mark.parametrize("mode", MODES)
def test_gateway_without_proxies(mode, live):
    doc = ingress(mode, live, "gateway-no-pods")
    [finding] = found(doc, "MD404")
    assert finding["evidence"]["gateway"] == "default/internal-gateway"
    assert finding["evidence"]["selector"] == {"istio": "internal-ingressgateway"}


def test_gateway_pods_are_listed_by_the_gateway_selector_in_all_namespaces(live):
    files = [BASE, SCENARIOS / "ingress" / "ground.yaml", SCENARIOS / "ingress" / "gateway-no-pods.yaml"]
    cluster = live(objects_of(files))
    cluster.run("host", "helloworld", "-n", "default")
    listed = [r for r in cluster.cluster.requests if r.path == "/api/v1/pods"]
    assert {r.query["labelSelector"] for r in listed} == {"istio=internal-ingressgateway"}


# ------------------------------------------------------------- subsets match istiod's augmented labels

@pytest.mark.parametrize("mode", MODES)
def test_a_zone_subset_matches_the_pods_on_nodes_in_that_zone(mode, live):
    """label.go AugmentLabels (1.8+): endpoints carry their Node's topology.kubernetes.io/zone."""
    doc = subsets(mode, live, "zone-subset")
    assert ours(doc) == []
    assert {c["code"]: c["status"] for c in doc["checks"]}["MD302"] == "passed"


@pytest.mark.parametrize("mode", MODES)
def test_a_zone_subset_with_no_node_in_the_zone_has_no_endpoint(mode, live):
    [finding] = found(subsets(mode, live, "zone-subset-empty"), "MD302")
    assert finding["subset"] == "eu-c"
    assert finding["evidence"]["labels"] == {"topology.kubernetes.io/zone": "eu-west-1c"}
    assert "topology labels istiod adds from their Nodes" in finding["message"]


def test_a_zone_subset_cannot_be_judged_without_the_nodes(live):
    """Never a wrong tick: the zone comes from Nodes; when they may not be read, MD302 says so."""
    files = [BASE, SCENARIOS / "workloads" / "ready.yaml", SCENARIOS / "subsets" / "zone-subset-empty.yaml"]
    no_nodes = Access("oncall", frozenset((k.plural, None) for k in KINDS if k.plural != "nodes"))
    cluster = live(objects_of(files), tokens={"oncall": no_nodes})
    doc = cluster.run("host", "reviews", "-n", "bookinfo", "-o", "json", token="oncall").json()
    [md302] = [c for c in doc["checks"] if c["code"] == "MD302"]
    assert md302["status"] == "skipped"
    assert "topology.kubernetes.io/zone" in md302["reason"] and "forbidden" in md302["reason"]
    assert found(doc, "MD302") == []
    node_reads = [r for r in cluster.cluster.requests if r.path.startswith("/api/v1/nodes")]
    assert sorted(r.query.get("fieldSelector") for r in node_reads) == ["metadata.name=node-a", "metadata.name=node-b"]


@pytest.mark.parametrize("mode", MODES)
def test_md401_judges_the_routes_the_gateway_really_reaches(mode, live):
    """The remedy (one VirtualService for mesh and gateway, subset v1) is in effect; a newer fragment's
    catch-all without a subset sorts after the remedy's catch-all in the merged virtual host
    (gateway.go: routes appended per fragment, catch-alls last), so no gateway request takes it."""
    assert found(ingress(mode, live, "remedy-with-old-fragment"), "MD401") == []
    doc = ingress(mode, live, "remedy-with-old-fragment", host="myapp.com")
    [leftover] = found(doc, "MD103")
    assert leftover["evidence"]["inEffect"] == "VirtualService default/myapp rule #1"


@pytest.mark.parametrize("mode", MODES)
def test_md401_still_fires_when_the_gateway_route_without_subset_is_reached(mode, live):
    [finding] = found(ingress(mode, live, "helloworld-subset-ignored"), "MD401")
    assert finding["evidence"]["gatewayRoute"] == "VirtualService default/myapp http rule #1"


# ------------------------------------------------------------------------------ delegate VirtualServices

@pytest.mark.parametrize("mode", MODES)
def test_a_delegates_route_to_an_undefined_subset_is_found_through_its_root(mode, live):
    """virtualservice.go mergeVirtualServicesIfNeeded / mergeHTTPRoutes (1.8+): the root's rule is replaced
    by the delegate's rules, hosts resolved in the delegate's namespace; the gateway gets v3 without a cluster."""
    [finding] = found(ingress(mode, live, "delegate-missing-subset"), "MD301")
    assert finding["subset"] == "v3" and finding["evidence"]["clientNamespaces"] == ["istio-system"]
    assert finding["evidence"]["routes"] == ["VirtualService default/myapp http rule #1 via delegate "
                                             "hello-team/helloworld-routes"]


@pytest.mark.parametrize("mode", MODES)
def test_a_delegate_on_defined_subsets_is_silent(mode, live):
    assert ours(ingress(mode, live, "delegate-defined-subsets")) == []
