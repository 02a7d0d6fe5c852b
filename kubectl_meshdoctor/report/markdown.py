"""Markdown to paste into an incident channel or ticket."""

from __future__ import annotations

from kubectl_meshdoctor.report.layout import sections, source_line, symptom_lines
from kubectl_meshdoctor.report.model import Report
from kubectl_meshdoctor.report.tables import cell
from kubectl_meshdoctor.report.verdict import headline


def to_markdown(report: Report) -> str:
    out = [f"### meshdoctor: `{report.host}`", "", f"**{headline(report)}**", "", f"_{source_line(report)}_", ""]
    if report.symptoms:
        heading, lines = symptom_lines(report.symptoms)
        out += [f"**{heading}**", "", *[f"- {'✗' if ok else '‼'} {seen}: {cause}" for ok, seen, cause in lines], ""]
    out += ["| | Check | Code | Result |", "|---|---|---|---|"]
    details: list[str] = []
    for family, lines in sections(report):
        for line in lines:
            result = line.severity or line.result.status
            if line.result.reason:
                result += f": {line.result.reason}"
            out.append(f"| {line.mark} | {cell(family.title)}: {cell(line.result.entry.statement)} "
                       f"| {line.result.entry.code} | {cell(result)} |")
            for f in line.findings:
                details += ["", f"#### {line.mark} {f.entry.code} `{f.entry.id}` ({f.level})", "", f.message, ""]
                if f.resources:
                    details.append("Objects: " + ", ".join(f"`{r.label()}`" for r in f.resources))
                    details.append("")
                details += [f"{i}. {step}" for i, step in enumerate(f.remediation or f.entry.fix, 1)]
                details += ["", "Docs: " + " ".join(f.entry.docs)]
    if report.notes:
        details += ["", "Notes:", *[f"- {n}" for n in report.notes]]
    return "\n".join(out + details) + "\n"
