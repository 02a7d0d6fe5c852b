"""Never a wrong all-clear, and secrets stay out.

The matrix is generated from the registry: every collection any check declares, made forbidden,
failing (HTTP 500) or not served (404), against a world where every check applies. Each check that
needs the collection must come back skipped (or not-run) and the run must not exit 0. A new check is
covered by adding it to the registry.
"""

from __future__ import annotations

import pytest
import yaml

from kubectl_meshdoctor.checks.context import probed
from kubectl_meshdoctor.checks.registry import CHECKS
from kubectl_meshdoctor.cluster.resources import BY_KEY
from kubectl_meshdoctor.run.readplan import CONFIGURATION
from tests.conftest import EXAMPLES, objects_of, offline, run_cli
from tests.fakeapi.server import KINDS, Access

WORLD = EXAMPLES / "bookinfo-healthy"
# So that the Gateway API checks apply too: an accepted HTTPRoute to productpage on a Gateway API Gateway.
GATEWAY_API_ROUTE = list(yaml.safe_load_all("""
apiVersion: v1
kind: Namespace
metadata: {name: istio-ingress}
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: ingress, namespace: istio-ingress}
spec:
  gatewayClassName: istio
  listeners:
  - {name: http, port: 80, protocol: HTTP, hostname: "*.example.com", allowedRoutes: {namespaces: {from: All}}}
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: productpage, namespace: bookinfo}
spec:
  parentRefs: [{name: ingress, namespace: istio-ingress}]
  hostnames: [shop.example.com]
  rules: [{backendRefs: [{name: productpage, port: 9080}]}]
"""))
HARMLESS_CHANGE = EXAMPLES / "bookinfo-healthy" / "50-networking.yaml"  # makes MD304 applicable
PROBE_ONLY = {key for c in CHECKS if c.applies is probed for key in c.collections} - {
    key for c in CHECKS if c.applies is not probed for key in c.collections}
# Read only with --probe, so without it their checks are not-run and exit 0 is right: test_probes.py covers them.
COLLECTIONS = sorted({key for c in CHECKS for key in c.collections} - PROBE_ONLY)
SUBRESOURCES = {key for key in COLLECTIONS if "/" in BY_KEY[key].path_name}
ALL_PLURALS = {k.plural for k in KINDS}


def users_of(collection: str) -> list[str]:
    return [c.code for c in CHECKS if collection in c.collections]


def denied(collection: str) -> dict:
    """What to tell the fake server so that the collection, and its alternatives in the needs, fail."""
    if collection == "gatewaypods":  # pods may be read in the app namespace, not cluster-wide
        return {"allow": frozenset({(p, None) for p in ALL_PLURALS - {"pods"}} | {("pods", "bookinfo")})}
    keys = {key for c in CHECKS for need in c.needs if collection in need for key in need}
    return {"plurals": {BY_KEY[key].path_name for key in keys}}


def test_the_matrix_covers_every_declared_collection():
    assert {"services", "pods", "endpoints", "virtualservices", "destinationrules", "gateways", "gatewaypods",
            "peerauthentications", "policies"} <= set(COLLECTIONS)


@pytest.mark.parametrize("failure", ["forbidden", "failing", "not-served"])
@pytest.mark.parametrize("collection", COLLECTIONS)
def test_missing_data_is_never_an_all_clear(collection, failure, live):
    if collection in SUBRESOURCES and failure == "not-served":
        pytest.skip(reason="pods/log is always served; a 404 there means that pod is gone, which skips only that pod")
    spec = denied(collection)
    world = [*objects_of([WORLD]), *GATEWAY_API_ROUTE]
    if "allow" in spec:
        if failure != "forbidden":
            pytest.skip(reason="gateway pods share the pods endpoint; failing/not-served pods are covered by `pods`")
        cluster = live(world, tokens={"user": Access("user", spec["allow"])})
    elif failure == "forbidden":
        allow = frozenset((p, None) for p in ALL_PLURALS - spec["plurals"])
        cluster = live(world, tokens={"user": Access("user", allow)})
    else:
        code = 500 if failure == "failing" else 404
        cluster = live(world, failures={p: code for p in spec["plurals"]})
    token = "user" if failure == "forbidden" else "admin"
    result = cluster.run("host", "productpage", "-n", "bookinfo", "-f", str(HARMLESS_CHANGE), "-o", "json",
                         token=token)
    assert "Traceback" not in result.stderr, result.stderr
    if failure == "not-served" and BY_KEY[collection].none_unless_served:
        # not data missing but an answer: without the CRD no such object exists (cluster/resources.py)
        statuses = {c["code"]: c["status"] for c in result.json()["checks"]}
        assert all(statuses[code] in ("passed", "not-run") for code in users_of(collection)), statuses
        return
    assert result.exit_code != 0, f"{collection} {failure}: exit 0"
    if result.exit_code in (2, 3):  # nothing could be analysed at all: an error, not a report
        return
    statuses = {c["code"]: c for c in result.json()["checks"]}
    for code in users_of(collection):
        assert statuses[code]["status"] in ("skipped", "not-run"), (collection, failure, statuses[code])


# ------------------------------------------------------------------------------------ secrets stay out

