"""Synthetic meshes for the benchmark: shaped like real Istio clusters, sized by pod count.

Per namespace: Services with two ports, ten injected pods each (app + istio-proxy with Istio-like env,
volumes and annotations, istio-init), Endpoints, a VirtualService and a DestinationRule with subsets,
a PeerAuthentication, ConfigMaps; cluster-wide: istiod, the mesh config, an ingress Gateway with
fragments. Pods are what makes a cluster big; everything else is a few MB.
"""

from __future__ import annotations

from typing import Any

PODS_PER_SERVICE = 10
SERVICES_PER_NAMESPACE = 10


def _pod(ns: str, app: str, i: int) -> dict[str, Any]:
    version = f"v{i % 3 + 1}"
    name = f"{app}-{version}-7f9c6d8b5-{i:05x}"
    env = [{"name": k, "value": v} for k, v in (
        ("PILOT_CERT_PROVIDER", "istiod"), ("CA_ADDR", "istiod.istio-system.svc:15012"),
        ("POD_NAME", name), ("POD_NAMESPACE", ns), ("INSTANCE_IP", "10.0.0.1"), ("SERVICE_ACCOUNT", app),
        ("HOST_IP", "192.168.0.1"), ("ISTIO_CPU_LIMIT", "2"), ("PROXY_CONFIG", "{}"),
        ("ISTIO_META_POD_PORTS", '[{"containerPort":8080,"protocol":"TCP"}]'),
        ("ISTIO_META_APP_CONTAINERS", app), ("ISTIO_META_CLUSTER_ID", "Kubernetes"),
        ("ISTIO_META_WORKLOAD_NAME", app))]
    return {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": ns, "uid": f"uid-{ns}-{name}",
                     "labels": {"app": app, "version": version, "security.istio.io/tlsMode": "istio",
                                "service.istio.io/canonical-name": app, "pod-template-hash": "7f9c6d8b5"},
                     "annotations": {"sidecar.istio.io/status": '{"initContainers":["istio-init"],"containers":'
                                     '["istio-proxy"],"volumes":["istio-envoy","istio-data","istio-podinfo",'
                                     '"istio-token","istiod-ca-cert"],"revision":"default"}',
                                     "prometheus.io/scrape": "true", "prometheus.io/port": "15020"},
                     "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": f"{app}-{version}",
                                          "uid": "rs", "controller": True}]},
        "spec": {
            "initContainers": [{"name": "istio-init", "image": "docker.io/istio/proxyv2:1.22.3",
                                "args": ["istio-iptables", "-p", "15001", "-z", "15006", "-u", "1337"]}],
            "containers": [
                {"name": app, "image": f"registry.example.com/{app}:1.4.2",
                 "ports": [{"containerPort": 8080, "name": "http"}, {"containerPort": 9090, "name": "grpc"}],
                 "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}}},
                {"name": "istio-proxy", "image": "docker.io/istio/proxyv2:1.22.3", "env": env,
                 "ports": [{"containerPort": 15090, "name": "http-envoy-prom"}],
                 "volumeMounts": [{"name": v, "mountPath": f"/var/run/{v}"} for v in
                                  ("istio-envoy", "istio-data", "istio-podinfo", "istio-token", "istiod-ca-cert")]}],
            "volumes": [{"name": v, "emptyDir": {}} for v in
                        ("istio-envoy", "istio-data", "istio-podinfo", "istio-token", "istiod-ca-cert")]},
        "status": {"phase": "Running", "podIP": f"10.{i % 250}.{i // 250 % 250}.{i % 200 + 1}",
                   "conditions": [{"type": "Ready", "status": "True"}],
                   "containerStatuses": [{"name": app, "ready": True, "restartCount": 0, "state": {"running": {}}},
                                         {"name": "istio-proxy", "ready": True, "restartCount": 0,
                                          "state": {"running": {}}}]},
    }


