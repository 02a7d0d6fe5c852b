"""Hostile objects: every check returns findings or a reasoned skip, never an exception, on any input.

Worlds are generated field by field: each field is right-shaped two times out of three and garbage
(wrong types, nulls, unicode, deep nesting) otherwise; names repeat, delegates point anywhere.
The default profile (CI) runs 500 examples with a fixed seed (derandomized), so CI is reproducible and
quick; `HYPOTHESIS_PROFILE=nightly` runs 10,000 with fresh randomness (see the README).
"""

from __future__ import annotations

import io
import json
import os
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kubectl_meshdoctor.checks.context import CheckContext
from kubectl_meshdoctor.checks.registry import CHECKS
from kubectl_meshdoctor.checks.runner import run_checks
from kubectl_meshdoctor.cluster.resources import BY_KEY, CollectionStatus, State
from kubectl_meshdoctor.mesh.changes import ChangeSet
from kubectl_meshdoctor.mesh.settings import read_mesh_settings
from kubectl_meshdoctor.mesh.target import resolve_target
from kubectl_meshdoctor.report.model import Report, Source
from kubectl_meshdoctor.report.sections import routing_section, tls_section, workloads_section
from kubectl_meshdoctor.report.text import make_console, render_text
from kubectl_meshdoctor.snapshot.evidence import HttpProbe, LiveEvidence, PodLog, PortAnswer
from kubectl_meshdoctor.snapshot.model import Snapshot

