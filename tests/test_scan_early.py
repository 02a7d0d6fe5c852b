"""`scan -A` analyses the hosts of a namespace as soon as its pods are in (run/early.py): sooner, never
differently. Every world is scanned through the fake API server serving two pods a page, each page a
little slow (so namespaces complete one after another while the LIST goes on, after the rest is read),
with and without early analysis, and the two reports must be the same, byte for byte."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from kubectl_meshdoctor.cluster.resources import CollectionStatus, State
from kubectl_meshdoctor.snapshot.model import Snapshot
from kubectl_meshdoctor.snapshot.partial import PartialSnapshot, Tainted, Watch
from tests.conftest import EXAMPLES, Result, objects_of, run_cli, scenario_files
from tests.fakeapi.server import Access
from tests.worlds import EXAMPLE_WORLDS, SCENARIO_WORLDS, world_files, world_id

DEMO = EXAMPLES / "bookinfo"
WORLDS = [*SCENARIO_WORLDS, *EXAMPLE_WORLDS]


def scan(cluster: Any, tmp_path: Path, early: bool, token: str = "admin") -> tuple[Result, dict[str, Any]]:
    stats = tmp_path / f"stats-{early}.json"
    config = cluster.kubeconfig if token == "admin" else cluster.kubeconfig_for(token)
    result = run_cli("scan", "-A", "-o", "json", "--kubeconfig", str(config),
                     env={"MESHDOCTOR_EARLY": "1" if early else "0", "MESHDOCTOR_STATS": str(stats),
                          "MESHDOCTOR_JOBS": "1"})
    return result, json.loads(stats.read_text())


def same_scan(cluster: Any, tmp_path: Path, token: str = "admin") -> dict[str, Any]:
    """Scans with and without early analysis; the reports must be the same. The early run's stats."""
    early, stats = scan(cluster, tmp_path, True, token)
    late, late_stats = scan(cluster, tmp_path, False, token)
    assert (early.exit_code, early.stdout) == (late.exit_code, late.stdout)
    assert late_stats["early"] == "not tried" and late_stats["hostsAnalysedEarly"] == 0
    return stats


@pytest.mark.parametrize("world", WORLDS, ids=lambda p: world_id(p) if p.suffix else f"examples/{p.name}")
def test_early_analysis_gives_the_same_report(world: Path, live: Any, tmp_path: Path) -> None:
    files = world_files(world) if world.suffix else [world]
    same_scan(live(objects_of(files), page_cap=2, slow_pages=0.01), tmp_path)


def test_hosts_are_analysed_while_the_pods_arrive(live: Any, tmp_path: Path) -> None:
    """bookinfo's pods arrive before those of the namespaces after it: its hosts are done before the LIST
    ends. (Each answer takes 20 ms and a namespace listed last holds thirty pods: the pods take longer to
    list than the rest, as in a big cluster.) A host routed through the ingress gateway asks where the
    gateway's proxies run: in istio-system, listed after bookinfo, so none are in yet and it waits for
    the end (test_a_host_behind_a_gateway_... has them in first)."""
    filler = [{"apiVersion": "v1", "kind": "Pod", "metadata": {"namespace": "zz-batch", "name": f"job-{i}"}}
              for i in range(30)]
    stats = same_scan(live([*objects_of([DEMO]), *filler], page_cap=1, latency=0.02), tmp_path)
    assert stats["early"] == "kept"
    assert 0 < stats["hostsAnalysedEarly"] < stats["hosts"]


def test_pods_that_do_not_come_namespace_by_namespace_undo_the_early_work(live: Any, tmp_path: Path) -> None:
    """A server that lists in another order than key order: no namespace can be known complete."""
    stats = same_scan(live(objects_of([DEMO]), page_cap=1, by_name_only=True), tmp_path)
    assert stats["early"].endswith("did not arrive together") and stats["hostsAnalysedEarly"] == 0


def test_a_list_that_starts_over_undoes_the_early_work(live: Any, tmp_path: Path) -> None:
    """The first continue token expires (410): the pods LIST starts over; the answer does not change.
    (Which LIST meets the expired token depends on the order requests reach the server.)"""
    stats = same_scan(live(objects_of([DEMO]), page_cap=1, expire_continue=True), tmp_path)
    assert stats["early"] in ("kept", "the pods LIST started over")


