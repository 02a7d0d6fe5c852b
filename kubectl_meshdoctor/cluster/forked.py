"""A LIST read by a forked process, its pages sent back as they are parsed.

`scan -A` analyses hosts while the pods arrive (run/early.py), and in one process that analysis and the
parsing of the pods share one interpreter lock: at 10,000 pods from a real API server, reading and
parsing them held it 0.6-0.9 s of the 1.5 s the LIST took, and the analysis fell behind. In a process
of its own, the LIST is read, parsed and trimmed on another core; this one only unmarshals the trimmed
pages (0.11 s for 10,000 pods against 0.7 s to read and parse them).

The process is forked before the round's reading threads start (a fork copies one thread; a lock
another thread held stays held in the copy, so the copy writes to nothing inherited: only the
spinner's thread may be running), and it opens its own connections (the pooled ones are this
process's sockets). It reads exactly as fetch.list_collections does in a thread: each page goes to the
sink, restarts included, and the result comes back with its items being the pages' own objects. Linux
only (fork is the platform's way; elsewhere, and for anything but one LIST, a thread reads as before).
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import marshal
import os
import pickle
import signal
import struct
import sys
import threading
from dataclasses import dataclass, field
from typing import IO, Any

from kubectl_meshdoctor.cluster.api import RawApi
from kubectl_meshdoctor.cluster.fetch import Discovery, ListRequest, ListResult, PageSink, list_collections

# Each answer: its kind, the reading process's last answer from the API server (perf_counter: the same
# clock in both processes on Linux), its size, then itself. A page is marshalled (JSON's types only;
# 2.5 times faster to write than a pickle, and this is the same interpreter), the rest pickled.
_HEADER = struct.Struct("<cdQ")
PAGE, RESTART, DONE, FAILED = b"p", b"r", b"d", b"f"
PIPE_SIZE = 1 << 20  # the most a process may ask for without privileges (/proc/sys/fs/pipe-max-size)


class Lost(RuntimeError):
    """The reading process died without an answer (killed for memory, say): the LIST is read again here."""


def can_fork(requests: list[ListRequest]) -> bool:
    """MESHDOCTOR_FORKED_LIST=0 reads in a thread instead (the answer is the same)."""
    return len(requests) == 1 and sys.platform.startswith("linux") and hasattr(os, "fork") \
        and os.environ.get("MESHDOCTOR_FORKED_LIST", "") != "0"


@dataclass
class ForkedList:
    """One LIST read by a forked process (start), received by this one (receive)."""

    api: RawApi
    request: ListRequest
    pid: int
    answers: IO[bytes]
    pages: list[dict[str, Any]] = field(default_factory=list)
    reaped: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock)  # stop() may come from another thread

    @classmethod
    def start(cls, api: RawApi, discovery: Discovery, request: ListRequest) -> ForkedList:
        import fcntl  # (Linux: can_fork)

        read_end, write_end = os.pipe()
        with contextlib.suppress(OSError, AttributeError):  # a page in flight, not 64 KiB (Linux's default)
            fcntl.fcntl(write_end, fcntl.F_SETPIPE_SZ, PIPE_SIZE)
        pid = os.fork()
        if pid == 0:  # the reading process: never returns
            os.close(read_end)
            _read_and_send(api, discovery, request, write_end)
        os.close(write_end)
        return cls(api, request, pid, os.fdopen(read_end, "rb", buffering=1 << 20))

    def receive(self, sink: PageSink) -> list[ListResult]:
        """Each page to the sink as it comes; then the result, as list_collections would have returned it."""
        try:
            while True:
                kind, last_answer, payload = self._next()
                self.api.last_answer = max(self.api.last_answer, last_answer)
                if kind == PAGE:
                    items = marshal.loads(payload)
                    self.pages += items
                    sink(items)
                elif kind == RESTART:  # the LIST started over (an expired continue token)
                    self.pages = []
                    sink(None)
                elif kind == FAILED:
                    raise pickle.loads(payload)
                else:
                    result, count, requests, received = pickle.loads(payload)
                    self.api.requests += requests
                    self.api.bytes_received += received
                    self._reap()
                    return [dataclasses.replace(result, items=self.pages[:count])]
        finally:
            self.stop()

    def _next(self) -> tuple[bytes, float, bytes]:
        try:
            header = self.answers.read(_HEADER.size)
            kind, last_answer, size = _HEADER.unpack(header)
            payload = self.answers.read(size)
            if len(payload) != size:
                raise EOFError
        except (EOFError, OSError, ValueError, struct.error):
            if self.reaped:  # stopped: the run has gone on without it
                raise
            raise Lost(f"the process reading {self.request.resource} ended without an answer") from None
        return kind, last_answer, payload

    def stop(self) -> None:
        """Ends the reading process if it is still at work (the run failed or was interrupted), and reaps it."""
        self._reap(kill=True)

    def _reap(self, kill: bool = False) -> None:
        with self.lock:
            if self.reaped:
                return
            self.reaped = True
            if kill:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(self.pid, signal.SIGKILL)
            with contextlib.suppress(ChildProcessError):
                os.waitpid(self.pid, 0)
        with contextlib.suppress(OSError, ValueError):
            self.answers.close()


def _read_and_send(api: RawApi, discovery: Discovery, request: ListRequest, write_end: int) -> None:
    """In the forked process: the LIST, each parsed page sent as it comes, then the result; then exit
    without running anything this process inherited (atexit handlers, buffered output of the parent)."""
    code = 0
    try:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the run's to handle: it ends this process
        # nothing inherited is written to (a thread of the run, the spinner, may have held its lock)
        logging.disable(logging.CRITICAL)
        sys.stdout = sys.stderr = open(os.devnull, "w")  # noqa: SIM115 (the process ends with os._exit)
        api.use_own_connections()
        received_before, requests_before = api.bytes_received, api.requests
        with os.fdopen(write_end, "wb") as out:
            def send(kind: bytes, payload: bytes) -> None:
                out.write(_HEADER.pack(kind, api.last_answer, len(payload)))
                out.write(payload)
                out.flush()
            count = 0

            def page(items: list[dict[str, Any]] | None) -> None:
                nonlocal count
                count = 0 if items is None else count + len(items)
                send(RESTART, b"") if items is None else send(PAGE, marshal.dumps(items))
            try:  # the items are sent, not kept: this process would hold every pod again
                (result,) = list_collections(api, discovery, [request], page, pause=False, keep=False)
                send(DONE, pickle.dumps((result, count, api.requests - requests_before,
                                         api.bytes_received - received_before)))
            except Exception as exc:  # raised again in the run, as a LIST in a thread would raise it
                send(FAILED, pickle.dumps(exc if _picklable(exc) else RuntimeError(repr(exc))))
    except BaseException:  # the run has gone (a broken pipe) or was interrupted: nobody to tell
        code = 1
    finally:
        os._exit(code)


def _picklable(exc: BaseException) -> bool:
    try:
        pickle.loads(pickle.dumps(exc))
    except Exception:
        return False
    return True
