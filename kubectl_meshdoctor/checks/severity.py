"""The two scales every check result is read on: how bad a finding is, and how far a check got.

Both are StrEnums so they compare and serialize as the words of the JSON contract, and Severity is
ordered so that "at or above --fail-on" and "worst first" are one comparison, not a lookup table.
"""

from __future__ import annotations

from enum import StrEnum


class Severity(StrEnum):
    ERROR = "error"      # traffic is failing or will fail now
    WARNING = "warning"  # fails under likely conditions, or configuration is silently ignored
    INFO = "info"        # worth knowing during triage

    @property
    def rank(self) -> int:
        """0 for the worst: sorts errors first."""
        return list(Severity).index(self)

    def at_least(self, threshold: Severity) -> bool:
        return self.rank <= threshold.rank


class FailOn(StrEnum):
    """--fail-on: the lowest severity that makes the exit code 1 (none: findings never do)."""

    ERROR = "error"
    WARNING = "warning"
    INFO = "info"
    NONE = "none"

    def fails(self, severity: Severity) -> bool:
        return self is not FailOn.NONE and severity.at_least(Severity(self.value))


class CheckStatus(StrEnum):
    PASSED = "passed"
    FAILED = "failed"
    SKIPPED = "skipped"    # asked for, but its data could not be read: the run is incomplete
    PARTIAL = "partial"    # found nothing in what it could read, but not everything was read: incomplete too
    NOT_RUN = "not-run"    # not asked for (live-only offline, a probe without --probe) or without meaning here

    @property
    def answered(self) -> bool:
        return self in (CheckStatus.PASSED, CheckStatus.FAILED, CheckStatus.PARTIAL)

    @property
    def incomplete(self) -> bool:
        """The run could not check everything it was asked to: never an all-clear."""
        return self in (CheckStatus.SKIPPED, CheckStatus.PARTIAL)
