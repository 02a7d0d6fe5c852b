"""Service and pod requirements ("Route rules have no effect on my application").

A Service with no ready endpoint, pods that run outside the mesh, and what Istio makes of each port:
the protocol decides whether HTTP routing applies at all, and a server-first protocol on a sniffed port
stalls, so a port's severity follows its consequence rather than its spelling.
"""

from __future__ import annotations

import re
from typing import Any

from kubectl_meshdoctor.checks.base import check
from kubectl_meshdoctor.checks.context import CheckContext, app_containers, has_workloads, sidecar_workloads
from kubectl_meshdoctor.checks.findings import Problem, ResourceRef
from kubectl_meshdoctor.checks.severity import Severity
from kubectl_meshdoctor.mesh import destinationrules as drs
from kubectl_meshdoctor.mesh import protocol as proto
from kubectl_meshdoctor.mesh import virtualservices as vss
from kubectl_meshdoctor.mesh import workloads as w
from kubectl_meshdoctor.mesh.ambient import asks_ambient
from kubectl_meshdoctor.mesh.tls import (
    STRICT,
    ServerInputs,
    pa_server_mode,
    pod_peer_policies,
    service_ports,
    target_port,
)
from kubectl_meshdoctor.snapshot import objects as o

# Protocols where the server speaks first: protocol sniffing waits for the client and the connection stalls.
SERVER_FIRST_PORTS = {21: "FTP", 110: "POP3", 143: "IMAP", 465: "SMTPS", 587: "SMTP submission",
                      3307: "MySQL", 33060: "MySQL X protocol", 4222: "NATS"}
SERVER_FIRST_IMAGES = re.compile(r"(mysql|mariadb|percona|postfix|smtp|exim|vsftpd|proftpd|nats)", re.I)


@check("MD506", needs=("services", "endpoints"), needs_istio=False, applies=has_workloads)
def service_no_ready_endpoints(ctx: CheckContext) -> list[Problem]:
    findings = []
    for svc in ctx.workload_services:
        ns, name = o.namespace(svc), o.name(svc)
        endpoints = ctx.snapshot.get("endpoints", ns, name)
        counts = w.endpoint_counts(endpoints)
        if counts.ready:
            continue
        selector = w.service_selector(svc)
        sel_text = w.label_selector_string(selector)
        pods = w.service_pods(ctx.snapshot, svc) if ctx.snapshot.readable("pods") else None
        resources = [ResourceRef.of("Service", svc)] + ([ResourceRef.of("Endpoints", endpoints)] if endpoints else [])
        evidence: dict[str, Any] = {"selector": sel_text or None, "readyEndpoints": 0,
                                    "notReadyEndpoints": list(counts.not_ready)}
        if not selector:
            message = (f"Service {ns}/{name} has no selector and its Endpoints lists no ready address: "
                       "every request to it fails")
            remediation = [f"The endpoints of {ns}/{name} are managed by hand: add ready addresses to "
                           f"Endpoints {ns}/{name}, or give the Service a selector."]
        elif pods is not None and not pods:
            message = f"Service {ns}/{name} has no ready endpoints: no pod in {ns} matches its selector {sel_text}"
            remediation = [f"Compare the selector {sel_text} with the pod labels: "
                           f"`kubectl get pods -n {ns} --show-labels`.",
                           "Fix the Service selector or the pod template labels, or scale the workload up."]
        else:
            evidence["pods"] = {o.name(p): ("ready" if w.pod_ready(p) else w.pod_problem(p)) for p in pods or []}
            resources += [ResourceRef.of("Pod", p, "not ready") for p in pods or []]
            detail = ", ".join(f"{p} ({why})" for p, why in evidence["pods"].items()) if pods else \
                f"{len(counts.not_ready)} address(es) not ready"
            total = f"0 of {len(pods)} pods ready: " if pods else ""
            message = f"Service {ns}/{name} has no ready endpoints ({total}{detail}); every request to it fails"
            remediation = [f"See why the pods are not ready: `kubectl describe pods -n {ns} -l {sel_text}` "
                           "(readiness probe, crash loop, image pull).",
                           f"Check the logs: `kubectl logs -n {ns} -l {sel_text} --all-containers --tail=50`.",
                           "When the pods are ready again the endpoints come back by themselves."]
        findings.append(Problem(message, ctx.target.host, tuple(resources), evidence,
                                tuple(remediation)))
    return findings


