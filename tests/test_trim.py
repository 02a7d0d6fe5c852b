"""Trimming while parsing keeps what the model reads and drops the bulk of a real pod.

That trimming never changes a finding is proved by the parity suites (every world read untrimmed from
files and trimmed through an API server); this pins down the fields on both sides of the line.
"""

from __future__ import annotations

import copy
import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from kubectl_meshdoctor.cluster.trim import trim, without_managed_fields


def _served_pod() -> dict[str, Any]:
    """An injected pod as a 1.2x kube-apiserver returns it: defaults filled in, managedFields, the
    token and downward-API volumes the injector and the service-account admission add."""
    proxy_env = [{"name": "ISTIO_META_POD_PORTS", "value": '[{"containerPort":9080}]'},
                 {"name": "POD_NAME", "valueFrom": {"fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.name"}}}]
    mounts = [{"name": "istio-envoy", "mountPath": "/etc/istio/proxy"},
              {"name": "kube-api-access-x2k9p", "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount",
               "readOnly": True}]
    probe = {"httpGet": {"path": "/healthz/ready", "port": 15021, "scheme": "HTTP"}, "periodSeconds": 2}
    return {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "reviews-v1-5b8f6c9d7-abcde", "namespace": "bookinfo", "uid": "4f1c",
                     "labels": {"app": "reviews", "version": "v1", "security.istio.io/tlsMode": "istio"},
                     "annotations": {"sidecar.istio.io/status": '{"containers":["istio-proxy"]}'},
                     "ownerReferences": [{"kind": "ReplicaSet", "name": "reviews-v1-5b8f6c9d7", "controller": True}],
                     "managedFields": [{"manager": "kube-controller-manager", "operation": "Update",
                                        "fieldsType": "FieldsV1", "fieldsV1": {"f:metadata": {}}}]},
        "spec": {
            "nodeName": "node-a", "serviceAccountName": "bookinfo-reviews", "hostNetwork": False,
            "securityContext": {"runAsUser": 1000}, "dnsPolicy": "ClusterFirst", "restartPolicy": "Always",
            "schedulerName": "default-scheduler", "terminationGracePeriodSeconds": 30,
            "tolerations": [{"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute",
                             "tolerationSeconds": 300}],
            "initContainers": [{"name": "istio-init", "image": "docker.io/istio/proxyv2:1.22.3",
                                "args": ["istio-iptables", "-p", "15001"], "resources": {"limits": {"cpu": "2"}},
                                "terminationMessagePath": "/dev/termination-log", "imagePullPolicy": "IfNotPresent"}],
            "containers": [
                {"name": "reviews", "image": "docker.io/istio/examples-bookinfo-reviews-v1:1.17.0",
                 "ports": [{"containerPort": 9080, "protocol": "TCP"}], "env": [{"name": "LOG_DIR", "value": "/tmp"}],
                 "volumeMounts": mounts, "readinessProbe": probe, "resources": {}, "imagePullPolicy": "IfNotPresent"},
                {"name": "istio-proxy", "image": "docker.io/istio/proxyv2:1.22.3", "args": ["proxy", "sidecar"],
                 "env": proxy_env, "ports": [{"containerPort": 15090, "name": "http-envoy-prom"}],
                 "securityContext": {"runAsUser": 1337}, "volumeMounts": mounts, "readinessProbe": probe,
                 "lifecycle": {"postStart": {"exec": {"command": ["pilot-agent", "wait"]}}}}],
            "volumes": [
                {"name": "istio-envoy", "emptyDir": {"medium": "Memory"}},
                {"name": "istio-podinfo", "downwardAPI": {"items": [
                    {"path": "labels", "fieldRef": {"fieldPath": "metadata.labels"}}]}},
                {"name": "nginx-conf", "configMap": {"name": "nginx-conf", "defaultMode": 420}},
                {"name": "kube-api-access-x2k9p", "projected": {"sources": [
                    {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
                    {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}}]}}]},
        "status": {"phase": "Running", "podIP": "10.1.0.7", "hostIP": "192.168.0.4",
                   "conditions": [{"type": "Ready", "status": "True"}],
                   "containerStatuses": [{"name": "istio-proxy", "ready": True, "restartCount": 2,
                                          "state": {"running": {"startedAt": "2026-11-27T10:00:00Z"}},
                                          "lastState": {"terminated": {"exitCode": 0, "reason": "Completed"}},
                                          "image": "docker.io/istio/proxyv2:1.22.3",
                                          "imageID": "docker.io/istio/proxyv2@sha256:0f1e", "containerID": "c://1",
                                          "started": True}]},
    }


