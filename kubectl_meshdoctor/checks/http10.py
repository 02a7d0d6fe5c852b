"""HTTP/1.0 ("Envoy won't connect to my HTTP/1.0 service"), ISTIO-SEMANTICS.md §E.

Envoy answers an HTTP/1.0 request with 426 Upgrade Required on any HTTP listener that was not told
to accept it. The proxy that rejects is the one that *receives* the request: the client's sidecar,
the server's sidecar (from a client outside the mesh) or a gateway. So every check here asks "which
proxy receives it, and does that proxy accept HTTP/1.0?".
"""

from __future__ import annotations

from typing import Any

from kubectl_meshdoctor.checks.base import check
from kubectl_meshdoctor.checks.context import (
    CannotTell,
    CheckContext,
    has_workloads,
    probed,
    reads,
)
from kubectl_meshdoctor.checks.findings import Problem, ResourceRef
from kubectl_meshdoctor.mesh import accesslog, nginx
from kubectl_meshdoctor.mesh import proxyconfig as pc
from kubectl_meshdoctor.mesh.workloads import has_sidecar
from kubectl_meshdoctor.snapshot import objects as o

ENABLE_ON_PROXY = ("Or let the receiving proxy accept HTTP/1.0: on its workload's pod template set the annotation "
                   "`proxy.istio.io/config: '{\"proxyMetadata\":{\"ISTIO_META_HTTP10\":\"1\"}}'` (Istio 1.7+) and "
                   "restart the pods; mesh-wide: `meshConfig.defaultConfig.proxyMetadata.ISTIO_META_HTTP10: \"1\"` "
                   "(1.5+) or env `PILOT_HTTP10=1` on istiod.")


def _global_http10(ctx: CheckContext) -> bool:
    cp = ctx.settings.control_plane
    return pc.pilot_http10(cp.env, ctx.settings.version)[0] if cp else False


# ------------------------------------------------------------------------------------------- MD602

def mounted_by(ctx: CheckContext, cm: dict[str, Any]) -> list[dict[str, Any]]:
    name, ns = o.name(cm), o.namespace(cm)
    found = []
    for pod in ctx.snapshot.in_namespace("pods", ns):
        for volume in map(o.as_dict, o.as_list(o.spec(pod).get("volumes"))):
            sources = [o.as_dict(volume.get("configMap"))] + [
                o.as_dict(o.as_dict(s).get("configMap")) for s in o.as_list(o.dig(volume, "projected", "sources"))]
            if any(s.get("name") == name for s in sources):
                found.append(pod)
                break
    return sorted(found, key=o.name)


@check("MD602", needs=("services", "appconfigmaps"), uses=("nginxpods",))
def nginx_http10_upstream(ctx: CheckContext) -> list[Problem]:
    findings = []
    servers = [s for _, s in ctx.http10_receivers if s.role == "server"]
    pilot_on = _global_http10(ctx)
    for cm, hits in nginx.http10_hits(ctx.snapshot, ctx.target.host, ctx.workload_services,
                                      ctx.settings.cluster_domain):
        if not ctx.snapshot.readable("nginxpods"):
            raise CannotTell(f"ConfigMap {o.namespace(cm)}/{o.name(cm)} proxies to the host over HTTP/1.0, but which "
                             f"pods run it is unknown: {ctx.snapshot.status('nginxpods').reason()}")
        pods = mounted_by(ctx, cm)
        if not pods:
            continue  # a config no pod runs sends nothing
        meshed = [p for p in pods if has_sidecar(p)]
        client_accepts = all(pc.http10_state(p, "client", pilot_on, ctx.settings.version, ctx.snapshot).accepts
                             for p in meshed)
        if (meshed and client_accepts) or (not meshed and servers and all(s.accepts for s in servers)):
            continue  # the receiving proxy accepts HTTP/1.0: it works, if not ideally
        rejecter = ("the NGINX pods' own sidecars (outbound)" if meshed else
                    f"the sidecars of {ctx.target.host} (inbound)")
        for hit in hits:
            where = (f"{hit.key} line {hit.line}" + (f", location {hit.location}" if hit.location else ""))
            version = ("proxy_http_version is never set, and NGINX's default is 1.0" if hit.set_at == "default"
                       else f"proxy_http_version {hit.http_version} at {hit.set_at}")
            findings.append(Problem(
                f"NGINX in pod {', '.join(f'{o.namespace(p)}/{o.name(p)}' for p in pods)} proxies to "
                f"{ctx.target.host} over HTTP/1.0 "
                f"(ConfigMap {o.namespace(cm)}/{o.name(cm)}, {where}: `proxy_pass {hit.target}`; {version}). "
                f"{rejecter[0].upper() + rejecter[1:]} answer such requests with 426 Upgrade Required",
                ctx.target.host, (ResourceRef.of("ConfigMap", cm, "NGINX config"),
                                  *(ResourceRef.of("Pod", p, "runs NGINX") for p in pods)),
                {"configMap": f"{o.namespace(cm)}/{o.name(cm)}", "key": hit.key, "line": hit.line,
                 "location": hit.location, "proxyPass": hit.target, "upstreams": list(hit.upstream_hosts),
                 "httpVersion": hit.http_version, "versionSetAt": hit.set_at,
                 "pods": [o.name(p) for p in pods], "rejectedBy": rejecter},
                (f"In ConfigMap {o.namespace(cm)}/{o.name(cm)} ({hit.key}), add `proxy_http_version 1.1;` and "
                 "`proxy_set_header Connection \"\";` to the location (or once in the `http` block), then restart "
                 "the NGINX pods so they load it.", ENABLE_ON_PROXY)))
    return findings