@check("MD502", needs=("services", "pods"), applies=sidecar_workloads, uses=("namespaces",))
def pod_without_sidecar(ctx: CheckContext) -> list[Problem]:
    findings = []
    for svc in ctx.workload_services:
        ns = o.namespace(svc)
        pods = w.service_pods(ctx.snapshot, svc)
        # ambient pods have no sidecar by design (ztunnel carries them; MD552 covers those left uncaptured)
        bare = [p for p in pods if (not w.has_sidecar(p) and not asks_ambient(ctx.snapshot, p))
                or o.spec(p).get("hostNetwork") is True or w.sidecar_not_ready(p)]
        if not bare:
            continue
        injection = w.namespace_injection(ctx.snapshot, ns) if ctx.snapshot.readable("namespaces") else None
        reasons = {o.name(p): _why_no_sidecar(p, ns, injection) for p in bare}
        message = (f"{len(bare)} of {len(pods)} pods behind Service {ns}/{o.name(svc)} run without a working "
                   "istio-proxy sidecar, so mesh routing and mTLS do not apply to them: "
                   + ", ".join(f"{n} ({why})" for n, why in reasons.items()))
        evidence: dict[str, Any] = {"podsWithoutSidecar": reasons, "pods": len(pods), "namespaceInjection": injection}
        severity = None
        if all(_opted_out(p) and not w.has_sidecar(p) for p in bare):
            meshed = [o.name(p) for p in pods if w.has_sidecar(p)]
            targeted = _mesh_configuration_for(ctx, bare)
            evidence |= {"optedOut": True, "podsWithSidecar": meshed, "meshConfiguration": targeted}
            if not meshed and not targeted:
                severity = Severity.INFO
                message += ("; they opted out on purpose and nothing in the mesh configuration targets this Service, "
                            "so this is only for the record")
            else:
                message += "; they opted out, but " + "; ".join(
                    ([f"other pods of the Service have sidecars ({', '.join(meshed)}), so clients get mesh "
                      "behaviour from some endpoints only"] if meshed else []) +
                    ([f"mesh configuration targets it ({', '.join(targeted)}), which does not apply to these pods"]
                     if targeted else []))
        steps = _sidecar_remediation(bare, ns, injection)
        if severity == Severity.INFO:
            steps = ["Nothing to do if the opt-out is intended (add-ons, jobs); to bring them into the mesh:", *steps]
        findings.append(Problem(message, ctx.target.host,
            (ResourceRef.of("Service", svc), *(ResourceRef.of("Pod", p, "no sidecar") for p in bare)), evidence,
            tuple(steps), severity=severity))
    return findings


def _opted_out(pod: dict[str, Any]) -> bool:
    return any(source.get("sidecar.istio.io/inject", "").lower() == "false"
               for source in (o.annotations_of(pod), o.labels(pod)))


def _mesh_configuration_for(ctx: CheckContext, pods: list[dict[str, Any]]) -> list[str]:
    """What expects these pods in the mesh: VirtualServices and DestinationRules for the host, and a
    PeerAuthentication that makes their port STRICT (clients with sidecars then send mutual TLS)."""
    model = ctx.routing
    found = [f"VirtualService {vss.vs_ref(v)}"
             for v in {id(v): v for v in (*model.declaring, *model.routing_here)}.values()]
    found += [f"DestinationRule {drs.dr_ref(r)}" for r in model.exact_rules()]
    inputs = ServerInputs(ctx.snapshot, ctx.settings)
    for pod in pods:
        mode = pa_server_mode(pod_peer_policies(inputs, pod), None)
        if mode.mode == STRICT:
            found += [f"PeerAuthentication {d.ref} (STRICT)" for d in mode.deciders if d.kind == "PeerAuthentication"]
    return list(dict.fromkeys(found))


def _why_no_sidecar(pod: dict[str, Any], ns: str, injection: str | None) -> str:
    if o.spec(pod).get("hostNetwork") is True:
        return "hostNetwork pods are never injected"
    if w.has_sidecar(pod):
        return f"the istio-proxy sidecar is not ready ({w.sidecar_not_ready(pod)})"
    if _opted_out(pod):
        return "injection disabled by sidecar.istio.io/inject=false"
    if injection == "disabled":
        return f"namespace {ns} has istio-injection=disabled"
    if injection == "":
        return f"namespace {ns} has no istio-injection or istio.io/rev label"
    return "no istio-proxy container; created before injection was enabled?"


