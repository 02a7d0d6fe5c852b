"""Runs a read plan: each round sees the snapshot the rounds before it grew."""

from __future__ import annotations

import dataclasses
from typing import Any

from kubectl_meshdoctor.cluster.resources import DEFAULT_ROOT_NAMESPACE
from kubectl_meshdoctor.run.readplan import ReadPlan, Seen, recorded
from kubectl_meshdoctor.snapshot.live import LiveReader
from kubectl_meshdoctor.snapshot.model import Snapshot


def execute(reader: LiveReader, plan: ReadPlan, seen: Seen, overlay: tuple[tuple[str, dict[str, Any]], ...] = (),
            mode: str = "live") -> Snapshot:
    for number, (message, round_) in enumerate(plan.rounds):
        seen = dataclasses.replace(seen, snapshot=reader.snapshot(overlay, mode))
        reads = plan.reads(round_, seen)
        retry = (reader.namespace, DEFAULT_ROOT_NAMESPACE) if number == 0 else ()
        reader.read([r.request for r in reads if r.request is not None], message, retry)
        for read in reads:
            if read.request is None:
                reader.record(recorded(read))
        if number == 0:
            reader.fail_if_nothing_readable()
    return reader.snapshot(overlay, mode)
