"""The model on its own, from snapshots built in memory: host names, host resolution, mesh settings.

Expectations come from ISTIO-SEMANTICS.md and FINDINGS.md "Host input", not from running the code.
"""

from __future__ import annotations

from typing import Any

import pytest

from kubectl_meshdoctor.cluster.resources import BY_KEY, CollectionStatus, State, resource_for
from kubectl_meshdoctor.errors import HostNotFound
from kubectl_meshdoctor.mesh import hosts
from kubectl_meshdoctor.mesh.settings import read_mesh_settings
from kubectl_meshdoctor.mesh.target import CONFIG_ONLY, EXTERNAL, SERVICE, resolve_target
from kubectl_meshdoctor.mesh.version import IstioVersion
from kubectl_meshdoctor.snapshot.model import Snapshot

D = "cluster.local"


def world(*objects: dict[str, Any]) -> Snapshot:
    keyed = [(resource_for(o["apiVersion"], o["kind"]).key, o) for o in objects]
    statuses = {k: CollectionStatus(k, State.OK) for k in BY_KEY}
    return Snapshot.build(keyed, statuses, "offline")


def svc(name: str, ns: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": ns},
            "spec": {"selector": {"app": name}}}


def vs(name: str, ns: str, hosts_: list[str], gateways: list[str] | None = None,
       dest: str = "", created: str = "2026-01-01T00:00:00Z") -> dict[str, Any]:
    spec: dict[str, Any] = {"hosts": hosts_}
    if gateways is not None:
        spec["gateways"] = gateways
    if dest:
        spec["http"] = [{"route": [{"destination": {"host": dest}}]}]
    return {"apiVersion": "networking.istio.io/v1", "kind": "VirtualService",
            "metadata": {"name": name, "namespace": ns, "creationTimestamp": created}, "spec": spec}


# ---------------------------------------------------------------------------------------- host names

@pytest.mark.parametrize(("host", "ns", "expected"), [
    ("reviews", "bookinfo", "reviews.bookinfo.svc.cluster.local"),   # short: the declaring namespace
    ("reviews.foo", "bookinfo", "reviews.foo"),                      # a dot: taken literally
    ("reviews.foo.svc.cluster.local", "bookinfo", "reviews.foo.svc.cluster.local"),
    ("*", "bookinfo", "*"),
    ("*.example.com", "bookinfo", "*.example.com"),
    ("10.0.0.7", "bookinfo", "10.0.0.7"),
])
def test_short_names_resolve_in_the_declaring_namespace_only(host, ns, expected):
    assert hosts.resolve(host, ns, D) == expected


def test_wildcards():
    assert hosts.wildcard_matches("*.example.com", "shop.example.com")
    assert hosts.wildcard_matches("*.example.com", "a.b.example.com")
    assert not hosts.wildcard_matches("*.example.com", "example.com")
    assert hosts.wildcard_matches("*", "anything.at.all")


# ----------------------------------------------------------------------------------- host resolution

SNAP = world(svc("reviews", "bookinfo"), svc("ratings", "bookinfo"), svc("myapp", "com"),
             vs("myapp", "ingress", ["myapp.com", "shop.example.org"], ["myapp-gw"],
                dest="reviews.bookinfo.svc.cluster.local"),
             vs("wild", "ingress", ["*.apps.example.net"], ["ingress/gw"], dest="ratings.bookinfo.svc.cluster.local"),
             vs("mesh-only", "bookinfo", ["internal.example.com"]),
             {"apiVersion": "networking.istio.io/v1", "kind": "DestinationRule",
              "metadata": {"name": "legacy", "namespace": "old"}, "spec": {"host": "gone"}})


@pytest.mark.parametrize("text", ["reviews", "reviews.bookinfo", "reviews.bookinfo.svc",
                                  "reviews.bookinfo.svc.cluster.local", "Reviews.Bookinfo."])
def test_every_spelling_of_a_service_resolves_to_its_fqdn(text):
    target = resolve_target(SNAP, text, "bookinfo" if text == "reviews" else "default", D)
    assert (target.kind, target.host, target.namespace) == (SERVICE, "reviews.bookinfo.svc.cluster.local", "bookinfo")
    assert [(s.name, s.namespace) for s in target.services] == [("reviews", "bookinfo")]


def test_external_gateway_host_resolves_to_its_backends():
    target = resolve_target(SNAP, "shop.example.org", "default", D)
    assert (target.kind, target.host, target.namespace) == (EXTERNAL, "shop.example.org", "ingress")
    assert [(s.name, s.namespace) for s in target.services] == [("reviews", "bookinfo")]


def test_host_matched_by_a_wildcard_gateway_host():
    target = resolve_target(SNAP, "store.apps.example.net", "default", D)
    assert target.kind == EXTERNAL
    assert [(s.name, s.namespace) for s in target.services] == [("ratings", "bookinfo")]