def test_forbidden_pods_are_judged_as_without_early_analysis(live: Any, tmp_path: Path) -> None:
    reader = Access("oncall", frozenset({(p, None) for p in (
        "services", "endpoints", "namespaces", "deployments", "configmaps", "virtualservices",
        "destinationrules", "gateways", "serviceentries", "sidecars", "peerauthentications")}))
    cluster = live(objects_of(scenario_files("workloads/ready")), tokens={"oncall": reader}, page_cap=1)
    stats = same_scan(cluster, tmp_path, token="oncall")
    assert stats["hostsAnalysedEarly"] == 0


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="counts open descriptors through Linux's /proc")
def test_a_scan_leaves_no_connection_open(live: Any, tmp_path: Path) -> None:
    """The reader and its background LIST pointed at each other; a scan freezes what is alive for the
    collector, so that cycle was never collected and kept the reader's sockets open: ~26 descriptors a
    scan, until select() failed past 1,024 in a later test."""
    cluster = live(objects_of([DEMO]), page_cap=2, slow_pages=0.01)
    scan(cluster, tmp_path, True)
    before = len(list(Path("/proc/self/fd").iterdir()))
    for _ in range(3):
        scan(cluster, tmp_path, True)
    assert len(list(Path("/proc/self/fd").iterdir())) <= before + 2


# -------------------------------------------------------------------------------- the partial snapshot

def pod(namespace: str, name: str, app: str) -> dict[str, Any]:
    return {"metadata": {"namespace": namespace, "name": name, "labels": {"app": app}}}


def partial(*complete: str) -> PartialSnapshot:
    statuses = {"pods": CollectionStatus("pods", State.OK, "in all namespaces")}
    base = PartialSnapshot.over(Snapshot.build([], statuses, "live"), statuses, Watch())
    pods = {"a": [pod("a", "a1", "x"), pod("a", "a2", "y")], "b": [pod("b", "b1", "x")]}
    return base.with_namespaces({ns: pods[ns] for ns in complete})


def test_reading_pods_of_a_complete_namespace_does_not_taint() -> None:
    snapshot = partial("a")
    assert [p["metadata"]["name"] for p in snapshot.select("pods", "a", {"app": "x"})] == ["a1"]
    assert snapshot.get("pods", "a", "a2") is not None and len(snapshot.in_namespace("pods", "a")) == 2
    assert not snapshot.watch.tainted


@pytest.mark.parametrize("read", [
    lambda s: s.in_namespace("pods", "b"), lambda s: s.get("pods", "b", "b1"),
    lambda s: s.select("pods", "b", {"app": "x"}), lambda s: s.all("pods"), lambda s: list(s.objects())])
def test_reading_pods_that_may_still_come_taints(read: Any) -> None:
    snapshot = partial("a")
    read(snapshot)
    assert snapshot.watch.tainted


def test_work_told_to_stop_at_its_first_taint_stops_there() -> None:
    snapshot = partial("a")
    snapshot.watch.stop_at_taint = True
    snapshot.in_namespace("pods", "a")
    with pytest.raises(Tainted):
        snapshot.derived("b", lambda: snapshot.in_namespace("pods", "b"))
    assert snapshot.watch.making == [] and snapshot.derived("b", lambda: "made again") == "made again"


def test_reading_other_collections_never_taints() -> None:
    snapshot = partial()
    snapshot.all("services"), snapshot.select_everywhere("services", {"app": "x"})
    assert not snapshot.watch.tainted


def test_a_value_made_from_pods_that_may_still_come_taints_whoever_uses_it() -> None:
    snapshot = partial("a")
    made = snapshot.derived("everywhere", lambda: len(snapshot.all("pods")))
    snapshot.watch.tainted = False  # another host
    assert snapshot.derived("everywhere", lambda: -1) == made and snapshot.watch.tainted
    # nor is it carried to the next snapshot, where it would be wrong
    grown = snapshot.with_namespaces({"b": [pod("b", "b1", "x")]})
    assert grown.derived("everywhere", lambda: len(grown.all("pods"))) == 3


def test_a_value_made_by_untainted_work_is_shared_and_carried() -> None:
    snapshot = partial("a")
    snapshot.derived("in-a", lambda: len(snapshot.in_namespace("pods", "a")))
    snapshot.watch.tainted = False
    assert snapshot.derived("in-a", lambda: -1) == 2 and not snapshot.watch.tainted
    grown = snapshot.with_namespaces({"b": [pod("b", "b1", "x")]})
    assert grown.derived("in-a", lambda: -1) == 2 and not grown.watch.tainted and grown.complete == {"a", "b"}


