"""A scan's hosts analysed on every core.

Hosts are independent once the snapshot is read (each analysis reads the immutable snapshot and its
shared indexes), so past a few hundred hosts the work is split among forked workers: they inherit the
snapshot and the indexes the first host built without copying or pickling them, and only the reports
travel back. This process takes a share too. Where fork is not available (Windows), or for small scans,
the hosts run in this process alone. MESHDOCTOR_JOBS=N sets the number of processes, this one included
(default: the cores, at most 8; 1: no workers).
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

T = TypeVar("T")
R = TypeVar("R")

PARALLEL_FROM = 200  # hosts: below this, starting workers costs more than it saves
MAX_JOBS = 8

_WORK: Callable[[Any], Any] | None = None  # what the forked workers run, set just before the fork


def jobs() -> int:
    asked = os.environ.get("MESHDOCTOR_JOBS", "")
    if asked.isdigit() and int(asked) > 0:
        return int(asked)
    return min(os.cpu_count() or 1, MAX_JOBS)


def map_hosts(work: Callable[[T], R], items: Sequence[T]) -> list[R]:
    """[work(item) for item in items], in order. The first item runs here first, so the indexes every
    host shares are built once, before the fork, and inherited by every worker. Then this process
    works too: it takes its share of the items while the forked workers take theirs (its caches are
    warm and its results need no pickling)."""
    workers = min(jobs(), len(items))
    if workers <= 1 or len(items) < PARALLEL_FROM or "fork" not in multiprocessing.get_all_start_methods():
        return [work(item) for item in items]
    first = work(items[0])
    rest = list(items[1:])
    mine = len(rest) // workers  # this process's share: the last items
    theirs, own = rest[:len(rest) - mine], rest[len(rest) - mine:]
    # one chunk per worker: the pool's threads that hand out chunks and collect results need this
    # process's GIL, which its own share holds, so a worker waiting for its next chunk waited for them
    size = max(1, -(-len(theirs) // (workers - 1)))
    chunks = [theirs[i:i + size] for i in range(0, len(theirs), size)]
    global _WORK
    _WORK = work
    try:
        with multiprocessing.get_context("fork").Pool(workers - 1) as pool:
            pending = pool.map_async(_run_chunk, chunks)
            done_here = [work(item) for item in own]
            parts = pending.get()
    finally:
        _WORK = None
    return [first, *(result for part in parts for result in part), *done_here]


def _run_chunk(chunk: list[Any]) -> list[Any]:
    assert _WORK is not None
    return [_WORK(item) for item in chunk]
