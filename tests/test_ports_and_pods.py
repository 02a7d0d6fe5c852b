"""Service and pod requirements (MD501-MD508 beyond MD502/MD506), and the protocol Istio derives.

Expected protocols follow Istio's ConvertProtocol as ISTIO-SEMANTICS.md §D describes it.
"""

from __future__ import annotations

import pytest

from kubectl_meshdoctor.mesh.protocol import derive
from kubectl_meshdoctor.mesh.version import IstioVersion
from tests.conftest import BASE, EXAMPLES, SCENARIOS, found, offline, run_cli, run_world

MODES = ("offline",)  # live: tests/test_parity_fake.py proves every world the same served by the API
PORTS = SCENARIOS / "ports"


def report(mode: str, live, scenario: str, host: str = "web"):
    files = [BASE, PORTS / f"{scenario}.yaml"]
    result = run_world(mode, live, files, "host", host, "-n", "bookinfo", "-o", "json")
    assert "Traceback" not in result.stderr, result.stderr
    return result.json()


def md5(doc: dict, at_least: str = "warning") -> list[str]:
    levels = ("error", "warning") if at_least == "warning" else ("error", "warning", "info")
    return sorted(f["code"] for f in doc["findings"] if f["code"].startswith("MD5") and f["severity"] in levels)


# ------------------------------------------------------------------------------------- derivation

V = IstioVersion

@pytest.mark.parametrize(("port", "version", "protocol"), [
    ({"name": "http", "port": 80}, V(1, 22), "HTTP"),
    ({"name": "HTTP-web", "port": 80}, V(1, 22), "HTTP"),
    ({"name": "http2-x", "port": 80}, V(1, 22), "HTTP2"),
    ({"name": "grpc-web-ui", "port": 80}, V(1, 22), "GRPC-Web"),
    ({"name": "httpweb", "port": 80}, V(1, 22), "sniffed"),
    ({"name": "web", "port": 80, "appProtocol": "http"}, V(1, 22), "HTTP"),
    ({"name": "web", "port": 80, "appProtocol": "http"}, V(1, 5), "sniffed"),  # appProtocol from 1.6
    ({"name": "http-api", "port": 80, "appProtocol": "foo"}, V(1, 22), "sniffed"),
    ({"name": "x", "port": 80, "appProtocol": "kubernetes.io/h2c"}, V(1, 22), "HTTP2"),
    ({"name": "x", "port": 443, "appProtocol": "kubernetes.io/wss"}, V(1, 22), "HTTPS"),
    ({"port": 3306}, V(1, 22), "TCP"), ({"port": 27017}, V(1, 22), "TCP"), ({"port": 3307}, V(1, 22), "sniffed"),
    ({"port": 8080}, V(1, 2), "TCP"),  # no sniffing before 1.3
    ({"name": "mysql", "port": 3307}, V(1, 0), "TCP"),  # mysql was not a known name in 1.0
    ({"name": "dns", "port": 53, "protocol": "UDP"}, V(1, 22), "UDP")])
def test_protocol_derivation(port, version, protocol):
    assert derive(port, version).protocol == protocol


# ------------------------------------------------------------------------------------------- MD501

@pytest.mark.parametrize("mode", MODES)
def test_app_protocol_http_on_a_port_named_web_is_silent(mode, live):
    doc = report(mode, live, "app-protocol-http-on-web")
    assert found(doc, "MD501") == []
    port = doc["workloads"]["services"][0]["ports"][0]
    assert (port["protocol"], port["reason"]) == ("HTTP", "from appProtocol http (prefix http)")


@pytest.mark.parametrize("mode", MODES)
def test_unrecognised_app_protocol_hiding_a_meaningful_name(mode, live):
    [finding] = found(report(mode, live, "app-protocol-foo"), "MD501")
    assert finding["severity"] == "warning" and "appProtocol 'foo' overrides the port name" in finding["message"]