def test_trimming_keeps_every_field_the_model_reads():
    pod = trim("Pod", _served_pod())
    meta, spec, status = pod["metadata"], pod["spec"], pod["status"]
    assert "managedFields" not in meta
    assert meta["labels"]["version"] == "v1" and "sidecar.istio.io/status" in meta["annotations"]
    assert meta["ownerReferences"][0]["name"] == "reviews-v1-5b8f6c9d7"
    assert (spec["nodeName"], spec["hostNetwork"], spec["securityContext"]) == ("node-a", False, {"runAsUser": 1000})
    app, proxy = spec["containers"]
    assert app["ports"] == [{"containerPort": 9080, "protocol": "TCP"}] and "env" not in app
    assert [e["name"] for e in proxy["env"]] == ["ISTIO_META_POD_PORTS", "POD_NAME"]
    assert (proxy["args"], proxy["securityContext"]) == (["proxy", "sidecar"], {"runAsUser": 1337})
    assert spec["initContainers"][0]["args"][0] == "istio-iptables"
    # volumes: every name (how the sidecar was injected), and the ConfigMaps they mount (NGINX configs)
    assert [v["name"] for v in spec["volumes"]] == ["istio-envoy", "istio-podinfo", "nginx-conf",
                                                    "kube-api-access-x2k9p"]
    assert spec["volumes"][2]["configMap"]["name"] == "nginx-conf"
    assert spec["volumes"][3]["projected"]["sources"] == [
        {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}}]
    proxy_status = status["containerStatuses"][0]
    assert (proxy_status["ready"], proxy_status["restartCount"], proxy_status["image"]) == (
        True, 2, "docker.io/istio/proxyv2:1.22.3")
    assert proxy_status["lastState"]["terminated"]["reason"] == "Completed"
    assert (status["podIP"], status["conditions"]) == ("10.1.0.7", [{"type": "Ready", "status": "True"}])


def test_trimming_drops_scheduling_and_kubelet_detail():
    original = _served_pod()
    pod = trim("Pod", copy.deepcopy(original))
    for container in pod["spec"]["containers"] + pod["spec"]["initContainers"]:
        assert not {"readinessProbe", "resources", "volumeMounts", "imagePullPolicy", "lifecycle",
                    "terminationMessagePath"} & set(container)
    assert not {"tolerations", "schedulerName", "dnsPolicy"} & set(pod["spec"])
    assert "downwardAPI" not in pod["spec"]["volumes"][1]
    assert not {"imageID", "containerID", "started"} & set(pod["status"]["containerStatuses"][0])
    assert len(json.dumps(pod)) < 0.6 * len(json.dumps(original))


def test_other_kinds_lose_only_managed_fields():
    service = {"kind": "Service", "metadata": {"name": "reviews", "managedFields": [{"manager": "kubectl"}]},
               "spec": {"ports": [{"name": "http", "port": 9080}], "selector": {"app": "reviews"}}}
    assert trim("Service", copy.deepcopy(service)) == {**service, "metadata": {"name": "reviews"}}


def test_trimming_survives_malformed_pods():
    odd = {"kind": "Pod", "metadata": "x", "spec": {"containers": "nope", "volumes": [3, {"name": "a",
                                                                                           "projected": []}]},
           "status": {"containerStatuses": None}}
    assert trim("Pod", odd)["spec"]["volumes"] == [{"name": "a"}]


# ------------------------------------------------------------------- managedFields cut from the bytes

def _list_body(items: list[dict[str, Any]]) -> bytes:
    """A List as the API server encodes it: compact JSON, items without kind/apiVersion."""
    return json.dumps({"kind": "PodList", "apiVersion": "v1", "metadata": {"resourceVersion": "7"},
                       "items": items}, separators=(",", ":")).encode()


def _served_item() -> dict[str, Any]:
    pod = _served_pod()
    return {key: pod[key] for key in ("metadata", "spec", "status")}


def test_managed_fields_are_cut_from_a_list_in_the_api_servers_layout():
    items = [_served_item() for _ in range(3)]
    body = _list_body(items)
    cut = without_managed_fields(body)
    assert len(cut) < len(body)
    expected = copy.deepcopy(items)
    for item in expected:
        del item["metadata"]["managedFields"]
    assert json.loads(cut)["items"] == expected


tricky = st.sampled_from(['"spec":', ']},"spec":', '{"metadata":', ',"managedFields":[', "f:spec", "plain"])


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.permutations(["name", "labels", "annotations", "ownerReferences", "finalizers",
                                           "managedFields"]), tricky, st.booleans()), min_size=1, max_size=4))
def test_a_cut_never_changes_anything_but_managed_fields(shapes):
    """Any order of metadata keys (other encoders, hand-written worlds), strings and label keys that look
    like the markers: what is parsed after the cut is the original with, at most, managedFields gone."""
    items = []
    for order, text, with_spec in shapes:
        values = {"name": f"p-{text}", "labels": {"spec": text, "app": "x"}, "annotations": {"note": text},
                  "ownerReferences": [{"name": text}], "finalizers": [text],
                  "managedFields": [{"manager": text, "fieldsV1": {"f:spec": {"f:containers": {}}}}]}
        item: dict[str, Any] = {"metadata": {key: values[key] for key in order}}
        if with_spec:
            item["spec"] = {"containers": [{"name": text}]}
        item["status"] = {"phase": "Running"}
        items.append(item)
    body = _list_body(items)
    parsed = json.loads(without_managed_fields(body))["items"]
    assert len(parsed) == len(items)
    for before, after in zip(items, parsed, strict=True):
        if "managedFields" not in after["metadata"]:
            before = copy.deepcopy(before)
            del before["metadata"]["managedFields"]
        assert after == before
