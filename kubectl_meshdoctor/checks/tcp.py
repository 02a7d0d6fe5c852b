"""Long-lived TCP connections ("Headless TCP services losing connection"), ISTIO-SEMANTICS.md §F.

A connection through a sidecar lives only as long as that Envoy: Citadel's file-mounted certificates
make pilot-agent hot-restart Envoy at every rotation, a crashed or restarted istio-proxy cuts every
connection, and Envoy closes TCP connections idle past its timeout (1 hour unless configured).
"""

from __future__ import annotations

from typing import Any

from kubectl_meshdoctor.checks.base import check
from kubectl_meshdoctor.checks.context import CheckContext, host_pods, istio_gateway_pods, sidecar_workloads
from kubectl_meshdoctor.checks.findings import Problem, ResourceRef
from kubectl_meshdoctor.mesh import accesslog
from kubectl_meshdoctor.mesh import proxyconfig as pc
from kubectl_meshdoctor.mesh.protocol import derive
from kubectl_meshdoctor.mesh.workloads import proxy_status
from kubectl_meshdoctor.snapshot import objects as o

DEFAULT_IDLE = "1h"


def long_lived_ports(ctx: CheckContext) -> list[tuple[dict[str, Any], dict[str, Any], str]]:
    """(Service, port, why) for ports that carry raw TCP through the proxy: declared TCP-like protocols
    (sniffed ports may be anything, so they are not assumed), and every port of a headless Service."""
    found = []
    for svc in ctx.workload_services:
        headless = o.spec(svc).get("clusterIP") == "None"
        for port in map(o.as_dict, o.as_list(o.spec(svc).get("ports"))):
            protocol = derive(port, ctx.settings.version)
            if protocol.protocol == "UDP":
                continue
            if not protocol.http_like and not protocol.sniffed:
                found.append((svc, port, f"{protocol.protocol} ({protocol.reason})"))
            elif headless:
                found.append((svc, port, f"{protocol.protocol} on a headless Service"))
    return found


def _port_label(svc: dict[str, Any], port: dict[str, Any]) -> str:
    name = o.as_str(port.get("name"))
    return f"{o.name(svc)}:{port.get('port')}" + (f" ({name})" if name else "")


# ------------------------------------------------------------------------------------------- MD701

@check("MD701", needs=("services", "pods"), applies=sidecar_workloads)
def cert_rotation_restarts_envoy(ctx: CheckContext) -> list[Problem]:
    ports = long_lived_ports(ctx)
    if not ports:
        return []
    filed = [p for p in host_pods(ctx) if pc.cert_delivery(p) == pc.FILE_MOUNTED]
    if not filed:
        return []
    citadel = pc.citadel_settings(ctx.snapshot)
    if citadel is None:
        period = "at every rotation (no istio-citadel Deployment seen: Citadel's default is every 45 days)"
        rotation: dict[str, Any] = {"rotationDays": 45.0, "source": "Citadel's defaults (no Deployment seen)"}
    else:
        period = (f"about every {citadel.rotation_days:g} days (certificate TTL {citadel.ttl_hours:g}h, renewed "
                  f"when less than {citadel.grace_ratio:g} of it is left; from {citadel.source})")
        rotation = {"rotationDays": round(citadel.rotation_days, 2), "ttlHours": citadel.ttl_hours,
                    "graceRatio": citadel.grace_ratio, "source": citadel.source}
    labels = ", ".join(f"{_port_label(s, p)}: {why}" for s, p, why in ports)
    ns = ctx.target.namespace
    return [Problem(
        f"{len(filed)} pod(s) of {ctx.target.host} get their certificates as files from Citadel (istio-certs secret "
        f"mount), so pilot-agent hot-restarts Envoy {period}; the old Envoy is drained and its long-lived TCP "
        f"connections are cut about 60s later. Affected ports: {labels}",
        ctx.target.host, tuple(ResourceRef("Pod", o.namespace(p), o.name(p), "file-mounted certs") for p in filed),
        {"pods": [o.name(p) for p in filed], "certDelivery": pc.FILE_MOUNTED, "ports": [
            {"service": o.name(s), "port": p.get("port"), "why": why} for s, p, why in ports], **rotation},
        ("Upgrade to Istio 1.5 or later: certificates come through SDS from the istio-agent and rotate without "
         "restarting Envoy.",
         "On Istio 1.1-1.4, switch to node-agent SDS (`global.sds.enabled=true`, istio-nodeagent DaemonSet) and "
         "re-inject the pods; or raise Citadel's `--workload-cert-ttl` to make restarts rarer.",
         "Make the clients reconnect when a connection closes (database drivers: enable reconnect/keepalive).",
         f"Last resort from the guidelines: turn mTLS off for these workloads (PeerAuthentication/Policy DISABLE "
         f"for {ns}, DestinationRule tls DISABLE) and scale istio-citadel to 0. The cost: no workload identity, no "
         "encryption between these services, and every certificate in the mesh stops being renewed, so other "
         "mTLS traffic fails when current certificates expire."))]