def test_service_wins_over_a_gateway_host_of_the_same_spelling_and_says_so():
    target = resolve_target(SNAP, "myapp.com", "default", D)
    assert (target.kind, target.host) == (SERVICE, "myapp.com.svc.cluster.local")
    assert target.notes and "Service com/myapp" in target.notes[0]


def test_mesh_only_virtualservice_host_is_configuration_only():
    target = resolve_target(SNAP, "internal.example.com", "default", D)
    assert target.kind == CONFIG_ONLY and target.services == ()


def test_destinationrule_only_host_is_configuration_only_in_its_namespace():
    target = resolve_target(SNAP, "gone", "old", D)
    assert (target.kind, target.host, target.namespace) == (CONFIG_ONLY, "gone.old.svc.cluster.local", "old")


def test_unknown_host_lists_up_to_three_suggestions():
    with pytest.raises(HostNotFound) as err:
        resolve_target(SNAP, "reviews", "default", D)
    assert err.value.suggestions == ["reviews.bookinfo"]
    with pytest.raises(HostNotFound) as err:
        resolve_target(SNAP, "ratngs", "bookinfo", D)
    assert err.value.suggestions[0] == "ratings.bookinfo"


# -------------------------------------------------------------------------------------- mesh settings

def istiod(tag: str, rev: str = "") -> dict[str, Any]:
    labels = {"app": "istiod", "istio": "pilot", **({"istio.io/rev": rev} if rev else {})}
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": f"istiod{'-' + rev if rev else ''}", "namespace": "istio-system", "labels": labels},
            "spec": {"template": {"spec": {"containers": [
                {"name": "discovery", "image": f"docker.io/istio/pilot:{tag}"}]}}}}


def mesh_cm(name: str, mesh: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": "istio-system"},
            "data": {"mesh": mesh}}


@pytest.mark.parametrize(("tag", "auto"), [("1.3.8", False), ("1.4.6", False), ("1.5.4", True),
                                           ("1.6.0", True), ("1.22.3-distroless", True)])
def test_auto_mtls_default_follows_the_version(tag, auto):
    settings = read_mesh_settings(world(istiod(tag), mesh_cm("istio", "{}")))
    assert settings.auto_mtls is auto
    assert settings.version == IstioVersion.parse(tag)


def test_explicit_mesh_settings_win_over_defaults():
    settings = read_mesh_settings(world(istiod("1.22.3"), mesh_cm(
        "istio", "enableAutoMtls: false\nrootNamespace: mesh-root\ndefaultDestinationRuleExportTo: ['.']\n")))
    assert (settings.auto_mtls, settings.root_namespace, settings.default_dr_export_to) == (False, "mesh-root", (".",))
    assert settings.notes == ()


def test_revisioned_control_plane_reads_its_own_config_map():
    settings = read_mesh_settings(world(istiod("1.24.1", rev="canary"),
                                        mesh_cm("istio-canary", "enableAutoMtls: false")))
    assert settings.control_plane.revision == "canary" and settings.auto_mtls is False


def test_unknown_control_plane_is_admitted_in_notes():
    settings = read_mesh_settings(world(svc("reviews", "bookinfo")))
    assert settings.version is None and settings.auto_mtls is True and settings.root_namespace == "istio-system"
    assert any("Istio version unknown" in n for n in settings.notes)
    assert any("auto mTLS assumed on" in n for n in settings.notes)


def test_a_snapshot_grown_by_a_later_round_is_the_one_built_from_everything_at_once():
    """LiveReader indexes only what a later round adds (Snapshot.grown): same objects, same order in
    every index, later objects replacing those of the same identity, and the new statuses."""
    def obj(kind: str, ns: str, name: str, **extra: Any) -> dict[str, Any]:
        return {"kind": kind, "metadata": {"namespace": ns, "name": name, **extra}}

    ok = CollectionStatus("pods", State.OK, "in all namespaces")
    first = [("pods", obj("Pod", "a", "p1")), ("services", obj("Service", "a", "s")), ("pods", obj("Pod", "b", "p2"))]
    later = [("configmaps", obj("ConfigMap", "istio-system", "istio")),
             ("pods", obj("Pod", "a", "p1", labels={"v": "2"})), ("pods", obj("Pod", "a", "p3"))]
    statuses = {"pods": ok, "services": ok, "configmaps": ok}
    grown = Snapshot.build(first, {"pods": ok, "services": ok}, "live").grown(later, statuses)
    whole = Snapshot.build([*first, *later], statuses, "live")
    for key in ("pods", "services", "configmaps"):
        assert grown.all(key) == whole.all(key)
        for ns in ("a", "b", "istio-system"):
            assert grown.in_namespace(key, ns) == whole.in_namespace(key, ns)
    assert grown.get("pods", "a", "p1") == {"kind": "Pod", "metadata": {"namespace": "a", "name": "p1",
                                                                         "labels": {"v": "2"}}}
    assert [o["metadata"]["name"] for o in grown.all("pods")] == ["p1", "p2", "p3"]
    assert grown.status("configmaps").ok and dict(grown.statuses) == dict(whole.statuses)