def _sidecar_remediation(bare: list[dict[str, Any]], ns: str, injection: str | None) -> list[str]:
    steps = []
    if injection in ("", "disabled"):
        steps.append(f"Enable injection: `kubectl label namespace {ns} istio-injection=enabled --overwrite` "
                     "(or `istio.io/rev=<revision>` with revisioned control planes).")
    if any("inject=false" in _why_no_sidecar(p, ns, injection) for p in bare):
        steps.append("Remove `sidecar.istio.io/inject: \"false\"` from the pod template of the workload.")
    if any(o.spec(p).get("hostNetwork") is True for p in bare):
        steps.append("hostNetwork pods cannot join the mesh: run them without hostNetwork, or exclude them "
                     "from the Service.")
    if any(w.has_sidecar(p) and w.sidecar_not_ready(p) for p in bare):
        steps.append(f"For a sidecar that is not ready: `kubectl logs -n {ns} POD -c istio-proxy` (often it cannot "
                     "reach istiod, or the certificate could not be issued).")
    recreate = [p for p in bare if o.spec(p).get("hostNetwork") is not True and not w.has_sidecar(p)]
    if recreate:
        steps.append(f"Recreate the pods so the injector adds the sidecar: {w.recreate_commands(recreate)}.")
    return steps


APP_LABELS = ("app", "app.kubernetes.io/name", "service.istio.io/canonical-name")
VERSION_LABELS = ("version", "app.kubernetes.io/version", "service.istio.io/canonical-revision")


@check("MD503", needs=("services", "pods"), applies=has_workloads)
def pod_missing_app_version_labels(ctx: CheckContext) -> list[Problem]:
    findings = []
    for svc in ctx.workload_services:
        missing = {}
        for pod in w.service_pods(ctx.snapshot, svc):
            labels = o.labels(pod)
            lacks = [kind for kind, keys in (("app", APP_LABELS), ("version", VERSION_LABELS))
                     if not any(k in labels for k in keys)]
            if lacks:
                missing[o.name(pod)] = lacks
        if missing:
            findings.append(Problem(f"{len(missing)} pods behind Service {o.namespace(svc)}/{o.name(svc)} lack "
                + " and ".join(sorted({k for v in missing.values() for k in v})) + " labels, so telemetry and "
                "traces cannot tell their workloads or versions apart: " + ", ".join(missing), ctx.target.host,
                tuple(ResourceRef("Pod", o.namespace(svc), n, "missing labels") for n in missing),
                {"missing": missing}, ()))
    return findings


@check("MD504", needs=("services", "pods"), applies=sidecar_workloads)
def pod_uid_1337(ctx: CheckContext) -> list[Problem]:
    findings = []
    for pod, container in app_containers(ctx):
        own = o.as_dict(container.get("securityContext")).get("runAsUser")
        uid = own if own is not None else o.as_dict(o.spec(pod).get("securityContext")).get("runAsUser")
        if uid != 1337:
            continue
        where = "its own securityContext" if own is not None else "the pod's securityContext"
        findings.append(Problem(f"Container {container.get('name')} of pod {o.namespace(pod)}/{o.name(pod)} runs "
            f"as UID 1337 (from {where}), the proxy's user: its outbound traffic bypasses the sidecar",
            ctx.target.host, (ResourceRef("Pod", o.namespace(pod), o.name(pod), "runs as 1337"),),
            {"container": container.get("name"), "runAsUser": 1337, "setBy": where},
            (f"Set runAsUser to another UID for container {container.get('name')} (in its securityContext "
             "or the pod's).",)))
    return findings



def _svc(svc: dict[str, Any]) -> ResourceRef:
    return ResourceRef("Service", o.namespace(svc), o.name(svc), "port")


