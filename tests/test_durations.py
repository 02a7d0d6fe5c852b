"""Go durations as kubectl flags and Istio's binaries write them."""

from __future__ import annotations

import pytest

from kubectl_meshdoctor.durations import go_duration_seconds


@pytest.mark.parametrize(("text", "seconds"), [("500ms", 0.5), ("2s", 2.0), ("1m30s", 90.0), ("15m", 900.0),
                                               ("2160h", 7_776_000.0), (" 1h ", 3600.0)])
def test_durations_are_read_as_go_writes_them(text, seconds):
    assert go_duration_seconds(text) == seconds


@pytest.mark.parametrize("text", ["", "15", "yesterday", "1d", "2s5"])
def test_other_text_is_not_a_duration(text):
    assert go_duration_seconds(text) is None
