"""Durations as kubectl and Istio's Go binaries write them: '2s', '1m30s', '500ms', '2160h'."""

from __future__ import annotations

import re

_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h)")  # ms before m and s, so '500ms' is not read as 500m + s
_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}


def go_duration_seconds(text: str) -> float | None:
    """Seconds, or None when the text is not a Go duration (a bare number is not one)."""
    value = (text or "").strip()
    parts = _PART.findall(value)
    if not parts or "".join(n + u for n, u in parts) != value:
        return None
    return sum(float(n) * _SECONDS[u] for n, u in parts)
