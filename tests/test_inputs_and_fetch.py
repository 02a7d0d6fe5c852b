"""Reading the world: files in every shape people have at hand, and the cluster through the real
client (pagination, expired continue tokens, selectors, discovery, impersonation)."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from kubectl_meshdoctor.snapshot.files import load_files
from tests.conftest import BASE, EXAMPLES, objects_of, offline, run_cli, scenario_files


def test_kubectl_get_list_json_and_stdin_all_load(tmp_path: Path):
    objects = objects_of(scenario_files("workloads/not-ready"))
    as_list = tmp_path / "dump.yaml"
    as_list.write_text(yaml.safe_dump({"apiVersion": "v1", "kind": "List", "items": objects}))
    as_json = tmp_path / "dump.json"
    as_json.write_text(json.dumps({"apiVersion": "v1", "kind": "List", "items": objects}))
    expected = run_cli("host", "reviews", "-n", "bookinfo", *offline(*scenario_files("workloads/not-ready")),
                       "-o", "json").json()["findings"]
    for path in (as_list, as_json):
        doc = run_cli("host", "reviews", "-n", "bookinfo", *offline(path), "-o", "json").json()
        assert doc["findings"] == expected
    piped = run_cli("host", "reviews", "-n", "bookinfo", "-f", "-", "--offline", "-o", "json",
                    stdin=as_list.read_text())
    assert piped.json()["findings"] == expected


def test_directories_are_read_recursively_with_r_and_unknown_kinds_noted(tmp_path: Path):
    """kubectl reads subdirectories only with -R; so does -f here."""
    nested = tmp_path / "a" / "b"
    nested.mkdir(parents=True)
    (nested / "world.yaml").write_text(BASE.read_text())
    (tmp_path / "a" / "notes.txt").write_text("not yaml, ignored by suffix")
    (tmp_path / "a" / "extra.yml").write_text("apiVersion: batch/v1\nkind: Job\nmetadata: {name: j}\n")
    loaded = load_files([str(tmp_path)], "default", recursive=True)
    assert {o["metadata"]["name"] for _, o in loaded.objects} >= {"bookinfo", "istiod", "istio"}
    assert loaded.ignored_kinds == ("Job",)
    top = load_files([str(tmp_path / "a")], "default")
    assert [o["kind"] for _, o in top.objects] == [] and top.ignored_kinds == ("Job",)  # b/ is not read
    without_r = run_cli("host", "reviews", "-n", "bookinfo", "--offline", "-f", str(tmp_path))
    assert without_r.exit_code == 2 and "-R reads those" in without_r.stderr
    with_r = run_cli("scan", "-A", "--offline", "-R", "-f", str(tmp_path), "-o", "json")
    assert "Traceback" not in with_r.stderr and with_r.json()["kind"] == "ScanReport"


def test_objects_without_namespace_land_in_the_namespace_of_minus_n(tmp_path: Path):
    f = tmp_path / "svc.yaml"
    f.write_text("apiVersion: v1\nkind: Service\nmetadata: {name: reviews}\nspec: {selector: {app: reviews}}\n")
    [(key, obj)] = load_files([str(f)], "team-a").objects
    assert key == "services" and obj["metadata"]["namespace"] == "team-a"


def test_pagination_reads_every_page(live):
    pods = [{"apiVersion": "v1", "kind": "Pod",
             "metadata": {"name": f"reviews-{i:04d}", "namespace": "bookinfo", "labels": {"app": "reviews"}},
             "spec": {"containers": [{"name": "reviews"}, {"name": "istio-proxy"}]},
             "status": {"conditions": [{"type": "Ready", "status": "True"}]}} for i in range(1203)]
    pods[-1]["spec"]["containers"].pop()  # the last pod of the last page has no sidecar
    cluster = live(objects_of(scenario_files("workloads/ready")) + pods)
    doc = cluster.run("host", "reviews", "-n", "bookinfo", "-o", "json").json()
    [finding] = [f for f in doc["findings"] if f["code"] == "MD502"]
    assert finding["evidence"]["pods"] == 1205 and list(finding["evidence"]["podsWithoutSidecar"]) == ["reviews-1202"]
    pages = [r for r in cluster.api.requests_for("/namespaces/bookinfo/pods") if r.query.get("labelSelector")]
    assert len(pages) == 3  # 1205 matching pods, 500 a page
    assert all(r.query["labelSelector"] == "app=reviews" for r in pages)
    sample = [r for r in cluster.api.requests_for("/namespaces/bookinfo/pods")
              if r.path.endswith("/pods") and not r.query.get("labelSelector")]
    assert [(r.query["limit"], r.query.get("continue")) for r in sample] == [("100", None)]  # one page, not 1205


def test_expired_continue_token_restarts_the_list_once(live):
    pods = [{"apiVersion": "v1", "kind": "Pod",
             "metadata": {"name": f"reviews-{i:04d}", "namespace": "bookinfo", "labels": {"app": "reviews"}},
             "spec": {"containers": [{"name": "reviews"}]},
             "status": {"conditions": [{"type": "Ready", "status": "True"}]}} for i in range(700)]
    cluster = live(objects_of(scenario_files("workloads/ready")) + pods, expire_continue=True)
    doc = cluster.run("host", "reviews", "-n", "bookinfo", "-o", "json").json()
    [finding] = [f for f in doc["findings"] if f["code"] == "MD502"]
    assert finding["evidence"]["pods"] == 702  # every pod seen despite the 410 on the second page


def test_host_run_reads_only_what_the_host_needs(live):
    cluster = live(objects_of([EXAMPLES / "bookinfo"]))
    assert cluster.run("host", "reviews", "-n", "bookinfo").exit_code == 1
    pods = [r for r in cluster.cluster.requests if r.path.endswith("/pods")]
    assert sorted((r.path, r.query.get("labelSelector", ""), r.query["limit"]) for r in pods) == [
        ("/api/v1/namespaces/bookinfo/pods", "", "100"),  # a sample of client pods, for their proxy logs
        ("/api/v1/namespaces/bookinfo/pods", "app=reviews", "500")]
    logs = {r.path for r in cluster.cluster.requests if r.path.endswith("/log")}
    assert logs and all(p.startswith("/api/v1/namespaces/bookinfo/pods/") for p in logs)
    assert not any(r.path.endswith("/secrets") for r in cluster.cluster.requests)
    endpoints = [r for r in cluster.cluster.requests if r.path.endswith("/endpoints")]
    assert [r.query.get("fieldSelector") for r in endpoints] == ["metadata.name=reviews"]


def test_legacy_authentication_api_is_read_only_when_served(live):
    policy = {"apiVersion": "authentication.istio.io/v1alpha1", "kind": "MeshPolicy",
              "metadata": {"name": "default"}, "spec": {"peers": [{"mtls": {}}]}}
    modern = live(objects_of(scenario_files("workloads/ready")))
    modern.run("host", "reviews", "-n", "bookinfo")
    assert not modern.api.requests_for("authentication.istio.io/v1alpha1/")
    legacy = live([*objects_of(scenario_files("workloads/ready")), policy])
    legacy.run("host", "reviews", "-n", "bookinfo")
    assert legacy.api.requests_for("/apis/authentication.istio.io/v1alpha1/meshpolicies")


def test_impersonation_header_is_sent(live):
    cluster = live(objects_of(scenario_files("workloads/ready")))
    cluster.run("host", "reviews", "-n", "bookinfo", "--as", "jane@example.com")
    assert {r.impersonate for r in cluster.cluster.requests} == {"jane@example.com"}


def test_older_istio_api_versions_are_discovered(live):
    cluster = live(objects_of(scenario_files("workloads/ready")),
                   istio_groups={"networking.istio.io": ("v1alpha3",), "security.istio.io": ("v1beta1",)})
    assert cluster.run("host", "reviews", "-n", "bookinfo").exit_code == 0
    assert cluster.api.requests_for("/apis/networking.istio.io/v1alpha3/virtualservices")
    assert not cluster.api.requests_for("/apis/networking.istio.io/v1/")


def test_files_overlay_the_live_state(live, tmp_path: Path):
    """What-if: the live Endpoints list no ready address; a file replacing them (same kind, namespace,
    name) makes the finding go away, and the report says it mixed live state and files."""
    cluster = live(objects_of(scenario_files("workloads/not-ready")))
    assert cluster.run("host", "reviews", "-n", "bookinfo").exit_code == 1
    fixed = tmp_path / "endpoints.yaml"
    fixed.write_text("""apiVersion: v1
