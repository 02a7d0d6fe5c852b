"""The pods LIST of `scan -A`, read by a forked process (cluster/forked.py): the same result as a LIST read
in a thread, its pages the result's own objects, its errors raised in the run, and nothing left behind.
(Every scenario world's scan with early analysis goes through it too: tests/test_scan_early.py.)"""

from __future__ import annotations

import os
import sys
import threading
import time
from typing import Any

import pytest

from kubectl_meshdoctor.cluster.fetch import ListRequest
from kubectl_meshdoctor.cluster.kubeconfig import KubeOptions
from kubectl_meshdoctor.cluster.resources import State
from kubectl_meshdoctor.errors import ClusterUnreachable
from kubectl_meshdoctor.snapshot.live import LiveReader
from tests.conftest import EXAMPLES, objects_of

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the LIST is forked on Linux only")

EVERY_POD = ListRequest("pods")


def reader_of(cluster: Any) -> LiveReader:
    return LiveReader.open(KubeOptions(kubeconfig=str(cluster.kubeconfig)))


def read_in_background(reader: LiveReader) -> tuple[list[list[dict[str, Any]] | None], threading.Event]:
    pages: list[list[dict[str, Any]] | None] = []
    ended = threading.Event()
    reader.read_in_background([EVERY_POD], pages.append, ended.set)
    return pages, ended


def test_the_forked_list_reads_what_a_thread_reads_and_its_pages_are_the_results_objects(live: Any) -> None:
    cluster = live(objects_of([EXAMPLES / "bookinfo"]), page_cap=2)
    in_thread = reader_of(cluster).lists([EVERY_POD])[0]
    reader = reader_of(cluster)
    sent_before = reader.api.requests
    pages, ended = read_in_background(reader)
    background = reader.background
    assert background is not None and background.forked is not None
    reader.finish_background()
    result = reader.results[-1]
    assert ended.is_set() and result.status.state == State.OK
    assert result.items == in_thread.items and len(result.items) > 2  # several pages
    assert [id(p) for page in pages if page for p in page] == [id(p) for p in result.items]
    assert reader.api.requests - sent_before == len(pages)  # one request a page, counted here
    assert 0 < reader.api.last_answer <= time.perf_counter()
    with pytest.raises(ChildProcessError):  # reaped
        os.waitpid(background.forked.pid, os.WNOHANG)


def test_a_list_that_starts_over_reaches_the_sink_and_the_result_as_in_a_thread(live: Any) -> None:
    """The continue token expires: the sink is told (None), and the result holds the second reading only."""
    cluster = live(objects_of([EXAMPLES / "bookinfo"]), page_cap=2, expire_continue=True)
    reader = reader_of(cluster)
    pages, _ = read_in_background(reader)
    reader.finish_background()
    after = pages[pages.index(None) + 1:] if None in pages else pages
    assert [id(p) for page in after if page for p in page] == [id(p) for p in reader.results[-1].items]


def test_an_api_server_gone_mid_run_is_the_runs_error(live: Any) -> None:
    """Discovery answered, then the server went away: the forked reader cannot connect, and the run
    gets the one clear error it would get from a thread (exit 3), not a hang."""
    cluster = live(objects_of([EXAMPLES / "bookinfo"]))
    reader = reader_of(cluster)
    cluster.api.__exit__(None, None, None)  # (the fixture's own stop finds it stopped)
    read_in_background(reader)
    with pytest.raises(ClusterUnreachable):
        reader.finish_background()


def test_a_run_that_ends_early_stops_the_forked_reader(live: Any) -> None:
    """An error or Ctrl-C elsewhere: the reading process is ended and reaped at once, not left to read
    every page of a slow LIST."""
    cluster = live(objects_of([EXAMPLES / "bookinfo"]), page_cap=1, slow_pages=0.5)
    reader = reader_of(cluster)
    _, ended = read_in_background(reader)
    background = reader.background
    assert background is not None and background.forked is not None
    started = time.perf_counter()
    background.abandon()
    assert ended.wait(5) and time.perf_counter() - started < 2
    with pytest.raises(ChildProcessError):
        os.waitpid(background.forked.pid, os.WNOHANG)


def test_the_list_is_read_in_a_thread_when_told_to(live: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MESHDOCTOR_FORKED_LIST", "0")
    reader = reader_of(live(objects_of([EXAMPLES / "bookinfo"])))
    read_in_background(reader)
    assert reader.background is not None and reader.background.forked is None
    reader.finish_background()
    assert reader.results[-1].status.state == State.OK


def test_a_reading_process_that_dies_is_replaced_by_a_thread(live: Any) -> None:
    """Killed (for memory, say) before it answered: the LIST is read again in this process, the sink told
    it started over; the run goes on."""
    import signal

    cluster = live(objects_of([EXAMPLES / "bookinfo"]), page_cap=1, slow_pages=0.05)
    reader = reader_of(cluster)
    pages, _ = read_in_background(reader)
    background = reader.background
    assert background is not None and background.forked is not None
    time.sleep(0.2)
    os.kill(background.forked.pid, signal.SIGKILL)
    reader.finish_background()
    result = reader.results[-1]
    assert result.status.state == State.OK and None in pages
    after = pages[len(pages) - 1 - pages[::-1].index(None) + 1:]
    assert [id(p) for page in after if page for p in page] == [id(p) for p in result.items] and result.items