SEEDED = ("AKIAIOSFODNN7SEEDED1", "hunter2-seeded-password", "c2VlZGVkLXRva2Vu")


def secret_world(tmp_path):
    world = tmp_path / "secrets.yaml"
    world.write_text(f"""apiVersion: v1
kind: Secret
metadata: {{name: db-credentials, namespace: bookinfo}}
stringData: {{password: {SEEDED[1]}, aws: {SEEDED[0]}}}
data: {{token: {SEEDED[2]}}}
---
apiVersion: v1
kind: ConfigMap
metadata: {{name: app-config, namespace: bookinfo}}
data: {{settings.yaml: "password: {SEEDED[1]}\\nkey: {SEEDED[0]}"}}
""")
    return world


@pytest.mark.parametrize("output", ["text", "json", "yaml", "markdown", "jsonpath={.findings[*].message}"])
@pytest.mark.parametrize("scenario", ["bookinfo", "bookinfo-healthy"])
def test_seeded_secrets_never_appear_in_any_output(tmp_path, live, output, scenario):
    secrets = secret_world(tmp_path)
    world = EXAMPLES / scenario
    results = [run_cli(command, "reviews", "-n", "bookinfo", *offline(world, secrets), "-o", output)
               for command in ("host", "tls")]
    cluster = live(objects_of([world, secrets]))
    results += [cluster.run(command, "reviews", "-n", "bookinfo", "-o", output) for command in ("host", "tls")]
    for result in results:
        for value in SEEDED:
            assert value not in result.stdout and value not in result.stderr
    assert not cluster.api.requests_for("/secrets")
    # ConfigMaps are listed only where NGINX configs may call the host, and only those are kept
    assert {r.path for r in cluster.cluster.requests if r.path.endswith("/configmaps") and
            r.query.get("fieldSelector") != "metadata.name=istio"} <= {"/api/v1/namespaces/bookinfo/configmaps"}


# --------------------------------------------------------------------- complete, partial, none: the matrix
# `none` is the test above (every collection forbidden, failing or not served). `partial`: a collection
# read in some namespaces only (listing it cluster-wide is forbidden, so it is read again in the user's
# and the root namespace), or some pods' logs unreadable (a refusing kubelet). `complete`: everything read.

CLUSTER_WIDE = [c for c in COLLECTIONS if c in CONFIGURATION and c not in ("policies", "meshpolicies")]
# (the legacy authentication.istio.io kinds are not served by this world's Istio: nothing to be partial)


@pytest.mark.parametrize("collection", CLUSTER_WIDE)
def test_partly_readable_data_is_never_a_pass(collection, live):
    plural = BY_KEY[collection].path_name
    allow = frozenset({(p, None) for p in ALL_PLURALS - {plural}} | {(plural, "bookinfo"), (plural, "istio-system")})
    cluster = live(objects_of([WORLD]), tokens={"user": Access("user", allow)})
    result = cluster.run("host", "productpage", "-n", "bookinfo", "-f", str(HARMLESS_CHANGE), "-o", "json",
                         token="user")
    assert result.exit_code == 4, result.stderr
    statuses = {c["code"]: c for c in result.json()["checks"]}
    for code in users_of(collection):
        assert statuses[code]["status"] in ("partial", "failed", "not-run"), (collection, statuses[code])
        if statuses[code]["status"] == "partial":
            assert f"partly read: list {BY_KEY[collection].describe()} in bookinfo, istio-system only" \
                in statuses[code]["reason"]


def test_partly_readable_logs_are_never_a_pass(live):
    objects = objects_of([WORLD])
    sick = next(o["metadata"]["name"] for o in objects if o["kind"] == "Pod"
                and o["metadata"]["name"].startswith("productpage"))
    cluster = live(objects, sick_kubelets={("bookinfo", sick): "refused"})
    result = cluster.run("host", "productpage", "-n", "bookinfo", "-o", "json")
    statuses = {c["code"]: c for c in result.json()["checks"]}
    assert {statuses[c]["status"] for c in users_of("podlogs")} <= {"partial", "failed", "not-run"}
    assert statuses["MD601"]["status"] == "partial" and sick in statuses["MD601"]["reason"]
    assert result.exit_code == 4
    # every output says so: the verdict leads with it, and JUnit shows the check as skipped, not passed
    text = cluster.run("host", "productpage", "-n", "bookinfo").stdout
    markdown = cluster.run("host", "productpage", "-n", "bookinfo", "-o", "markdown").stdout
    assert text.splitlines()[3].startswith("‼ INCOMPLETE: 2 checks (2 saw only part of their data)")  # MD601, MD702
    assert "**INCOMPLETE: " in markdown and "no problems found" not in text + markdown
    junit = cluster.run("host", "productpage", "-n", "bookinfo", "-o", "junit").stdout
    md601 = junit[junit.index("MD601 http10-rejected"):].split("</testcase>")[0]
    assert '<skipped message="partial: ' in md601


def test_complete_data_passes_or_says_why_not(live):
    result = live(objects_of([WORLD])).run("host", "productpage", "-n", "bookinfo", "-o", "json")
    statuses = {c["code"]: c["status"] for c in result.json()["checks"]}
    assert set(statuses.values()) <= {"passed", "not-run"} and "passed" in statuses.values()
    assert result.exit_code == 0
