"""MD201-MD203 and the `tls` command, on broken and correct worlds, offline and live.

Expectations follow the compatibility matrix of ISTIO-SEMANTICS.md §A.4 and the server/client rules of
§A.1-A.3: which side sends what, which policy decides it, and where auto mTLS looks.
"""

from __future__ import annotations

import pytest

from tests.conftest import SCENARIOS, offline, run_cli, run_world

MODES = ("offline",)  # live: tests/test_parity_fake.py proves every world the same served by the API
TLS = SCENARIOS / "tls"


def tls_report(mode: str, live, *scenarios: str, host: str = "httpbin", ground: str = "ground", command: str = "tls"):
    files = [TLS / f"{ground}.yaml", *(TLS / f"{s}.yaml" for s in scenarios)]
    result = run_world(mode, live, files, command, host, "-n", "default", "-o", "json")
    assert "Traceback" not in result.stderr, result.stderr
    doc = result.json()
    assert {c["status"] for c in doc["checks"]} <= {"passed", "failed"}, doc["checks"]
    return doc, result.exit_code


def rows(doc: dict) -> dict[str, dict]:
    return {f"{r['port']}|{r['subset'] or ''}@{r['clientNamespace']}": r for r in doc["tls"]}


def codes(doc: dict) -> list[str]:
    return sorted(f["code"] for f in doc["findings"])


# ------------------------------------------------------------------------------------------- MD201

@pytest.mark.parametrize("mode", MODES)
def test_guidelines_httpbin_example_is_a_conflict(mode, live):
    doc, code = tls_report(mode, live, "mesh-strict", "guidelines-httpbin")
    row = rows(doc)["8000|@default"]
    assert (row["status"], row["server"], row["client"]) == ("CONFLICT", "STRICT",
                                                              "plaintext (no tls set, auto mTLS off)")
    assert row["authnPolicy"] == "istio-system/default (mesh)"
    assert row["destinationRule"] == "default/httpbin (no tls)"
    [finding] = [f for f in doc["findings"] if f["port"] == 8000 and f["subset"] is None]
    assert finding["code"] == "MD201" and finding["severity"] == "error"
    assert "has no trafficPolicy.tls and auto mTLS is off" in finding["message"]
    assert any("ISTIO_MUTUAL" in step for step in finding["remediation"])
    assert code == 1


@pytest.mark.parametrize("mode", MODES)
def test_guidelines_httpbin_fixed_is_ok(mode, live):
    doc, code = tls_report(mode, live, "mesh-strict", "guidelines-httpbin-fixed")
    assert {r["status"] for r in doc["tls"]} == {"OK"}
    assert codes(doc) == [] and code == 0


@pytest.mark.parametrize("mode", MODES)
def test_disable_against_namespace_strict_with_auto_mtls_on(mode, live):
    doc, _ = tls_report(mode, live, "dr-disable")
    assert {r["status"] for r in doc["tls"] if r["host"].startswith("httpbin")} == {"CONFLICT"}
    [finding] = doc["findings"]
    assert finding["evidence"]["ports"] == [8000, 9000]
    assert finding["evidence"]["client"] == "DISABLE" and finding["evidence"]["server"] == "STRICT"
    assert finding["evidence"]["authnPolicy"] == "PeerAuthentication default/default (namespace)"
    assert finding["evidence"]["destinationRule"] == ["default/httpbin top-level"]
    assert {(r["kind"], r["name"], r["role"]) for r in finding["resources"]} >= {
        ("DestinationRule", "httpbin", "client tls"), ("PeerAuthentication", "default", "server mtls")}


@pytest.mark.parametrize("mode", MODES)
def test_rule_without_tls_leaves_it_to_auto_mtls(mode, live):
    doc, code = tls_report(mode, live, "dr-no-tls")
    assert {r["status"] for r in doc["tls"]} == {"AUTO"}
    assert {r["client"] for r in doc["tls"]} == {"AUTO -> ISTIO_MUTUAL"}
    assert {f"{r['port']}|{r['subset'] or ''}" for r in doc["tls"]} == {"8000|", "8000|v1", "8000|v2", "9000|",
                                                                          "9000|v1", "9000|v2"}
    assert codes(doc) == [] and code == 0