def _server_first(number: Any, target: Any, pods: list[dict[str, Any]]) -> str | None:
    """A hint that the port carries a server-first protocol: its number, or the image listening on it."""
    for candidate in (number, target):
        if isinstance(candidate, int) and SERVER_FIRST_PORTS.get(candidate):
            return f"{SERVER_FIRST_PORTS[candidate]} (port {candidate})"
    for pod in pods:
        for container in o.as_list(o.spec(pod).get("containers")):
            container = o.as_dict(container)
            ports = [o.as_dict(p).get("containerPort") for p in o.as_list(container.get("ports"))]
            image = o.as_str(container.get("image"))
            found = SERVER_FIRST_IMAGES.search(image.rpartition("/")[2])
            if (target in ports or not ports) and found:
                return f"{found[1]} (image {image})"
    return None


@check("MD501", needs=("services",), applies=has_workloads)
def port_protocol_undeclared(ctx: CheckContext) -> list[Problem]:
    findings = []
    for svc in ctx.workload_services:
        pods = w.service_pods(ctx.snapshot, svc) if ctx.snapshot.readable("pods") else []
        for port in service_ports(svc) + [o.as_dict(p) for p in o.as_list(o.spec(svc).get("ports"))
                                          if o.as_dict(p).get("protocol") == "UDP"]:
            derived = proto.derive(port, ctx.settings.version)
            name, number = o.as_str(port.get("name")), port.get("port")
            shown = f"port {number}" + (f" ({name})" if name else "")
            meaningful = name.split("-")[0].lower() in proto.KNOWN
            evidence = {"port": number, "name": name or None, "appProtocol": port.get("appProtocol"),
                        "derived": derived.protocol, "reason": derived.reason}
            if derived.unrecognised_app_protocol and meaningful:
                findings.append(Problem(f"Service {o.namespace(svc)}/{o.name(svc)} {shown}: appProtocol "
                    f"{derived.unrecognised_app_protocol!r} overrides the port name, and Istio does not recognise it, "
                    f"so the port is {'sniffed' if derived.sniffed else derived.protocol} instead of "
                    f"{proto.KNOWN[name.split('-')[0].lower()]}", ctx.target.host, (_svc(svc),), evidence,
                    ("Set appProtocol to a protocol Istio knows (http, http2, grpc, tcp, tls...) or remove it so "
                     "that the port name applies.",), port=number if isinstance(number, int) else None))
                continue
            if not derived.sniffed:
                continue
            hint = _server_first(number, port.get("targetPort"), pods)
            if hint:
                evidence["serverFirst"] = hint
                message = (f"Service {o.namespace(svc)}/{o.name(svc)} {shown} declares no protocol and carries "
                           f"{hint}, a protocol where the server speaks first: Istio's protocol sniffing waits for "
                           "the client, so connections stall (and hang for ever on Istio 1.8+, where "
                           "protocolDetectionTimeout is 0)")
                fix = (f"Name the port `tcp-{name or 'app'}` or set `appProtocol: tcp`.",)
                severity = Severity.ERROR
            else:
                message = (f"Service {o.namespace(svc)}/{o.name(svc)} {shown} declares no protocol: Istio sniffs "
                           "each connection (HTTP/1.1 and h2c are recognised, anything else becomes TCP), and "
                           "HTTP route rules apply only when sniffing sees HTTP")
                fix = (f"Name the port after its protocol (`http-{name or 'web'}`, `grpc`, `tcp-...`) or set "
                       "appProtocol.",)
                severity = Severity.INFO
            findings.append(Problem(message, ctx.target.host, (_svc(svc),), evidence, fix,
                                    port=number if isinstance(number, int) else None, severity=severity))
    return findings


