"""A scan's hosts analysed on every core.

Hosts are independent once the snapshot is read (each analysis reads the immutable snapshot and its
shared indexes), so past a few hundred hosts the work is shared with forked workers: they inherit the
snapshot and the indexes the first host built without copying or pickling them, and only the reports
travel back. This process works too. Hosts are handed out in runs from a counter the processes share,
big runs first and smaller ones towards the end, so a process that drew costly hosts (a gateway host
with a hundred fragments) takes fewer of the rest and all finish together. Where fork is not
available (Windows), or for small scans, the hosts run in this process alone. MESHDOCTOR_JOBS=N sets
the number of processes, this one included (default: the cores, at most 8; 1: no workers).
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar

T = TypeVar("T")
R = TypeVar("R")

PARALLEL_FROM = 200  # hosts: below this, starting workers costs more than it saves
MAX_JOBS = 8
SMALLEST_RUN = 4  # hosts: the runs handed out at the end


def jobs() -> int:
    asked = os.environ.get("MESHDOCTOR_JOBS", "")
    if asked.isdigit() and int(asked) > 0:
        return int(asked)
    return min(os.cpu_count() or 1, MAX_JOBS)


def map_hosts(work: Callable[[T], R], items: Sequence[T]) -> list[R]:
    """[work(item) for item in items], in order. Items handed out first should be the costly ones (a
    costly one near the end leaves one process working alone). The last item, then a cheap one, runs
    here before the fork, so the indexes every host shares are built once and inherited by every
    worker. A worker that fails (or dies) leaves its runs undone: this process does them, so an error
    surfaces here as it would without workers."""
    workers = min(jobs(), len(items))
    if workers <= 1 or len(items) < PARALLEL_FROM or "fork" not in multiprocessing.get_all_start_methods():
        return [work(item) for item in items]
    last = len(items) - 1
    results: dict[int, R] = {last: work(items[last])}
    context = multiprocessing.get_context("fork")
    counter = context.Value("l", 0)  # the next item nobody has taken
    channels = []
    for _ in range(workers - 1):
        receive, send = context.Pipe(duplex=False)
        process = context.Process(target=_worker, args=(work, items, counter, workers, send), daemon=True)
        process.start()
        send.close()
        channels.append((process, receive))
    for start, stop in _runs(counter, last, workers):
        results.update((i, work(items[i])) for i in range(start, stop))
    for process, receive in channels:
        with contextlib.suppress(EOFError):  # it died before answering: its runs are done below
            results.update(receive.recv())
        receive.close()
        process.join()
    return [results[i] if i in results else work(items[i]) for i in range(len(items))]


def _runs(counter: Any, total: int, workers: int) -> Iterator[tuple[int, int]]:
    """The runs this process takes: a share of what is left, halved among the processes each time."""
    while True:
        with counter.get_lock():
            start = counter.value
            size = max(SMALLEST_RUN, (total - start) // (2 * workers))
            counter.value = min(total, start + size)
        if start >= total:
            return
        yield start, min(total, start + size)


def _worker(work: Callable[[Any], Any], items: Sequence[Any], counter: Any, workers: int, send: Any) -> None:
    """In a forked worker: runs until none are left, then sends its results by position. On an error it
    sends what it finished; the parent does the rest."""
    done: dict[int, Any] = {}
    with contextlib.suppress(Exception):  # the parent runs the rest and meets the error itself
        for start, stop in _runs(counter, len(items) - 1, workers):  # the last one is done
            for i in range(start, stop):
                done[i] = work(items[i])
    send.send(done)
    send.close()