@pytest.mark.parametrize("mode", MODES)
def test_empty_tls_block_means_disable(mode, live):
    doc, _ = tls_report(mode, live, "mesh-strict", "tls-empty")
    assert rows(doc)["8000|@default"]["client"] == "DISABLE"
    [finding] = doc["findings"]  # one cause, both ports
    assert finding["code"] == "MD201" and finding["evidence"]["ports"] == [8000, 9000]


@pytest.mark.parametrize("mode", MODES)
def test_port_level_setting_replaces_the_top_level_block_for_its_port_only(mode, live):
    doc, _ = tls_report(mode, live, "mesh-strict", "port-level")
    table = rows(doc)
    assert table["8000|@default"]["status"] == "OK"
    assert table["9000|@default"]["status"] == "CONFLICT"
    assert table["9000|@default"]["destinationRule"] == "default/httpbin portLevelSettings 9000"
    [finding] = doc["findings"]
    assert (finding["evidence"]["ports"], finding["evidence"]["targetPort"]) == ([9000], 9090)  # named targetPort


@pytest.mark.parametrize("mode", MODES)
def test_subset_policy_overrides_tls_for_that_subset_only(mode, live):
    doc, _ = tls_report(mode, live, "mesh-strict", "subset-level")
    table = rows(doc)
    assert table["8000|@default"]["status"] == "OK" and table["8000|v1@default"]["status"] == "OK"
    assert table["8000|v2@default"]["status"] == "CONFLICT"
    assert table["8000|v2@default"]["server"] == "STRICT"
    [finding] = doc["findings"]
    assert (finding["subset"], finding["evidence"]["ports"]) == ("v2", [8000, 9000])
    assert finding["evidence"]["pods"] == ["httpbin-v2-7c8b9-bbbbb"]
    assert finding["evidence"]["destinationRule"] == ["default/httpbin top-level",
                                                      "default/httpbin subset v2 top-level"]


@pytest.mark.parametrize("mode", MODES)
def test_istio_mutual_to_a_pod_without_sidecar(mode, live):
    doc, _ = tls_report(mode, live, "mutual-to-no-sidecar", host="legacy-app")
    [finding] = doc["findings"]
    assert finding["code"] == "MD201" and "has no sidecar" in finding["message"]
    assert rows(doc)["8080|@default"]["server"] == "NO_SIDECAR"


@pytest.mark.parametrize("mode", MODES)
def test_auto_mtls_sends_plaintext_to_a_pod_without_sidecar(mode, live):
    doc, code = tls_report(mode, live, "auto-to-no-sidecar", host="legacy-app")
    assert codes(doc) == [] and rows(doc)["8080|@default"]["status"] == "AUTO" and code == 0


@pytest.mark.parametrize("mode", MODES)
def test_istio_1_4_app_rule_without_tls_hides_the_mesh_wide_rule(mode, live):
    doc, _ = tls_report(mode, live, "app-dr-1.4", ground="ground-1.4")
    assert doc["source"]["istio"] == {"version": "1.4.6", "autoMtls": False, "rootNamespace": "istio-system"}
    row = rows(doc)["8000|@default"]
    assert (row["status"], row["server"], row["authnPolicy"]) == ("CONFLICT", "STRICT", "MeshPolicy default (mesh)")
    [finding] = doc["findings"]  # one cause: the default cluster and subset v1 in one finding
    assert finding["code"] == "MD201" and finding["evidence"]["subsets"] == ["(default)", "v1"]


@pytest.mark.parametrize("mode", MODES)
def test_istio_1_4_with_istio_mutual_repeated_is_ok(mode, live):
    doc, code = tls_report(mode, live, "app-dr-1.4-fixed", ground="ground-1.4")
    assert codes(doc) == [] and {r["status"] for r in doc["tls"]} == {"OK"} and code == 0


def test_istio_1_4_without_app_rule_uses_the_mesh_wide_rule():
    doc, code = tls_report("offline", None, ground="ground-1.4")
    assert rows(doc)["8000|@default"]["destinationRule"] == "istio-system/default top-level"
    assert codes(doc) == [] and code == 0


# ------------------------------------------------------------------------------------------- MD202