kind: Endpoints
metadata: {name: reviews, namespace: bookinfo}
subsets:
- addresses: [{ip: 10.0.0.1, targetRef: {kind: Pod, name: reviews-v1-abc12-x1, namespace: bookinfo}}]
""")
    result = cluster.run("host", "reviews", "-n", "bookinfo", "-f", str(fixed), "-o", "json")
    doc = result.json()
    assert doc["source"]["mode"] == "overlay"
    assert [f["code"] for f in doc["findings"]] == []
    assert result.exit_code == 0


def test_exec_credential_plugin_token_is_used(live, tmp_path: Path):
    cluster = live(objects_of(scenario_files("workloads/ready")))
    plugin = tmp_path / "fake-auth-plugin"
    plugin.write_text('#!/bin/sh\necho \'{"apiVersion": "client.authentication.k8s.io/v1beta1", '
                      '"kind": "ExecCredential", "status": {"token": "admin"}}\'\n')
    plugin.chmod(0o755)
    cfg = tmp_path / "exec-ok"
    cfg.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "c",
        "clusters": [{"name": "k", "cluster": {"server": cluster.api.url}}],
        "contexts": [{"name": "c", "context": {"cluster": "k", "user": "u", "namespace": "bookinfo"}}],
        "users": [{"name": "u", "user": {"exec": {"apiVersion": "client.authentication.k8s.io/v1beta1",
                                                  "command": str(plugin), "interactiveMode": "Never"}}}]}))
    result = run_cli("host", "reviews", "--kubeconfig", str(cfg))
    assert result.exit_code == 0, result.stderr
    assert {r.user for r in cluster.cluster.requests} == {"admin"}


# ------------------------------------------------------------------------- inputs Istio itself accepts

INPUTS = Path(__file__).parent / "scenarios" / "inputs"


def test_a_plain_ipv6_address_in_a_flow_sequence_reads_as_go_yaml_reads_it():
    """sigs.k8s.io/yaml (go-yaml) ends a plain scalar only at `: `; libyaml refuses `001:db8::]`."""
    loaded = load_files([str(INPUTS / "serviceentry-ipv6.yaml")], "default")
    [(key, entry)] = loaded.objects
    assert key == "serviceentries" and entry["spec"]["addresses"] == ["192.0.2.10", "001:db8::"]
    doc = run_cli("host", "api.partner.example", "-n", "frontend", "--offline", "-f", str(BASE),
                  "-f", str(INPUTS / "serviceentry-ipv6.yaml"), "-o", "json").json()
    assert doc["target"]["host"] == "api.partner.example"


def test_a_colon_the_api_server_would_refuse_is_still_invalid_yaml(tmp_path: Path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("apiVersion: v1\nkind: Service\nmetadata: {name: x\n  namespace: [a: b: c]\n")
    result = run_cli("host", "x", "--offline", "-f", str(bad))
    assert result.exit_code == 2 and "invalid YAML" in result.stderr and "Traceback" not in result.stderr


def test_a_bare_mesh_config_file_is_read_as_the_mesh_configmap():
    ground = Path(__file__).parent / "scenarios" / "tls" / "ground.yaml"
    files = ["-f", str(ground), "-f", str(INPUTS / "mesh-config.yaml")]
    doc = run_cli("tls", "httpbin", "-n", "default", "--offline", *files, "-o", "json").json()
    assert any(n.startswith("mesh config read from ") and n.endswith("mesh-config.yaml:3") for n in doc["notes"])
    assert {r["client"] for r in doc["tls"]} == {"plaintext (no tls set, auto mTLS off)"}


def test_the_mesh_key_copied_out_of_the_configmap_is_read_too(tmp_path: Path):
    copied = tmp_path / "mesh.yaml"
    copied.write_text(yaml.safe_dump({"mesh": "enableAutoMtls: false\n"}))
    [(key, cm)] = load_files([str(copied)], "default").objects
    assert key == "configmaps" and cm["data"]["mesh"] == "enableAutoMtls: false\n"


def test_a_directory_skips_files_that_are_not_kubernetes_objects_and_says_so(tmp_path: Path):
    for source in (EXAMPLES / "bookinfo").glob("*.yaml"):
        (tmp_path / source.name).write_text(source.read_text())
    (tmp_path / "values.yaml").write_text("replicaCount: 2\nimage:\n  tag: 1.2\n")  # Helm values beside manifests
    doc = run_cli("host", "reviews", "-n", "bookinfo", "--offline", "-f", str(tmp_path), "-o", "json").json()
    assert any(n.startswith(f"skipped {tmp_path / 'values.yaml'}:1: document has no kind") for n in doc["notes"])
    assert doc["target"]["host"] == "reviews.bookinfo.svc.cluster.local"


def test_a_file_named_on_the_command_line_that_is_not_kubernetes_objects_is_still_an_error(tmp_path: Path):
    values = tmp_path / "values.yaml"
    values.write_text("replicaCount: 2\n")
    result = run_cli("host", "reviews", "--offline", "-f", str(values))
    assert result.exit_code == 2 and "document has no kind" in result.stderr


def test_files_with_no_objects_say_so_instead_of_host_not_found(tmp_path: Path):
    empty = tmp_path / "empty.yaml"
    empty.write_text("# nothing yet\n")
    result = run_cli("host", "reviews", "--offline", "-f", str(empty))
    assert result.exit_code == 2 and "no Kubernetes objects in the files" in result.stderr
    assert "not found" not in result.stderr