def test_pods_are_read_from_the_latest_snapshot_whichever_is_asked() -> None:
    """A value carried over may hold an earlier snapshot: what it reads there is what the latest holds,
    and tainted only if the latest cannot tell."""
    earlier = partial("a")
    latest = earlier.with_namespaces({"b": [pod("b", "b1", "x")]})
    assert [p["metadata"]["name"] for p in earlier.select("pods", "b", {"app": "x"})] == ["b1"]
    assert not latest.watch.tainted
    earlier.in_namespace("pods", "c")
    assert latest.watch.tainted
    whole = latest.with_namespaces({}, whole=True)
    whole.watch.tainted = False
    assert len(earlier.all("pods")) == 3 and not whole.watch.tainted


def test_a_value_made_by_tainted_work_is_not_carried() -> None:
    """It may rest on pods the work read before making it (passed in, not read by the making)."""
    snapshot = partial("a")
    seen = snapshot.in_namespace("pods", "b")  # tainted: b is not complete
    snapshot.derived("count", lambda: len(seen))
    snapshot.watch.tainted = False
    assert snapshot.derived("count", lambda: -1) == 0 and not snapshot.watch.tainted  # same snapshot: shared
    grown = snapshot.with_namespaces({"b": [pod("b", "b1", "x")]})
    assert grown.derived("count", lambda: len(grown.in_namespace("pods", "b"))) == 1  # made again


# ----------------------------------------------------------------------- selections assumed, then checked

def names(pods: list[dict[str, Any]]) -> list[str]:
    return [p["metadata"]["name"] for p in pods]


def test_selecting_in_every_namespace_answers_from_the_complete_ones_and_assumes_it() -> None:
    """Where a Gateway's proxies run: only every pod can tell, yet the pods in nearly always are the
    answer. The answer is assumed, not a taint; the whole read says whether it held."""
    snapshot = partial("a")
    assert names(snapshot.select_everywhere("pods", {"app": "x"})) == ["a1"] and not snapshot.watch.tainted
    assumed = dict(snapshot.watch.assumed)
    assert len(assumed) == 1
    same = snapshot.with_namespaces({"b": [pod("b", "b2", "y")]}, whole=True)
    assert same.holds(assumed) and names(same.select_everywhere("pods", {"app": "x"})) == ["a1"]
    belied = snapshot.with_namespaces({"b": [pod("b", "b1", "x")]}, whole=True)
    assert not belied.holds(assumed) and names(belied.select_everywhere("pods", {"app": "x"})) == ["a1", "b1"]


def test_a_value_made_after_an_assumption_passes_it_on_here_and_in_the_next_snapshot() -> None:
    """It may rest on the answer, passed in: whoever uses it (another host) stands on it too."""
    snapshot = partial("a")
    proxies = snapshot.select_everywhere("pods", {"app": "x"})
    snapshot.derived("proxy-count", lambda: len(proxies))
    assumed = dict(snapshot.watch.assumed)
    snapshot.watch.reset()  # another host
    assert snapshot.derived("proxy-count", lambda: -1) == 1 and snapshot.watch.assumed == assumed
    grown = snapshot.with_namespaces({"b": [pod("b", "b2", "y")]})
    grown.watch.reset()
    assert grown.derived("proxy-count", lambda: -1) == 1 and grown.watch.assumed == assumed
    assert not grown.watch.tainted


def test_a_selection_assumed_by_one_work_is_not_assumed_by_what_it_indexes() -> None:
    """The namespaces' own selections that make the answer rest on nothing assumed: a host of namespace a
    that later selects there assumes nothing."""
    snapshot = partial("a")
    snapshot.select_everywhere("pods", {"app": "y"})
    snapshot.select_everywhere("pods", {"app": "x"})
    snapshot.watch.reset()
    assert names(snapshot.select("pods", "a", {"app": "x"})) == ["a1"]
    assert snapshot.watch.assumed == {} and not snapshot.watch.tainted


def gateway_pod(namespace: str, name: str) -> dict[str, Any]:
    """An ingress gateway proxy, as the Gateway `bookinfo-gateway` selects them (istio: ingressgateway)."""
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"namespace": namespace, "name": name, "labels": {"istio": "ingressgateway"}},
            "spec": {"containers": [{"name": "istio-proxy", "image": "istio/proxyv2:1.22.0"}]},
            "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]}}