@pytest.mark.parametrize("mode", MODES)
def test_blind_spot_workload_disable(mode, live):
    doc, _ = tls_report(mode, live, "mesh-strict", "blind-workload-disable")
    assert {f["code"] for f in doc["findings"]} == {"MD202"}
    finding = next(f for f in doc["findings"] if f["port"] == 8000)
    assert finding["evidence"]["blindSpot"] == "workload-disable"
    assert finding["evidence"]["sent"] == "ISTIO_MUTUAL" and finding["evidence"]["server"] == "DISABLE"
    assert any("tls: {mode: DISABLE}" in s for s in finding["remediation"])


@pytest.mark.parametrize("mode", MODES)
def test_blind_spot_workload_disable_fixed_by_an_explicit_rule(mode, live):
    doc, code = tls_report(mode, live, "mesh-strict", "blind-workload-disable-fixed")
    assert codes(doc) == [] and code == 0


@pytest.mark.parametrize("mode", MODES)
def test_blind_spot_workload_strict_under_namespace_disable(mode, live):
    doc, _ = tls_report(mode, live, "blind-workload-strict")
    finding = next(f for f in doc["findings"] if f["port"] == 8000)
    assert finding["code"] == "MD202" and finding["evidence"]["blindSpot"] == "workload-strict"
    assert finding["evidence"]["sent"] == "DISABLE" and finding["evidence"]["server"] == "STRICT"


@pytest.mark.parametrize("mode", MODES)
def test_blind_spot_workload_strict_fixed(mode, live):
    doc, code = tls_report(mode, live, "blind-workload-strict-fixed")
    assert codes(doc) == [] and code == 0


@pytest.mark.parametrize("mode", MODES)
def test_blind_spot_headless_with_a_sidecar_less_endpoint(mode, live):
    doc, _ = tls_report(mode, live, "mesh-strict", "blind-headless", host="db")
    [finding] = doc["findings"]
    assert finding["code"] == "MD202" and finding["evidence"]["blindSpot"] == "headless"
    assert finding["evidence"]["pods"] == ["db-0"]


@pytest.mark.parametrize("mode", MODES)
def test_headless_with_every_endpoint_injected_is_silent(mode, live):
    doc, code = tls_report(mode, live, "mesh-strict", "headless-all-injected", host="db")
    assert codes(doc) == [] and code == 0


# ------------------------------------------------------------------------------------------- MD203

@pytest.mark.parametrize("mode", MODES)
def test_ignored_and_competing_peer_authentications(mode, live):
    doc, _ = tls_report(mode, live, "ignored-policies")
    problems = {f["evidence"]["problem"]: f["evidence"]["peerAuthentication"]
                for f in doc["findings"] if f["code"] == "MD203"}
    assert problems == {"root-selector": "istio-system/httpbin-from-root", "duplicate": "default/strict-everything",
                        "port-without-selector": "default/strict-everything"}
    # the oldest namespace policy (PERMISSIVE) is the one in effect
    assert rows(doc)["8000|@default"]["authnPolicy"] == "default/default (namespace)"


@pytest.mark.parametrize("mode", MODES)
def test_one_policy_per_scope_is_silent_and_port_level_uses_the_target_port(mode, live):
    doc, code = tls_report(mode, live, "policies-ok")
    assert codes(doc) == [] and code == 0
    assert rows(doc)["9000|@default"]["server"] == "PERMISSIVE"  # service port 9000 -> target port 9090
    assert rows(doc)["8000|@default"]["server"] == "STRICT"


# ----------------------------------------------------------------------------------------- commands

def test_tls_text_table_and_host_report_share_the_findings():
    files = offline(TLS / "ground.yaml", TLS / "mesh-strict.yaml", TLS / "guidelines-httpbin.yaml")
    table = run_cli("tls", "httpbin", "-n", "default", *files)
    header = table.stdout.splitlines()[0]
    for column in ("HOST:PORT", "CLIENT NS", "STATUS", "SERVER", "CLIENT", "AUTHN POLICY", "DESTINATION RULE"):
        assert column in header
    assert "httpbin.default.svc.cluster.local:8000|v1" in table.stdout and "CONFLICT" in table.stdout
    assert table.exit_code == 1
    host = run_cli("host", "httpbin", "-n", "default", *files, "-o", "json").json()
    assert [f for f in host["findings"] if f["code"].startswith("MD2")] == \
        run_cli("tls", "httpbin", "-n", "default", *files, "-o", "json").json()["findings"]


