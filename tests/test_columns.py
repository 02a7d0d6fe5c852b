"""Every scenario world read at 80 columns, as in an 80x50 terminal at 3 a.m.

What is checked does not come from the renderer: the commands (backticked in the remediation), the
docs URLs and the host names come from the findings and the `tls` rows of the report, and each must
be found whole on one line of the text, or a paste loses part of it. A line wider than 80 columns is
allowed only when it holds one such unit alone (a command or URL longer than the screen).
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable

import pytest
from rich.console import Console

from kubectl_meshdoctor.cluster.kubeconfig import KubeOptions
from kubectl_meshdoctor.report.model import Report
from kubectl_meshdoctor.report.text import render_text
from kubectl_meshdoctor.report.tls_table import render_tls_table
from kubectl_meshdoctor.run.scope import ScanRequest, scan_scope
from tests.conftest import EXAMPLES, offline, run_cli
from tests.worlds import EXAMPLE_WORLDS, PLAN, PLAN_BASE, SCENARIO_WORLDS, world_files, world_id

WIDTH = 80
COMMAND = re.compile(r"`[^`]*`")
URL = re.compile(r"https?://\S+")
BULLET = re.compile(r"^\s*(?:[✗‼i✓~·•$-] |\d+\. |port )?")


def rendered(report: Report, draw: Callable[[Report, Console], None]) -> list[str]:
    stream = io.StringIO()
    draw(report, Console(file=stream, width=WIDTH, no_color=True, color_system=None))
    return stream.getvalue().splitlines()


def host_units(report: Report) -> set[str]:
    """What must never be split: from the report's data, not from its rendering."""
    units = {report.host}
    for finding in report.findings:
        for step in finding.remediation or finding.entry.fix:
            units.update(COMMAND.findall(step))
        units.update(finding.entry.docs)
    return units


def assert_readable_at_80(lines: list[str], units: set[str], what: str) -> None:
    for unit in units:
        assert any(unit in line for line in lines), f"{what}: {unit!r} is split across lines (or missing)"
    for line in lines:
        core = BULLET.sub("", line).strip()
        if len(line) > WIDTH:
            alone = COMMAND.fullmatch(core.strip("().;,:")) or URL.fullmatch(core) or " " not in core
            assert alone, f"{what}: a line of {len(line)} columns that could have wrapped: {line!r}"


def scan_reports(paths: list[str]) -> tuple[Report, ...]:
    request = ScanRequest(all_namespaces=True, files=tuple(paths), offline=True)
    return scan_scope(request, KubeOptions(), no_color=True).reports


WORLDS = [*SCENARIO_WORLDS, *EXAMPLE_WORLDS]


@pytest.mark.parametrize("world", WORLDS, ids=lambda p: world_id(p) if p.suffix else f"examples/{p.name}")
def test_every_host_of_every_world_reads_at_80_columns(world, monkeypatch):
    monkeypatch.setenv("COLUMNS", str(WIDTH))  # the tls table's width limit, as a terminal would set it
    files = [str(p) for p in (world_files(world) if world.suffix else [world])]
    reports = scan_reports(files)
    if not reports:
        pytest.skip("this world holds only mesh settings, no host to render")
    for report in reports:
        assert_readable_at_80(rendered(report, lambda r, c: render_text(r, c, verbose=True)), host_units(report),
                              f"host {report.host}")
        assert_readable_at_80(rendered(report, lambda r, c: render_tls_table(r.tls or (), c)),
                              {row.address for row in report.tls or ()}, f"tls {report.host}")


def test_a_fix_command_wider_than_the_line_starts_a_line_of_its_own_and_keeps_its_namespace():
    """The issue's example: `kubectl rollout restart deployment/reviews-v1 -n` / `bookinfo`."""
    result = run_cli("host", "reviews", "-n", "bookinfo", *offline(EXAMPLES / "bookinfo"), env={"COLUMNS": "80"})
    lines = result.stdout.splitlines()
    restart = [line for line in lines if "kubectl rollout restart" in line]
    assert restart and all("deployment/reviews-v1 -n bookinfo`" in line for line in restart)
    logs = [line for line in lines if "`kubectl logs -n bookinfo" in line]
    assert logs and all("--tail=50`" in line for line in logs)
    assert all(len(line) <= WIDTH or line.strip().startswith(("`", "https://")) for line in lines)
    docs = [line for line in lines if "https://istio.io/latest/docs/ops/best-practices/traffic-management/" in line]
    assert docs and all(line.rstrip().endswith("#split-virtual-services") for line in docs)


def test_tls_at_80_columns_is_one_block_a_row_and_piped_without_columns_one_line_a_row():
    args = ("tls", "reviews", "-n", "bookinfo", *offline(EXAMPLES / "bookinfo"))
    narrow = run_cli(*args, env={"COLUMNS": "80"}).stdout.splitlines()
    table = narrow[:narrow.index("")] if "" in narrow else narrow
    assert table[0] == "reviews.bookinfo.svc.cluster.local:9080"
    assert [line.split()[0] for line in table[1:] if line.startswith("  ") and not line.startswith("   ")] == \
        ["CLIENT", "STATUS", "SERVER", "CLIENT", "AUTHN", "DESTINATION"]
    assert all(len(line) <= WIDTH for line in narrow)
    wide = run_cli(*args).stdout.splitlines()  # piped, no COLUMNS: kubectl's one row a line
    assert wide[0].split()[:3] == ["HOST:PORT", "CLIENT", "NS"]
    rows = [line for line in wide[2:] if line.startswith("reviews.bookinfo.svc.cluster.local:9080")]
    assert len(rows) == 4 and all("bookinfo/reviews (no tls)" in row for row in rows)


def test_scan_and_checks_tables_never_cut_a_host_at_80_columns():
    scan = run_cli("scan", "-A", *offline(EXAMPLES / "bookinfo"), env={"COLUMNS": "80"}).stdout.splitlines()
    assert "reviews.bookinfo.svc.cluster.local" in scan and "productpage.bookinfo.svc.cluster.local" in scan
    assert all(len(line) <= WIDTH for line in scan)
    checks = run_cli("checks", env={"COLUMNS": "80"}).stdout.splitlines()
    assert all(len(line) <= WIDTH for line in checks) and "MD101" in checks


@pytest.mark.parametrize("change", sorted(p.stem for p in PLAN.glob("*.yaml") if p.stem != "base-routing"))
def test_plan_at_80_columns_keeps_each_apply_command_on_one_line(change, tmp_path):
    args = ["plan", "-f", str(PLAN / f"{change}.yaml"), "-n", "bookinfo", "--offline", "--write-dir", str(tmp_path)]
    result = run_cli(*args, *(a for p in PLAN_BASE for a in ("--base", str(p))), env={"COLUMNS": "80"})
    lines = result.stdout.splitlines()
    written = sorted(tmp_path.iterdir())
    assert written, result.stdout + result.stderr
    for path in written:
        assert any(line.strip() == f"$ kubectl apply -f {path}" for line in lines), f"{path} split: {lines}"
    assert all(len(line) <= WIDTH or line.strip().startswith("$ kubectl apply -f ") for line in lines)
