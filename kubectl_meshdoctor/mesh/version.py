"""Istio versions, because most semantics checks branch on them (ISTIO-SEMANTICS.md §0)."""

from __future__ import annotations

import re
from dataclasses import dataclass

_VERSION = re.compile(r"(\d+)\.(\d+)(?:\.(\d+))?")


@dataclass(frozen=True, order=True)
class IstioVersion:
    major: int
    minor: int
    patch: int = 0

    @classmethod
    def parse(cls, text: str) -> IstioVersion | None:
        """'1.22.3', '1.4.6-distroless', 'release-1.5-20200301' -> a version; anything else -> None."""
        match = _VERSION.search(text or "")
        if not match:
            return None
        return cls(int(match[1]), int(match[2]), int(match[3] or 0))

    def at_least(self, major: int, minor: int) -> bool:
        return (self.major, self.minor) >= (major, minor)

    def __str__(self) -> str:
        return f"{self.major}.{self.minor}.{self.patch}"