def test_healthy_bookinfo_tls_table_is_all_ok_or_auto():
    from tests.conftest import EXAMPLES

    doc = run_cli("tls", "reviews", "-n", "bookinfo", *offline(EXAMPLES / "bookinfo-healthy"), "-o", "json").json()
    assert doc["tls"] and {r["status"] for r in doc["tls"]} <= {"OK", "AUTO"}
    assert doc["findings"] == []


# ------------------------------------------------------------- Istio 1.5: auto mTLS and the alpha Policy

@pytest.mark.parametrize("mode", MODES)
def test_istio_15_auto_mtls_follows_the_alpha_policy_without_namespace_peer_authentication(mode, live):
    """@1.5.10 push_context.go BestEffortInferServiceMTLSMode: namespace/mesh PeerAuthentication, else the
    alpha Policy for the service and port, else PERMISSIVE. Plaintext here meets DISABLE pods: no finding."""
    doc, code = tls_report(mode, live, "auto-1.5-alpha-plaintext")
    assert codes(doc) == [] and code == 0
    assert {r["client"] for r in doc["tls"] if r["port"] == 8000} == {"AUTO -> DISABLE"}


@pytest.mark.parametrize("mode", MODES)
def test_istio_15_alpha_plaintext_against_a_strict_workload_is_a_blind_spot(mode, live):
    doc, _ = tls_report(mode, live, "auto-1.5-alpha-strict")
    finding = next(f for f in doc["findings"] if f["port"] == 8000)
    assert finding["code"] == "MD202" and finding["evidence"]["blindSpot"] == "workload-strict"
    assert "Policy default/default" in finding["evidence"]["autoMtls"]


# ------------------------------------------------- wildcard DestinationRules in a client's own namespace

@pytest.mark.parametrize("mode", MODES)
def test_a_private_wildcard_rule_in_a_client_namespace_decides_its_clients_tls(mode, live):
    """push_context.go destinationRule: step 1 searches the proxy's namespace-local rules, wildcard ones
    included, most specific host first; frontend is evaluated because it holds such a rule."""
    doc, _ = tls_report(mode, live, "client-wildcard-disable")
    [finding] = [f for f in doc["findings"] if f["port"] == 8000]
    assert finding["code"] == "MD201" and finding["clientNamespace"] == "frontend"
    assert "frontend/no-tls-to-default" in finding["message"]


@pytest.mark.parametrize("mode", MODES)
def test_a_private_wildcard_rule_asking_for_mutual_tls_is_fine(mode, live):
    doc, code = tls_report(mode, live, "client-wildcard-mutual")
    assert codes(doc) == [] and code == 0
    assert "frontend" in {r["clientNamespace"] for r in doc["tls"]}


@pytest.mark.parametrize("mode", MODES)
def test_pods_of_one_deployment_are_judged_each_on_its_own_facts(mode, live):
    """Same ReplicaSet, three kinds of pod: injected, injected but relabelled into a DISABLE policy, and
    never injected. Each endpoint gets its own server mode and verdict; the finding names the two that fail
    and the policy that decided one of them, never the pod that works."""
    doc, code = tls_report(mode, live, "one-deployment-three-kinds", host="shop")
    row = rows(doc)["8080|@default"]
    assert row["status"] == "CONFLICT" and row["client"] == "ISTIO_MUTUAL"
    assert {e["pod"]: (e["server"], e["verdict"]) for e in row["endpoints"]} == {
        "shop-5c7d9f-aaaaa": ("PERMISSIVE", "OK"), "shop-5c7d9f-bbbbb": ("DISABLE", "CONFLICT"),
        "shop-5c7d9f-ccccc": ("NO_SIDECAR", "CONFLICT")}
    assert row["server"] == "PERMISSIVE (1), DISABLE (1), NO_SIDECAR (1)"
    [finding] = [f for f in doc["findings"] if f["code"] == "MD201"]  # one row: one finding, both pods named
    assert finding["evidence"]["pods"] == ["shop-5c7d9f-bbbbb", "shop-5c7d9f-ccccc"] and code == 1
    assert {(r["kind"], r["name"]) for r in finding["resources"]} >= {
        ("Pod", "shop-5c7d9f-bbbbb"), ("Pod", "shop-5c7d9f-ccccc"), ("PeerAuthentication", "shop-canary")}
    assert ("Pod", "shop-5c7d9f-aaaaa") not in {(r["kind"], r["name"]) for r in finding["resources"]}