settings.register_profile("ci", max_examples=500, derandomize=True, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
settings.register_profile("nightly", max_examples=10_000, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

leaf = st.none() | st.booleans() | st.integers(-(2 ** 40), 2 ** 40) | st.floats() | st.text(max_size=6)
garbage = st.recursive(leaf, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner,
                                                                                           max_size=3), max_leaves=12)


def maybe(valid: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(valid, valid, garbage)


def some(valid: st.SearchStrategy[Any], size: int = 3) -> st.SearchStrategy[Any]:
    return maybe(st.lists(maybe(valid), max_size=size))


def shaped(**fields: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return maybe(st.fixed_dictionaries({}, optional=fields))


names = st.sampled_from(["svc", "a", "b", "default", "ünï"])
hosts = st.sampled_from(["svc", "svc.ns", "svc.ns.svc", "svc.ns.svc.cluster.local", "*", "*.local", "x.example.com",
                         "10.0.0.1", "", "*.ns.svc.cluster.local"])
labels = maybe(st.dictionaries(st.sampled_from(["app", "version", "istio"]), st.sampled_from(["svc", "v1", "v2", "gw"]),
                               max_size=2))
modes = maybe(st.sampled_from(["ISTIO_MUTUAL", "DISABLE", "SIMPLE", "MUTUAL", "STRICT", "PERMISSIVE", "UNSET", "x"]))
subsets = maybe(st.sampled_from(["v1", "v2", "v3", ""]))
ports = maybe(st.integers(-1, 70_000) | st.sampled_from(["http", "80", "web"]))
tls = shaped(mode=modes)
destination = shaped(host=maybe(hosts), subset=subsets, port=shaped(number=ports))
match = shaped(uri=shaped(prefix=maybe(st.sampled_from(["/", "/a", "/a/b"])), exact=maybe(st.just("/a")),
                          regex=maybe(st.just(".*"))),
               headers=maybe(st.dictionaries(st.sampled_from(["x", "end-user"]),
                                             shaped(exact=maybe(st.text(max_size=3))), max_size=2)),
               gateways=some(st.sampled_from(["mesh", "gw", "ns/gw", "./gw", "gw.ns.svc.cluster.local"])),
               sourceLabels=labels, port=ports, method=shaped(exact=maybe(st.just("GET"))))
rule = shaped(match=some(match), route=some(shaped(destination=destination, weight=maybe(st.integers(0, 100)))),
              mirror=destination, delegate=shaped(name=names, namespace=maybe(st.just("ns"))))
policy = shaped(tls=tls, portLevelSettings=some(shaped(port=shaped(number=ports, name=names), tls=tls)))
NGINX_BITS = ["http {", "server {", "location / {", "}", "proxy_pass http://svc:80/;", "proxy_pass http://pool;",
              "upstream pool { server svc.ns.svc.cluster.local:80; }", "proxy_http_version 1.1;", "include *.conf;",
              "proxy_http_version 1.0;", "# note", '"', "'", ";", "{", "proxy_pass $var;", "\n"]
nginx_text = st.lists(st.sampled_from(NGINX_BITS) | st.text(max_size=8), max_size=20).map(" ".join)
LOG_BITS = ['[2026-11-27T01:10:12.480Z] "- - HTTP/1.1" 426 DPE low_version - "-" 0 0 0 - "-" "-" "-" "-" "-" - - '
            '10.0.0.1:80 10.0.5.1:4 - -', '{"response_code": 426, "response_flags": "DPE"}', "Epoch 3 starting",
            '[x] "GET / HTTP/1.0" 200', "{", "[", '"', "outbound|80||svc.ns.svc.cluster.local", "\n"]
log_text = st.lists(st.sampled_from(LOG_BITS) | st.text(max_size=10), max_size=12).map(" ".join)
answer_bytes = st.sampled_from([
    b"", b"HTTP/1.0 200 OK\r\n\r\n", b"HTTP/1.1 200 OK\r\n\r\n[{\"proxy\": \"a.ns\"}]",
    b"HTTP/1.1 401 Unauthorized\r\n\r\n", b"HTTP/1.0 200 OK\r\n\r\n{\"x\": 1}"]) | st.binary(max_size=40)


@st.composite
def evidence(draw: st.DrawFn) -> LiveEvidence:
    logs = tuple(PodLog("ns", draw(names), draw(st.sampled_from(["server", "gateway", "client"])), draw(log_text))
                 for _ in range(draw(st.integers(0, 3))))
    answers = [PortAnswer("ns", draw(names), draw(st.integers(0, 70_000)), draw(answer_bytes),
                          draw(st.sampled_from(["", "no answer within 3s", "forbidden: x"])))
               for _ in range(draw(st.integers(0, 2)))]
    return LiveEvidence(logs, True, "15m", 900, tuple(HttpProbe("ns/svc", 80, a) for a in answers), tuple(answers),
                        True)


specs = {
    "VirtualService": shaped(hosts=some(hosts), gateways=some(st.sampled_from(["mesh", "gw", "ns/gw", "missing"])),
                             http=some(rule, 4), tcp=some(rule), exportTo=some(st.sampled_from([".", "*", "~", "ns"]))),
    "DestinationRule": shaped(host=maybe(hosts), trafficPolicy=policy, exportTo=some(st.sampled_from([".", "*", "ns"])),
                              subsets=some(shaped(name=subsets, labels=labels, trafficPolicy=policy)),
                              workloadSelector=shaped(matchLabels=labels)),
    "PeerAuthentication": shaped(selector=shaped(matchLabels=labels), mtls=shaped(mode=modes),
                                 portLevelMtls=maybe(st.dictionaries(st.sampled_from(["80", "8080"]),
                                                                     shaped(mode=modes), max_size=2))),
    "Gateway": shaped(selector=labels,
                      servers=some(shaped(hosts=some(st.sampled_from(["*/x.example.com", "svc", "*"]))))),
    "ServiceEntry": shaped(hosts=some(hosts)),
    "ConfigMap": maybe(st.dictionaries(st.sampled_from(["nginx.conf", "default.conf", "mesh"]), nginx_text,
                                       max_size=2)),
    "Service": shaped(selector=labels, type=maybe(st.sampled_from(["ClusterIP", "ExternalName"])),
                      clusterIP=maybe(st.sampled_from(["None", "10.0.0.1"])),
                      ports=some(shaped(name=maybe(st.sampled_from(["http", "tcp-x", "web", "grpc-web"])), port=ports,
                                        targetPort=ports, appProtocol=maybe(st.sampled_from(["http", "foo"])),
                                        protocol=maybe(st.sampled_from(["TCP", "UDP"]))))),
    "Pod": shaped(hostNetwork=maybe(st.booleans()), securityContext=shaped(runAsUser=maybe(st.just(1337))),
                  volumes=some(shaped(name=maybe(st.sampled_from(["istio-certs", "istio-envoy", "conf"])),
                                      configMap=shaped(name=names),
                                      projected=shaped(sources=some(shaped(configMap=shaped(name=names)))))),
                  containers=some(shaped(name=maybe(st.sampled_from(["app", "istio-proxy"])),
                                         ports=some(shaped(containerPort=ports, name=names)),
                                         env=some(shaped(name=maybe(st.sampled_from(
                                             ["HTTP10", "ISTIO_META_HTTP10", "ISTIO_META_IDLE_TIMEOUT"])),
                                             value=maybe(st.sampled_from(["1", "true", "", "2h"])))),
                                         securityContext=shaped(runAsUser=maybe(st.sampled_from([1337, 1000]))),
                                         image=maybe(st.sampled_from(["mysql:8", "nginx", ""]))))),
}
API = {"ConfigMap": "v1", "VirtualService": "networking.istio.io/v1", "DestinationRule": "networking.istio.io/v1",
       "PeerAuthentication": "security.istio.io/v1", "Gateway": "networking.istio.io/v1",
       "ServiceEntry": "networking.istio.io/v1", "Service": "v1", "Pod": "v1", "Endpoints": "v1"}


@st.composite
def objects(draw: st.DrawFn) -> list[tuple[str, dict[str, Any]]]:
    out = [("services", {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "svc", "namespace": "ns"},
                         "spec": {"selector": {"app": "svc"}, "ports": [{"name": "http", "port": 80}]}})]
    for _ in range(draw(st.integers(0, 8))):
        kind = draw(st.sampled_from(sorted(specs)))
        meta = draw(maybe(st.fixed_dictionaries({"name": names, "namespace": st.sampled_from(["ns", "istio-system"])},
                                                optional={"labels": labels,
                                                          "creationTimestamp": maybe(st.sampled_from(
                                                              ["2026-01-01T00:00:00Z", "2025-01-01T00:00:00Z"]))})))
        body = {"apiVersion": API[kind], "kind": kind, "metadata": meta}
        body["data" if kind == "ConfigMap" else "spec"] = draw(specs[kind])
        if kind == "Pod":
            body["status"] = draw(shaped(conditions=some(shaped(type=maybe(st.just("Ready")),
                                                                status=maybe(st.sampled_from(["True", "False"])))),
                                         containerStatuses=some(shaped(name=names, ready=maybe(st.booleans())))))
        key = next(r.key for r in BY_KEY.values() if r.kind == kind and not r.stores_as)
        out.append((key, body))
    if draw(st.booleans()):
        addresses = some(shaped(ip=maybe(st.just("10.0.0.1")), targetRef=shaped(name=names)))
        out.append(("endpoints", {"apiVersion": "v1", "kind": "Endpoints",
                                  "metadata": {"name": "svc", "namespace": "ns"},
                                  "subsets": draw(some(shaped(addresses=addresses)))}))
    return out


STATUSES = {key: CollectionStatus(key, State.OK) for key in BY_KEY}


@given(objects(), st.booleans(), st.none() | evidence())
def test_every_check_survives_any_world(world, with_change, seen):
    snapshot = Snapshot.build(world, STATUSES, "offline" if seen is None else "live")
    mesh = read_mesh_settings(snapshot)
    target = resolve_target(snapshot, "svc", "ns", mesh.cluster_domain)
    change = ChangeSet(Snapshot.build(world[:1], STATUSES, "offline"), tuple(world[1:])) if with_change else None
    ctx = CheckContext(snapshot, mesh, target, change, seen or LiveEvidence())
    results, findings = run_checks(ctx, CHECKS)
    broken = [(r.entry.code, r.reason) for r in results if r.reason.startswith("internal error")]
    assert not broken, broken
    report = Report(target_input="svc", host=target.host, namespace=target.namespace,
                    source=Source("offline", None, None, True, "istio-system"), checks=tuple(results),
                    findings=tuple(findings), routing=routing_section(ctx.routing), tls=tls_section(ctx.tls_rows),
                    workloads=workloads_section(snapshot, mesh, target))
    json.dumps(report.to_data())
    render_text(report, make_console(io.StringIO(), no_color=True))
