"""Progress on stderr while a command reads the cluster, only when stderr is a terminal: stdout
carries the report alone, and a pipe or a CI log gets no spinner noise."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager

ProgressFn = Callable[[str], None]


@contextmanager
def spinner(no_color: bool) -> Iterator[ProgressFn]:
    if not sys.stderr.isatty():
        yield lambda _msg: None
        return
    from rich.console import Console

    console = Console(stderr=True, no_color=no_color)
    with console.status("starting") as status:
        yield lambda msg: status.update(msg)