def make_world(pods: int) -> list[dict[str, Any]]:
    services = max(1, pods // PODS_PER_SERVICE)
    namespaces = max(1, services // SERVICES_PER_NAMESPACE)
    world: list[dict[str, Any]] = [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "istio-system"}},
        {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "istiod", "namespace": "istio-system",
                                                                      "labels": {"app": "istiod", "istio": "pilot"}},
         "spec": {"template": {"spec": {"containers": [{"name": "discovery",
                                                        "image": "docker.io/istio/pilot:1.22.3"}]}}}},
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "istio", "namespace": "istio-system"},
         "data": {"mesh": "enableAutoMtls: true\nrootNamespace: istio-system\n"}},
        {"apiVersion": "security.istio.io/v1", "kind": "PeerAuthentication",
         "metadata": {"name": "default", "namespace": "istio-system"}, "spec": {"mtls": {"mode": "STRICT"}}},
        {"apiVersion": "networking.istio.io/v1", "kind": "Gateway",
         "metadata": {"name": "edge", "namespace": "istio-system"},
         "spec": {"selector": {"istio": "ingressgateway"},
                  "servers": [{"port": {"number": 80, "name": "http", "protocol": "HTTP"}, "hosts": ["*"]}]}},
        {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "istio-ingressgateway-0", "namespace": "istio-system",
                                                         "labels": {"istio": "ingressgateway"}},
         "spec": {"containers": [{"name": "istio-proxy"}]},
         "status": {"conditions": [{"type": "Ready", "status": "True"}]}},
    ]
    for n in range(namespaces):
        ns = f"ns-{n}"
        world.append({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns,
                                                                            "labels": {"istio-injection": "enabled"}}})
        world.append({"apiVersion": "security.istio.io/v1", "kind": "PeerAuthentication",
                      "metadata": {"name": "default", "namespace": ns}, "spec": {"mtls": {"mode": "STRICT"}}})
        world.append({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "app-config", "namespace": ns},
                      "data": {"settings.yaml": "log: info\n" * 20}})
        for s in range(SERVICES_PER_NAMESPACE if services >= SERVICES_PER_NAMESPACE else services):
            app = f"svc-{s}"
            world.append({"apiVersion": "v1", "kind": "Service", "metadata": {"name": app, "namespace": ns},
                          "spec": {"selector": {"app": app}, "ports": [
                              {"name": "http", "port": 80, "targetPort": 8080},
                              {"name": "grpc", "port": 9090, "targetPort": 9090}]}})
            members = [_pod(ns, app, n * 1000 + s * PODS_PER_SERVICE + i) for i in range(PODS_PER_SERVICE)]
            world += members
            world.append({"apiVersion": "v1", "kind": "Endpoints", "metadata": {"name": app, "namespace": ns},
                          "subsets": [{"addresses": [{"ip": p["status"]["podIP"], "targetRef": {
                              "kind": "Pod", "name": p["metadata"]["name"], "namespace": ns}} for p in members],
                                       "ports": [{"name": "http", "port": 8080}, {"name": "grpc", "port": 9090}]}]})
            world.append({"apiVersion": "networking.istio.io/v1", "kind": "DestinationRule",
                          "metadata": {"name": app, "namespace": ns},
                          "spec": {"host": app, "subsets": [{"name": f"v{v}", "labels": {"version": f"v{v}"}}
                                                            for v in (1, 2, 3)]}})
            world.append({"apiVersion": "networking.istio.io/v1", "kind": "VirtualService",
                          "metadata": {"name": app, "namespace": ns},
                          "spec": {"hosts": [app], "http": [
                              {"match": [{"headers": {"end-user": {"exact": "tester"}}}],
                               "route": [{"destination": {"host": app, "subset": "v2"}}]},
                              {"route": [{"destination": {"host": app, "subset": "v1"}, "weight": 90},
                                         {"destination": {"host": app, "subset": "v3"}, "weight": 10}]}]}})
        world.append({"apiVersion": "networking.istio.io/v1", "kind": "VirtualService",
                      "metadata": {"name": f"edge-{ns}", "namespace": ns},
                      "spec": {"hosts": ["shop.example.com"], "gateways": ["istio-system/edge"],
                               "http": [{"match": [{"uri": {"prefix": f"/{ns}/"}}],
                                         "route": [{"destination": {"host": "svc-0"}}]}]}})
    return world