@check("MD505", needs=("services", "pods"), applies=sidecar_workloads)
def port_protocol_collision(ctx: CheckContext) -> list[Problem]:
    findings = []
    seen: set[tuple[str, int]] = set()
    for svc in ctx.workload_services:
        for pod in w.service_pods(ctx.snapshot, svc):
            selecting = w.selecting_services(ctx.snapshot, pod)
            by_port: dict[int, dict[str, list[str]]] = {}
            for other in selecting:
                for port, derived, user in _port_protocols(ctx, other):
                    target = target_port(port, pod)
                    if target is not None:
                        by_port.setdefault(target, {}).setdefault(derived, []).append(user)
            for target, protocols in by_port.items():
                if len(protocols) < 2 or (o.namespace(pod), target) in seen:
                    continue
                seen.add((o.namespace(pod), target))
                detail = "; ".join(f"{p} from {', '.join(users)}" for p, users in protocols.items())
                findings.append(Problem(f"Pod {o.namespace(pod)}/{o.name(pod)} is selected by several Services that "
                    f"use its port {target} with different protocols ({detail}); Istio builds one inbound listener "
                    "per port, so one Service's traffic is handled with the other's protocol", ctx.target.host,
                    (ResourceRef("Pod", o.namespace(pod), o.name(pod), "selected by both"),
                     *(ResourceRef("Service", o.namespace(pod), u.split(":")[0], "uses the port")
                       for users in protocols.values() for u in users)),
                    {"targetPort": target, "protocols": protocols},
                    (f"Use the same protocol prefix for port {target} in every Service that selects the pod, or "
                     "stop selecting the pod from one of them.",), port=target))
    return findings


def _port_protocols(ctx: CheckContext, service: dict[str, Any]) -> list[tuple[dict[str, Any], str, str]]:
    """(port, its protocol, `name:port`) for each port of a Service: once per Service, not per pod."""
    version = ctx.settings.version
    return ctx.snapshot.derived_for(service, ("port-protocols", version), lambda: [
        (port, proto.derive(port, version).protocol, f"{o.name(service)}:{port.get('port')}")
        for port in service_ports(service)])


@check("MD507", needs=("services", "pods"), applies=has_workloads)
def target_port_not_exposed(ctx: CheckContext) -> list[Problem]:
    findings = []
    for svc in ctx.workload_services:
        pods = w.service_pods(ctx.snapshot, svc)
        if not pods:
            continue
        for port in service_ports(svc):
            target = port.get("targetPort", port.get("port"))
            unresolved = [p for p in pods if target_port(port, p) is None]
            declared = {o.as_dict(cp).get("containerPort") for p in pods for c in o.as_list(o.spec(p).get("containers"))
                        for cp in o.as_list(o.as_dict(c).get("ports"))}
            if isinstance(target, str) and not target.isdigit() and unresolved:
                findings.append(Problem(f"Service {o.namespace(svc)}/{o.name(svc)} port {port.get('port')} targets the "
                    f"named port {target!r}, which {len(unresolved)} of {len(pods)} pods do not declare: those pods "
                    "get no endpoint for this port, so its traffic never reaches them", ctx.target.host,
                    (_svc(svc), *(ResourceRef("Pod", o.namespace(p), o.name(p), "lacks the port") for p in unresolved)),
                    {"targetPort": target, "podsWithout": [o.name(p) for p in unresolved]},
                    (f"Name a containerPort {target!r} in the pod template, or set targetPort to the port number.",),
                    port=port.get("port")))
            elif isinstance(target, int) and declared - {None} and target not in declared:
                findings.append(Problem(
                    f"Service {o.namespace(svc)}/{o.name(svc)} port {port.get('port')} targets port "
                    f"{target}, which no container of its pods declares (declared: "
                    f"{', '.join(map(str, sorted(d for d in declared if d is not None)))}); Kubernetes still sends "
                    "traffic there, but check that the application really listens on it", ctx.target.host,
                    (_svc(svc),), {"targetPort": target, "declared": sorted(d for d in declared if d is not None)},
                    ("Declare the port in the container spec, or fix the Service's targetPort.",),
                    port=port.get("port"), severity=Severity.INFO))
    return findings


@check("MD508", needs=("services", "pods"), applies=has_workloads)
def port_reserved_by_istio(ctx: CheckContext) -> list[Problem]:
    findings = []
    for pod, container in app_containers(ctx):
        for cp in o.as_list(container.get("ports")):
            number = o.as_dict(cp).get("containerPort")
            if number in proto.RESERVED_PORTS:
                findings.append(Problem(f"Container {container.get('name')} of pod {o.namespace(pod)}/{o.name(pod)} "
                    f"uses port {number}, which the sidecar uses for {proto.RESERVED_PORTS[number]}",
                    ctx.target.host, (ResourceRef("Pod", o.namespace(pod), o.name(pod), "port collision"),),
                    {"container": container.get("name"), "port": number, "istioUse": proto.RESERVED_PORTS[number]},
                    (), port=number))
    return findings