def test_a_host_behind_a_gateway_is_analysed_early_and_kept_only_if_its_proxies_stay_where_they_were(
        live: Any, tmp_path: Path) -> None:
    """bookinfo, in a namespace listed after istio-system (`shop`): productpage is routed through the
    ingress gateway, and its analysis asks where the gateway's proxies run. Answered from the namespaces
    in (istio-system) and assumed, it stands. With a second deployment of the gateway in a namespace
    listed after the hosts' (zz-edge) the whole read belies it: productpage is analysed again. The
    report is the same as without early analysis either way."""
    shop = json.loads(json.dumps(objects_of([DEMO])).replace("bookinfo", "shop"))
    filler = [{"apiVersion": "v1", "kind": "Pod", "metadata": {"namespace": "zz-batch", "name": f"job-{i}"}}
              for i in range(30)]
    held = same_scan(live([*shop, *filler], page_cap=1, latency=0.02), tmp_path)
    belied = same_scan(live([*shop, *filler, gateway_pod("zz-edge", "edge-gateway-1")], page_cap=1, latency=0.02),
                       tmp_path)
    services = 4  # productpage, reviews, ratings, details: every Service; the gateway's host waits for the end
    assert held["early"] == belied["early"] == "kept" and held["hosts"] == services + 1
    assert (held["hostsAnalysedEarly"], belied["hostsAnalysedEarly"]) == (services, services - 1)


def test_a_host_whose_gateway_proxies_have_not_arrived_waits_for_every_pod() -> None:
    """No pod selected yet: their namespace is still to come. Assuming none would be belied."""
    snapshot = partial("a")
    assert snapshot.select_everywhere("pods", {"app": "z"}) == [] and snapshot.watch.tainted
    assert snapshot.watch.assumed == {}


# ------------------------------------------------------------ the whole read, indexed while it arrived

def grown_while_arriving(cluster: Any, drop_last: bool = False) -> tuple[Any, PartialSnapshot]:
    """A reader that read the rest, then every pod in the background; the partial snapshot grown from
    those pods namespace by namespace, as a scan grows it (the last pod left out if asked)."""
    from kubectl_meshdoctor.cluster.fetch import ListRequest
    from kubectl_meshdoctor.cluster.kubeconfig import KubeOptions
    from kubectl_meshdoctor.snapshot.live import LiveReader

    reader = LiveReader.open(KubeOptions(kubeconfig=str(cluster.kubeconfig)))
    reader.read([ListRequest(r) for r in ("services", "namespaces", "virtualservices", "gateways")])
    base = reader.snapshot()
    arrived: list[dict[str, Any]] = []
    reader.read_in_background([ListRequest("pods")], lambda page: arrived.extend(page or []), lambda: None)
    reader.finish_background()
    by_namespace: dict[str, list[dict[str, Any]]] = {}
    for item in arrived[:-1] if drop_last else arrived:
        by_namespace.setdefault(item["metadata"]["namespace"], []).append(item)
    whole = PartialSnapshot.over(base, base.statuses, Watch()).with_namespaces(by_namespace, whole=True)
    return reader, whole


def indexes(snapshot: Snapshot) -> tuple[Any, ...]:
    return (dict(snapshot._by_key), dict(snapshot._by_ns), list(snapshot._by_name.items()), dict(snapshot.statuses))


def test_the_snapshot_of_the_whole_read_takes_the_indexes_grown_while_it_arrived(live: Any) -> None:
    """Indexing 10,000 pods again was a fifth of what a scan did after its last byte: the pods the
    early analyses indexed are the snapshot's, when they are, object for object, what was read."""
    reader, whole = grown_while_arriving(live(objects_of([DEMO]), page_cap=3))
    taken = reader.snapshot_indexed_as(whole)
    assert taken._by_key is whole._by_key and taken.statuses["pods"].state == State.OK
    built = Snapshot.build(list(taken.objects()), taken.statuses, "live")
    assert indexes(taken) == indexes(built)


def test_indexes_that_do_not_hold_what_was_read_are_not_taken(live: Any) -> None:
    reader, short = grown_while_arriving(live(objects_of([DEMO]), page_cap=3), drop_last=True)
    built = reader.snapshot_indexed_as(short)
    assert built._by_key is not short._by_key
    assert len(built.all("pods")) == len(short.all("pods")) + 1