# ------------------------------------------------------------------------------------------- MD702

@check("MD702", needs=("pods",), applies=sidecar_workloads, uses=("podlogs",))
def sidecar_restarts(ctx: CheckContext) -> list[Problem]:
    epochs = ctx.log_summary.epochs
    restarted: dict[str, dict[str, Any]] = {}
    for pod in [*host_pods(ctx), *istio_gateway_pods(ctx)]:
        status = proxy_status(pod)
        count = status.get("restartCount") if isinstance(status.get("restartCount"), int) else 0
        last = o.as_dict(o.as_dict(status.get("lastState")).get("terminated"))
        epoch, epoch_line = epochs.get(f"{o.namespace(pod)}/{o.name(pod)}", (0, ""))
        if not count and not epoch:
            continue
        entry: dict[str, Any] = {"restarts": count}
        if last:
            entry.update(reason=o.as_str(last.get("reason")), exitCode=last.get("exitCode"),
                         finishedAt=o.as_str(last.get("finishedAt")))
        if epoch:
            entry.update(hotRestartEpoch=epoch, epochLine=accesslog.shorten(epoch_line, 160))
        restarted[f"{o.namespace(pod)}/{o.name(pod)}"] = entry
    if not restarted:
        return []

    def says(name: str, e: dict[str, Any]) -> str:
        parts = []
        if e["restarts"]:
            last = ""
            if "reason" in e:  # lastState.terminated was reported
                last = f", last: {e['reason'] or 'terminated'}" + (f" at {e['finishedAt']}" if e["finishedAt"] else "")
            parts.append(f"istio-proxy restarted {e['restarts']}x{last}")
        if e.get("hotRestartEpoch"):
            parts.append(f"Envoy hot-restarted (epoch {e['hotRestartEpoch']} in the logs)")
        return f"{name}: " + ", ".join(parts)
    oom = any(e.get("reason") == "OOMKilled" for e in restarted.values())
    # `--previous` only where a terminated istio-proxy exists: after a hot restart (restartCount 0) the API
    # server answers `previous terminated container "istio-proxy" ... not found`
    steps = [f"Read why: `kubectl describe pod -n {ns} {name}`" + (
             f" and `kubectl logs -n {ns} {name} -c istio-proxy --previous`." if "reason" in restarted[key] else
             f" and `kubectl logs -n {ns} {name} -c istio-proxy` (the running Envoy; no container terminated).")
             for key in list(restarted)[:2] for ns, name in (key.split("/", 1),)]
    if oom:
        steps.append("OOMKilled: raise the sidecar's memory limit (annotation `sidecar.istio.io/proxyMemoryLimit`) "
                     "or limit what it must hold (a Sidecar resource narrowing egress hosts).")
    if any(e.get("hotRestartEpoch") for e in restarted.values()):
        steps.append("Hot restarts come from certificate rotation with file-mounted certs (see MD701) or from "
                     "bootstrap changes; each one drops long-lived connections after the drain.")
    return [Problem(f"Sidecars on the path to {ctx.target.host} restarted, cutting every "
                    "connection through them: " + "; ".join(says(n, e) for n, e in restarted.items()),
                    ctx.target.host, tuple(ResourceRef.at("Pod", n, "sidecar restarted")
                                           for n in restarted),
                    {"pods": restarted}, tuple(steps))]


