"""Runs a read plan: each round sees the snapshot the rounds before it grew."""

from __future__ import annotations

import dataclasses
from typing import Any, Protocol

from kubectl_meshdoctor.cluster.resources import DEFAULT_ROOT_NAMESPACE, State
from kubectl_meshdoctor.run.readplan import ReadPlan, Seen, recorded
from kubectl_meshdoctor.snapshot.live import LiveReader
from kubectl_meshdoctor.snapshot.model import Snapshot


class PodStream(Protocol):
    """Where a streamed read's pages go: `page` for each (None: the LIST started over), `end` once."""

    def page(self, items: list[dict[str, Any]] | None) -> None: ...

    def end(self) -> None: ...


def execute(reader: LiveReader, plan: ReadPlan, seen: Seen, overlay: tuple[tuple[str, dict[str, Any]], ...] = (),
            mode: str = "live", stream: PodStream | None = None) -> Snapshot:
    """With a `stream` (and no overlay), the reads the plan marks streamed are read in the background,
    page by page into the stream, while the later rounds run; reader.finish_background() records them.
    Without one, every read of a round is waited for."""
    for number, (message, round_) in enumerate(plan.rounds):
        seen = dataclasses.replace(seen, snapshot=reader.snapshot(overlay, mode))
        reads = plan.reads(round_, seen)
        retry = (reader.namespace, DEFAULT_ROOT_NAMESPACE) if number == 0 else ()
        later = [r.request for r in reads if r.streamed and r.request is not None] \
            if stream is not None and not overlay else []
        if stream is not None and later:
            reader.read_in_background(later, stream.page, stream.end, retry)
        reader.read([r.request for r in reads if r.request is not None and r.request not in later], message, retry)
        for read in reads:
            if read.request is None:
                reader.record(recorded(read))
        if number == 0:
            if later and any(r.status.state in (State.FORBIDDEN, State.ERROR) for r in reader.results):
                reader.finish_background()  # whether anything is readable at all is judged with everything read
            reader.fail_if_nothing_readable()
    return reader.snapshot(overlay, mode)
