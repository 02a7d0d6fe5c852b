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
import pickle
import signal
import tempfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
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
    with tempfile.TemporaryDirectory(prefix="meshdoctor-") as folder:
        workers_left = []
        try:
            for number in range(workers - 1):
                receive, send = context.Pipe(duplex=False)
                process = context.Process(target=_worker, daemon=True, args=(
                    work, items, counter, workers, send, Path(folder) / f"worker-{number}"))
                process.start()
                send.close()
                workers_left.append(_Worker(process, receive))
            for start, stop in _runs(counter, last, workers):
                results.update((i, work(items[i])) for i in range(start, stop))
                for worker in workers_left:
                    worker.collect(results, wait=False)
            for worker in workers_left:
                worker.collect(results, wait=True)
        finally:  # interrupted (Ctrl-C) or failed here: no worker outlives the run
            for worker in workers_left:
                if not worker.done:
                    worker.process.terminate()
                    worker.process.join()
    return [results[i] if i in results else work(items[i]) for i in range(len(items))]


@dataclass
class _Worker:
    """A forked worker as the parent sees it. Its results come run by run in files, announced on a pipe
    with a few bytes (a pipe holds 64 KiB: a worker sending its reports through it would wait, idle,
    for the parent to finish a run and read them)."""

    process: Any
    announcements: Any
    done: bool = False

    def collect(self, results: dict[int, Any], wait: bool) -> None:
        """The runs it has finished (all of them when waiting: until it says it is done, or dies)."""
        while not self.done and (wait or self.announcements.poll()):
            try:
                path = self.announcements.recv()
            except EOFError:  # it died: what it did not announce is done by the parent
                path = None
            if path is None:
                self.done = True
                self.announcements.close()
                self.process.join()
                return
            with open(path, "rb") as file:
                results.update(pickle.load(file))


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


def _worker(work: Callable[[Any], Any], items: Sequence[Any], counter: Any, workers: int, announce: Any,
            prefix: Path) -> None:
    """In a forked worker: runs until none are left, each run's results written to a file and announced.
    On an error it stops; the parent does the rest and meets the error itself. Ctrl-C is the parent's
    to handle (it ends the workers): a worker never prints a traceback of its own."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    with contextlib.suppress(Exception):
        for start, stop in _runs(counter, len(items) - 1, workers):  # the last one is done
            done = {i: work(items[i]) for i in range(start, stop)}
            path = f"{prefix}-{start}.pickle"
            with open(path, "wb") as file:
                pickle.dump(done, file, protocol=pickle.HIGHEST_PROTOCOL)
            announce.send(path)
    with contextlib.suppress(OSError):  # the parent is gone: nobody to tell
        announce.send(None)
        announce.close()