@pytest.mark.parametrize("mode", MODES)
def test_mysql_on_an_unnamed_port_3307_is_server_first_on_a_sniffed_port(mode, live):
    [finding] = found(report(mode, live, "mysql-3307", host="db"), "MD501")
    assert finding["severity"] == "error"
    assert finding["evidence"]["serverFirst"] == "MySQL (port 3307)"
    assert any("tcp-" in s and "appProtocol: tcp" in s for s in finding["remediation"])


@pytest.mark.parametrize("mode", MODES)
def test_mysql_on_3306_is_tcp_by_its_number(mode, live):
    doc = report(mode, live, "mysql-3306", host="db")
    assert found(doc, "MD501") == []
    assert doc["workloads"]["services"][0]["ports"][0]["reason"] == "unrecognised no name; well-known port 3306 -> TCP"


@pytest.mark.parametrize("mode", MODES)
def test_plain_http_left_to_sniffing_is_only_information(mode, live):
    doc = report(mode, live, "sniffed-http")
    [finding] = found(doc, "MD501")
    assert finding["severity"] == "info" and md5(doc) == []


# ------------------------------------------------------------------------------------ pods and ports

@pytest.mark.parametrize("mode", MODES)
def test_uid_1337_from_the_pod_unless_the_container_overrides_it(mode, live):
    [finding] = found(report(mode, live, "uid-1337"), "MD504")
    assert finding["evidence"] == {"container": "worker", "runAsUser": 1337, "setBy": "the pod's securityContext"}
    assert found(report(mode, live, "uid-1337-overridden"), "MD504") == []


@pytest.mark.parametrize("mode", MODES)
def test_services_that_disagree_on_a_pod_port_protocol(mode, live):
    [finding] = found(report(mode, live, "protocol-collision"), "MD505")
    assert finding["evidence"] == {"targetPort": 8080, "protocols": {"HTTP": ["web:80"], "TCP": ["web-raw:9000"]},
                                   "related": ["IST0116"]}
    assert found(report(mode, live, "one-protocol"), "MD505") == []


@pytest.mark.parametrize("mode", MODES)
def test_named_target_port_that_no_container_declares(mode, live):
    [finding] = found(report(mode, live, "named-target-port-missing"), "MD507")
    assert finding["evidence"] == {"targetPort": "http-web", "podsWithout": ["web-5d9f8-aaaaa"]}


@pytest.mark.parametrize("mode", MODES)
def test_application_on_an_istio_port(mode, live):
    [finding] = found(report(mode, live, "reserved-port"), "MD508")
    assert (finding["evidence"]["port"], finding["evidence"]["istioUse"]) == (15090, "Envoy Prometheus telemetry")


@pytest.mark.parametrize("mode", MODES)
def test_sidecar_present_but_not_ready(mode, live):
    [finding] = found(report(mode, live, "sidecar-not-ready"), "MD502")
    assert finding["evidence"]["podsWithoutSidecar"] == {
        "web-5d9f8-aaaaa": "the istio-proxy sidecar is not ready (readiness probe failing)"}


@pytest.mark.parametrize("mode", MODES)
def test_missing_app_and_version_labels(mode, live):
    [finding] = found(report(mode, live, "missing-labels"), "MD503")
    assert finding["severity"] == "info" and finding["evidence"]["missing"] == {"web-5d9f8-aaaaa": ["app", "version"]}


def test_healthy_bookinfo_has_no_md5_warning_or_error():
    for host in ("reviews", "ratings", "details", "productpage"):
        doc = run_cli("host", host, "-n", "bookinfo", *offline(EXAMPLES / "bookinfo-healthy"), "-o", "json").json()
        assert md5(doc) == [] and md5(doc, "info") == []
        pods = doc["workloads"]["pods"]
        assert pods and all(p["ready"] and p["sidecar"] and p["proxyVersion"] == "1.22.3" for p in pods)
