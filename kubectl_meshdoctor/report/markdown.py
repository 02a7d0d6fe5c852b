"""Markdown to paste into an incident channel or ticket."""

from __future__ import annotations

from kubectl_meshdoctor.report.layout import SEVERITY_MARKS, Overview, sections, source_line, symptom_lines
from kubectl_meshdoctor.report.model import Report
from kubectl_meshdoctor.report.tables import cell
from kubectl_meshdoctor.report.verdict import headline


def to_markdown(report: Report) -> str:
    """For an incident channel or a ticket (Slack and GitHub alike): the verdict, the problems worst
    first, what could not be checked; the table of every check comes last."""
    out = [f"### meshdoctor: `{report.host}`", "", f"**{headline(report)}**", "", f"_{source_line(report)}_", ""]
    if report.symptoms:
        heading, lines = symptom_lines(report.symptoms)
        out += [f"**{heading}**", "", *[f"- {'✗' if ok else '‼'} {seen}: {cause}" for ok, seen, cause in lines], ""]
    overview = Overview.of(report)
    for f in overview.problems:
        out += [f"#### {SEVERITY_MARKS[f.level]} {f.entry.code} `{f.entry.id}` ({f.level})", "", f.message, ""]
        if f.resources:
            out += ["Objects: " + ", ".join(f"`{r.label()}`" for r in f.resources), ""]
        out += [f"{i}. {step}" for i, step in enumerate(f.remediation or f.entry.fix, 1)]
        out += ["", "Docs: " + " ".join(f.entry.docs), ""]
    if overview.incomplete:
        out += ["**Could not check**", ""]
        out += [f"- {c.entry.code} {c.entry.statement}: {c.status}: {c.reason}" for c in overview.incomplete] + [""]
    out += [f"_{overview.collapsed().replace(' (--verbose lists every check)', '')}:_", "",
            "| | Check | Code | Result |", "|---|---|---|---|"]
    for family, lines in sections(report):
        for line in lines:
            result = line.severity or line.result.status
            if line.result.reason:
                result += f": {line.result.reason}"
            out.append(f"| {line.mark} | {cell(family.title)}: {cell(line.result.entry.statement)} "
                       f"| {line.result.entry.code} | {cell(result)} |")
    if report.notes:
        out += ["", "Notes:", *[f"- {n}" for n in report.notes]]
    return "\n".join(out) + "\n"
