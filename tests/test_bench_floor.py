"""The benchmark's floor is derived from the reads a `host` run made (its read plan, recorded in
MESHDOCTOR_STATS), so it cannot drift from them; and `tls` makes only the requests its checks need.
Not timing tests: see bench/."""

from __future__ import annotations

import json
from pathlib import Path

from bench.generate import make_world
from bench.run import floor_commands
from tests.conftest import EXAMPLES, objects_of, run_cli


def _requests(cluster) -> set[tuple[str, str, str, str]]:
    return {(r.path, r.query.get("labelSelector", ""), r.query.get("fieldSelector", ""), r.query.get("limit", ""))
            for r in cluster.cluster.requests if r.path not in ("/version", "/apis")}


def test_floor_commands_make_exactly_the_requests_of_a_host_run(live, tmp_path: Path):
    cluster = live(make_world(100))
    stats = tmp_path / "stats.json"
    result = run_cli("host", "svc-0", "-n", "ns-0", "--kubeconfig", str(cluster.kubeconfig),
                     env={"MESHDOCTOR_STATS": str(stats)})
    assert result.exit_code in (0, 1), result.stderr
    floor = set()
    for cmd in floor_commands("kubeconfig", json.loads(stats.read_text())):
        if "--raw" in cmd:
            path, _, query = cmd[cmd.index("--raw") + 1].partition("?limit=")
            floor.add((path, "", "", query))
        elif "logs" in cmd:
            namespace, pod = cmd[cmd.index("-n") + 1: cmd.index("-n") + 3]
            floor.add((f"/api/v1/namespaces/{namespace}/pods/{pod}/log", "", "", ""))
        else:
            args = cmd[cmd.index("get") + 1:]
            namespace = args[args.index("-n") + 1] if "-n" in args else ""
            label = args[args.index("-l") + 1] if "-l" in args else ""
            field = args[args.index("--field-selector") + 1] if "--field-selector" in args else ""
            for name in args[0].split(","):  # kubectl lists each type of `get a,b,c` on its own
                resource, _, group = name.partition(".")
                version, _, rest = group.partition(".")  # `plural.version.group` names a version
                version, group = (version, rest) if version[:1] == "v" and version[1:2].isdigit() else ("v1", group)
                floor.add((f"{'/apis/' + group + '/' + version if group else '/api/v1'}"
                           f"{'/namespaces/' + namespace if namespace else ''}/{resource}", label, field, "500"))
    assert floor == _requests(cluster)


def test_tls_makes_only_the_requests_its_checks_need(live):
    cluster = live(objects_of([EXAMPLES / "bookinfo"]))
    assert cluster.run("tls", "reviews", "-n", "bookinfo").exit_code == 0
    paths = [path for path, *_ in _requests(cluster)]
    assert "/api/v1/namespaces/bookinfo/pods" in paths  # the host's pods: server mTLS per endpoint
    assert not [p for p in paths if p.endswith("/log")], "tls reads no proxy logs"
    assert not [p for p in paths if p.endswith("/endpoints")], "no TLS check needs Endpoints"
    assert "/api/v1/namespaces/bookinfo/configmaps" not in paths, "nor client ConfigMaps (NGINX, HTTP/1.0)"
    host = live(objects_of([EXAMPLES / "bookinfo"]))
    assert host.run("host", "reviews", "-n", "bookinfo").exit_code == 1
    assert len(_requests(host)) > len(_requests(cluster))
