"""The catalogue must say what FINDINGS.md says: same codes, ids and severities (ids never change)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from kubectl_meshdoctor.checks.catalogue import CATALOGUE, FAMILY_BY_KEY
from kubectl_meshdoctor.checks.registry import CHECKS

FINDINGS_MD = Path(__file__).resolve().parents[2] / "shared" / "design" / "FINDINGS.md"
ROW = re.compile(r"^\| (MD\d{3}) \| ([a-z0-9-]+) \| (error|warning|info) \| (.*)")


@pytest.mark.skipif(not FINDINGS_MD.exists(), reason="../shared/design/FINDINGS.md is not beside this checkout")
def test_catalogue_matches_findings_md():
    documented = {m[1]: (m[2], m[3]) for line in FINDINGS_MD.read_text().splitlines() if (m := ROW.match(line))}
    ours = {e.code: (e.id, e.severity) for e in CATALOGUE}
    # the catalogue may grow (FINDINGS.md: "ids never change meaning"); every documented entry must match
    assert {code: ours.get(code) for code in documented} == documented
    # beyond the table: MD508, and codes FINDINGS.md reserves by id ("MD550 ambient-l7-without-waypoint")
    text = FINDINGS_MD.read_text()
    reserved = dict(re.findall(r"\b(MD\d{3})\s+([a-z0-9]+(?:-[a-z0-9]+)+)", text[text.index("Reserved code ranges"):]))
    extra = set(ours) - set(documented)
    assert extra <= {"MD508", *reserved}
    assert {code: ours[code][0] for code in extra - {"MD508"}} == {code: reserved[code] for code in extra - {"MD508"}}


def test_every_entry_can_be_explained():
    for entry in CATALOGUE:
        assert entry.family in FAMILY_BY_KEY
        assert entry.title and entry.statement and entry.why and entry.fix and entry.docs


@pytest.mark.skipif(not FINDINGS_MD.exists(), reason="../shared/design/FINDINGS.md is not beside this checkout")
def test_live_only_entries_are_the_ones_findings_md_calls_live():
    documented = _documented_live()
    assert {e.code for e in CATALOGUE if e.live} == documented & {e.code for e in CATALOGUE}


def _documented_live() -> set[str]:
    """FINDINGS.md marks live-only findings: its table line says `live:` (or `live probe:`), or its text
    says `MDnnn in live mode`."""
    text = FINDINGS_MD.read_text()
    table = {m[1] for line in text.splitlines() if (m := ROW.match(line)) and m[4].startswith("live")}
    return table | set(re.findall(r"(MD\d{3}) in live mode", text))



def test_registered_checks_are_unique_and_declare_their_data():
    codes = [c.code for c in CHECKS]
    assert len(codes) == len(set(codes))
    assert all(c.needs for c in CHECKS)


def test_each_check_lives_in_the_module_of_its_family():
    assert {c.code: c.run.__module__.rsplit(".", 1)[1] for c in CHECKS} == {c.code: c.entry.family for c in CHECKS}
