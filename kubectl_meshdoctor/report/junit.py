"""JUnit XML for CI pipelines: a testsuite per family, a testcase per check and host, a failure per
finding (so GitLab, Jenkins and Azure show them), skipped checks as skipped."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from kubectl_meshdoctor.checks.catalogue import FAMILY_BY_KEY
from kubectl_meshdoctor.checks.severity import CheckStatus
from kubectl_meshdoctor.report.layout import sections
from kubectl_meshdoctor.report.model import Report


def to_junit(reports: list[Report]) -> str:
    root = ET.Element("testsuites", name="meshdoctor")
    for report in reports:
        for family, lines in sections(report):
            suite = ET.SubElement(root, "testsuite", name=f"{report.host} · {FAMILY_BY_KEY[family.key].title}",
                                  tests=str(len(lines)))
            failures = skipped = 0
            for line in lines:
                case = ET.SubElement(suite, "testcase", classname=report.host,
                                     name=f"{line.result.entry.code} {line.result.entry.id}: "
                                          f"{line.result.entry.statement}")
                if line.result.status in (CheckStatus.SKIPPED, CheckStatus.PARTIAL, CheckStatus.NOT_RUN) \
                        and not line.findings:
                    skipped += 1
                    ET.SubElement(case, "skipped", message=f"{line.result.status}: {line.result.reason}")
                for finding in line.findings:
                    failures += 1
                    failure = ET.SubElement(case, "failure", type=finding.level, message=finding.message)
                    failure.text = "\n".join([f"{i}. {step}" for i, step in enumerate(finding.remediation or
                                                                                    finding.entry.fix, 1)]
                                             + [f"Objects: {', '.join(r.label() for r in finding.resources)}",
                                                f"Docs: {' '.join(finding.entry.docs)}"])
            suite.set("failures", str(failures))
            suite.set("skipped", str(skipped))
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"
