"""Service and pod requirements ("Route rules have no effect on my application").

The foundation's two checks live here: a Service with no ready endpoint, and pods that run outside
the mesh because they have no sidecar.
"""

from __future__ import annotations

from typing import Any

from kubectl_meshdoctor.checks.base import check
from kubectl_meshdoctor.checks.context import CheckContext, app_containers, has_workloads
from kubectl_meshdoctor.checks.findings import Problem, ResourceRef
from kubectl_meshdoctor.mesh import workloads as w
from kubectl_meshdoctor.snapshot import objects as o


def _ref(kind: str, obj: dict[str, Any], role: str = "") -> ResourceRef:
    return ResourceRef(kind, o.namespace(obj), o.name(obj), role)


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
        resources = [_ref("Service", svc)] + ([_ref("Endpoints", endpoints)] if endpoints else [])
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
            resources += [_ref("Pod", p, "not ready") for p in pods or []]
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


@check("MD502", needs=("services", "pods"), applies=has_workloads)
def pod_without_sidecar(ctx: CheckContext) -> list[Problem]:
    findings = []
    for svc in ctx.workload_services:
        ns = o.namespace(svc)
        pods = w.service_pods(ctx.snapshot, svc)
        bare = [p for p in pods if not w.has_sidecar(p) or o.spec(p).get("hostNetwork") is True
                or w.sidecar_not_ready(p)]
        if not bare:
            continue
        injection = w.namespace_injection(ctx.snapshot, ns) if ctx.snapshot.readable("namespaces") else None
        reasons = {o.name(p): _why_no_sidecar(p, ns, injection) for p in bare}
        message = (f"{len(bare)} of {len(pods)} pods behind Service {ns}/{o.name(svc)} run without a working "
                   "istio-proxy sidecar, so mesh routing and mTLS do not apply to them: "
                   + ", ".join(f"{n} ({why})" for n, why in reasons.items()))
        findings.append(Problem(message, ctx.target.host,
            (_ref("Service", svc), *(_ref("Pod", p, "no sidecar") for p in bare)),
            {"podsWithoutSidecar": reasons, "pods": len(pods), "namespaceInjection": injection},
            tuple(_sidecar_remediation(bare, ns, injection))))
    return findings


def _why_no_sidecar(pod: dict[str, Any], ns: str, injection: str | None) -> str:
    if o.spec(pod).get("hostNetwork") is True:
        return "hostNetwork pods are never injected"
    if w.has_sidecar(pod):
        return f"the istio-proxy sidecar is not ready ({w.sidecar_not_ready(pod)})"
    for source in (o.annotations_of(pod), o.labels(pod)):
        if source.get("sidecar.istio.io/inject", "").lower() == "false":
            return "injection disabled by sidecar.istio.io/inject=false"
    if injection == "disabled":
        return f"namespace {ns} has istio-injection=disabled"
    if injection == "":
        return f"namespace {ns} has no istio-injection or istio.io/rev label"
    return "no istio-proxy container; created before injection was enabled?"


def _owner(pod: dict[str, Any]) -> str:
    """`deployment/NAME` for a pod of a ReplicaSet (the pod-template hash dropped), else `pod/NAME`."""
    for ref in o.as_list(o.meta(pod).get("ownerReferences")):
        ref = o.as_dict(ref)
        owner = o.as_str(ref.get("name"))
        if ref.get("kind") == "ReplicaSet" and "-" in owner:
            return f"deployment/{owner.rsplit('-', 1)[0]}"
        if ref.get("kind") in ("StatefulSet", "DaemonSet") and owner:
            return f"{ref['kind'].lower()}/{owner}"
    return f"pod/{o.name(pod)}"


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
    owners = sorted({_owner(p) for p in bare if o.spec(p).get("hostNetwork") is not True and not w.has_sidecar(p)})
    if owners:
        steps.append("Recreate the pods so the injector adds the sidecar: "
                     + "; ".join(f"`kubectl rollout restart {x} -n {ns}`" if not x.startswith("pod/")
                                 else f"`kubectl delete {x} -n {ns}`" for x in owners) + ".")
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


@check("MD504", needs=("services", "pods"), applies=has_workloads)
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
