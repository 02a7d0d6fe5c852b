"""Line breaking for the human report: at spaces only, and never inside a command or a URL.

A fix that reads `kubectl rollout restart deployment/reviews-v1 -n` / `bookinfo` loses its namespace
when pasted, and a docs link folded after `#split-` opens the wrong page. So a `backticked` command
and a URL are one unbreakable unit: when it does not fit on the current line it starts the next one,
and when it is wider than the screen it stands alone on its line, whole, rather than being folded.
Words (host names included) are never folded either.
"""

from __future__ import annotations

import re

from rich.text import Text

UNBREAKABLE = re.compile(r"`[^`]*`|https?://\S+")


def units(plain: str, whole: bool = False) -> list[tuple[int, int]]:
    """(start, end) of each unit a line may break between: runs of non-space text, where a command or
    URL (and every word of it) counts as one run. `whole` makes the entire text one unit."""
    if whole:
        return [(0, len(plain.rstrip()))] if plain.strip() else []
    protected = [m.span() for m in UNBREAKABLE.finditer(plain)]
    out: list[tuple[int, int]] = []
    for word in re.finditer(r"\S+", plain):
        start, end = word.span()
        if out and any(a < out[-1][1] and start < b for a, b in protected):  # the space is inside one
            out[-1] = (out[-1][0], end)
        else:
            out.append((start, end))
    return out


def break_lines(text: Text, width: int, whole: bool = False) -> list[Text]:
    """Greedy fill: as many units a line as fit in `width`; a unit wider than `width` alone on its line."""
    lines: list[Text] = []
    start = end = None
    for a, b in units(text.plain, whole):
        if start is not None and end is not None and b - start > width:
            lines.append(text[start:end])
            start = None
        if start is None:
            start = a
        end = b
    if start is not None and end is not None:
        lines.append(text[start:end])
    return lines or [Text("")]