# ------------------------------------------------------------------------------------------- MD603

@check("MD603", needs=("services",), uses=("pods", "gatewaypods"))
def http10_switch_misconfigured(ctx: CheckContext) -> list[Problem]:
    problems: list[pc.SwitchProblem] = []
    version = ctx.settings.version
    cp = ctx.settings.control_plane
    if cp is not None:
        _, problem = pc.pilot_http10(cp.env, version)
        if problem:
            problems.append(pc.SwitchProblem(f"istiod Deployment {cp.namespace}/{cp.name}", "PILOT_HTTP10",
                                             cp.env.get("PILOT_HTTP10", ""), problem,
                                             "set PILOT_HTTP10 to \"1\"", ("Deployment", cp.namespace, cp.name)))
    cm_ns, cm_name = ctx.settings.mesh_config
    problems += pc.check_metadata(ctx.settings.proxy_metadata, "mesh config defaultConfig.proxyMetadata",
                                  ("ConfigMap", cm_ns, cm_name))
    problems += _too_old(version, (1, 5), ctx.settings.proxy_metadata, "mesh config defaultConfig.proxyMetadata",
                         ("ConfigMap", cm_ns, cm_name))
    if ctx.workload_services and not ctx.snapshot.readable("pods") and not problems:
        raise CannotTell(ctx.snapshot.status("pods").reason())  # the receiving proxies cannot be seen
    receivers = ctx.http10_receivers if ctx.snapshot.readable("pods") else []
    for pod, state in receivers:
        ref = ("Pod", o.namespace(pod), o.name(pod))
        metadata, parse_problem = pc.annotation_proxy_metadata(pod)
        label = f"pod {o.namespace(pod)}/{o.name(pod)}"
        if parse_problem:
            problems.append(pc.SwitchProblem(label, pc.PROXY_CONFIG_ANNOTATION, "", parse_problem,
                                             "fix the annotation's YAML", ref))
        problems += pc.check_metadata(metadata or {}, f"annotation {pc.PROXY_CONFIG_ANNOTATION} of {label}", ref)
        env = pc.proxy_env(pod, ctx.snapshot)
        if env.get(pc.HTTP10_KEY) != "1":  # the env switch works on every version: then nothing else matters
            problems += _too_old(version, (1, 7), metadata or {},
                                 f"annotation {pc.PROXY_CONFIG_ANNOTATION} of {label}", ref)
        problems += pc.check_metadata(env, f"istio-proxy env of {label}", ref)
        wanted = ((metadata or {}).get(pc.HTTP10_KEY) == "1" and _reads(version, (1, 7))) or \
            (ctx.settings.proxy_metadata.get(pc.HTTP10_KEY) == "1" and _reads(version, (1, 5)))
        if wanted and env.get(pc.HTTP10_KEY) != "1" and env:
            problems.append(pc.SwitchProblem(label, pc.HTTP10_KEY, "1",
                                             "asked for, but the running istio-proxy does not have it: the pod was "
                                             "created before the setting (it is applied at injection)",
                                             "restart the workload so its pods are re-injected", ref))
        if state.version_blocked:
            problems.append(pc.SwitchProblem(label, pc.HTTP10_KEY, "1", state.why,
                                             "upgrade to Istio 1.3+, or make the clients speak HTTP/1.1", ref))
    if not problems:
        return []
    resources = tuple(dict.fromkeys(ResourceRef(*p.ref) for p in problems if p.ref[0]))
    lines = [f"{p.where}: {p.key}={p.value!r} — {p.problem}" if p.value else f"{p.where}: {p.problem}"
             for p in problems]
    return [Problem(f"HTTP/1.0 acceptance for {ctx.target.host} is configured but not in effect as meant: "
        + "; ".join(lines), ctx.target.host, resources,
        {"problems": [{"where": p.where, "key": p.key, "value": p.value, "problem": p.problem} for p in problems],
         "receivingProxies": [{"namespace": s.namespace, "pod": s.pod, "role": s.role,
                               "acceptsHttp10": s.accepts, "why": s.why} for _, s in receivers]},
        tuple(dict.fromkeys(f"{p.where}: {p.fix}." for p in problems)))]