# ------------------------------------------------------------------------------------------- MD703

def _idle_from_policy(policy: dict[str, Any], port: Any) -> str | None:
    for level in o.as_list(policy.get("portLevelSettings")):
        level = o.as_dict(level)
        if o.as_dict(level.get("port")).get("number") == port:
            value = o.dig(level, "connectionPool", "tcp", "idleTimeout")
            if isinstance(value, str):
                return value
    value = o.dig(policy, "connectionPool", "tcp", "idleTimeout")
    return value if isinstance(value, str) else None


@check("MD703", needs=("services", "destinationrules"), applies=sidecar_workloads)
def tcp_idle_timeout(ctx: CheckContext) -> list[Problem]:
    version = ctx.settings.version
    honours_dr = version is None or version.at_least(1, 21)
    proxy_idle = next((v for v in (pc.proxy_env(p, ctx.snapshot).get(pc.IDLE_KEY) for p in ctx.host_pods) if v),
                      None) or ctx.settings.proxy_metadata.get(pc.IDLE_KEY)
    lookups = [ctx.routing.dr_lookup(v) for v in ctx.routing.views if v.has_callers] or [
        ctx.routing.lookup_for(ctx.target.namespace, ctx.target.host, ctx.target.namespace)]
    findings = []
    for svc, port, why in long_lived_ports(ctx):
        number = port.get("port")
        from_dr = {}
        for lookup in lookups:
            if lookup.merged is not None and lookup.merged.policy_from is not None:
                value = _idle_from_policy(lookup.merged.traffic_policy, number)
                if value is not None:
                    from_dr[lookup.client_ns] = (value, lookup.merged.policy_from)
        if (from_dr and honours_dr) or proxy_idle:
            continue  # set on purpose: what the owner chose
        label = _port_label(svc, port)
        if from_dr:
            value, rule = next(iter(from_dr.values()))
            message = (f"Port {label} of {ctx.target.host} carries long-lived TCP ({why}); DestinationRule "
                       f"{o.namespace(rule)}/{o.name(rule)} sets connectionPool.tcp.idleTimeout {value}, but Istio "
                       f"{version} ignores it (honoured from 1.21), so idle connections are closed after "
                       f"{DEFAULT_IDLE}")
            resources = (ResourceRef("DestinationRule", o.namespace(rule), o.name(rule), "idleTimeout ignored"),)
        else:
            message = (f"Port {label} of {ctx.target.host} carries long-lived TCP ({why}); nothing sets an idle "
                       f"timeout, so the sidecars close a connection after {DEFAULT_IDLE} without traffic "
                       "(Envoy's TCP proxy default)")
            resources = (ResourceRef("Service", o.namespace(svc), o.name(svc), "TCP port"),)
        findings.append(Problem(message, ctx.target.host, resources,
            {"port": number, "protocol": why, "idleTimeout": DEFAULT_IDLE, "setBy": "Envoy default",
             "destinationRuleHonoured": honours_dr},
            (f"If connections may stay idle longer: set `trafficPolicy.connectionPool.tcp.idleTimeout` (e.g. 24h; "
             f"0s disables it) in the DestinationRule for {ctx.target.host}"
             + ("," if honours_dr else " after upgrading to Istio 1.21+,"),
             f"or the proxy metadata `{pc.IDLE_KEY}` (annotation `proxy.istio.io/config` on the workload, then "
             "restart the pods),",
             "or enable TCP keepalives in the application or its driver so the connection never looks idle."),
            port=number if isinstance(number, int) else None))
    return findings