def _reads(version: Any, since: tuple[int, int]) -> bool:
    return version is None or version.at_least(*since)


def _too_old(version: Any, since: tuple[int, int], metadata: dict[str, str], where: str,
             ref: tuple[str, str, str]) -> list[pc.SwitchProblem]:
    """proxyMetadata in the mesh config is read from Istio 1.5, the pod annotation from 1.7."""
    if _reads(version, since) or pc.HTTP10_KEY not in metadata:
        return []
    return [pc.SwitchProblem(where, pc.HTTP10_KEY, metadata[pc.HTTP10_KEY],
                             f"Istio {version} does not read it here (from {since[0]}.{since[1]})",
                             f"set env {pc.HTTP10_KEY}=\"1\" on the istio-proxy container (injection template), "
                             "or PILOT_HTTP10=1 on the control plane", ref)]


# ------------------------------------------------------------------------------------------- MD601

@reads("services")
def logs_were_read(ctx: CheckContext) -> str | None:
    """`applies` for log checks: a run that did not read logs (--no-logs, `scan`) did not ask."""
    return has_workloads(ctx) or (None if ctx.evidence.logs_read else
                                  "proxy logs not read (--no-logs, or a command that does not read them)")


@check("MD601", needs=("pods", "podlogs"), applies=logs_were_read)
def http10_rejected(ctx: CheckContext) -> list[Problem]:
    findings = []
    for seen in ctx.log_summary.symptoms:
        if not seen.http10_rejected:
            continue
        direction = {"inbound": "inbound, at the host's own sidecar", "gateway": "at the ingress gateway",
                     "outbound": "outbound, at the client's sidecar"}[seen.direction]
        receivers = ", ".join(seen.pods)
        fix = ("Make the sender speak HTTP/1.1 (NGINX: `proxy_http_version 1.1;`; ab, `curl -0` and old Java "
               "clients send 1.0).", ENABLE_ON_PROXY.replace("Or let the receiving proxy", f"Or let {receivers}"))
        if seen.direction == "inbound" and ctx.settings.version is not None and \
                not ctx.settings.version.at_least(1, 3):
            fix = (fix[0], f"Istio {ctx.settings.version} cannot accept HTTP/1.0 inbound; only the sender can be "
                           "fixed (or upgrade to 1.3+).")
        findings.append(Problem(
            f"{seen.count} HTTP/1.0 request(s) rejected with 426 Upgrade Required {direction} ({receivers}, "
            f"last {ctx.evidence.since}); sample: {accesslog.shorten(seen.sample, 160)}",
            ctx.target.host, tuple(ResourceRef.at("Pod", p, f"rejects HTTP/1.0 ({seen.direction})")
                                   for p in seen.pods),
            {"pods": list(seen.pods), "direction": seen.direction, "count": seen.count, "first": seen.first,
             "last": seen.last, "sample": seen.sample},
            fix, port=seen.port))
    return findings


# ------------------------------------------------------------------------------------------- MD604

@check("MD604", needs=("services", "pods", "portforward"), applies=probed)
def http10_upstream_app(ctx: CheckContext) -> list[Problem]:
    if not ctx.evidence.http_probes:  # nothing was probed: never "answers with HTTP/1.1"
        raise CannotTell(f"no ready pod of {ctx.target.host} with an HTTP port to probe")
    answered = [p for p in ctx.evidence.http_probes if p.status_line]
    if ctx.evidence.http_probes and not answered:
        raise CannotTell("no probe got an answer: " + "; ".join(
            f"{p.answer.pod}:{p.answer.port}: {p.answer.error}" for p in ctx.evidence.http_probes))
    findings = []
    for probe in answered:
        if not probe.status_line.startswith("HTTP/1.0"):
            continue
        a = probe.answer
        findings.append(Problem(f"The application in pod {a.namespace}/{a.pod} answers on port {a.port} (Service "
            f"{probe.service}:{probe.service_port}) with {probe.status_line!r} to an HTTP/1.1 request: it speaks "
            "HTTP/1.0, so no keep-alive and no chunked bodies behind Envoy", ctx.target.host,
            (ResourceRef("Pod", a.namespace, a.pod, "answers HTTP/1.0"),),
            {"pod": f"{a.namespace}/{a.pod}", "containerPort": a.port, "statusLine": probe.status_line,
             "seconds": round(a.seconds, 3)},
            ("Configure the server for HTTP/1.1 (e.g. Python's http.server: protocol_version = \"HTTP/1.1\").",),
            port=probe.service_port))
    return findings
