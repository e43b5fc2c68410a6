"""The event hub alone: one poll per tick whatever the number of clients, filters, overflow."""

from __future__ import annotations

import asyncio
from typing import Any

from mlbench.server.events import BATCH, EventHub, Subscriber


class FakeEvents:
    """An append-only event table in memory, counting the reads."""

    def __init__(self) -> None:
        self.rows: list[dict[str, Any]] = []
        self.reads = 0

    def add(self, job_id: str, n: int = 1) -> list[int]:
        ids = []
        for _ in range(n):
            event_id = len(self.rows) + 1
            self.rows.append(
                {"id": event_id, "job_id": job_id, "kind": "status", "data": {}, "created_at": ""}
            )
            ids.append(event_id)
        return ids

    def fetch(self, after: int, limit: int) -> list[dict[str, Any]]:
        self.reads += 1
        return [dict(r) for r in self.rows if r["id"] > after][:limit]

    def last_id(self) -> int:
        return len(self.rows)


async def _run(fn: Any, *args: Any) -> Any:
    return fn(*args)


def drain(sub: Subscriber) -> list[Any]:
    out = []
    while not sub.queue.empty():
        item = sub.queue.get_nowait()
        out.append(item if item is None else item["id"])
    return out


async def test_one_poll_serves_every_subscriber_and_stops_when_none_is_left() -> None:
    table = FakeEvents()
    table.add("old", 3)
    hub = EventHub(table.fetch, table.last_id, _run, interval=0.02)
    subs = [Subscriber() for _ in range(50)]
    starts = [await hub.subscribe(s) for s in subs]
    assert starts == [3] * 50  # live tail starts after what exists
    new = table.add("a", 4)
    await asyncio.sleep(0.15)
    assert all(drain(s) == new for s in subs)
    # one query per tick for all 50 clients (polling per client would be 50 per tick)
    assert table.reads == hub.polls <= 0.15 / 0.02 + 3
    for s in subs:
        hub.unsubscribe(s)
    await asyncio.sleep(0.1)
    idle_reads = table.reads
    await asyncio.sleep(0.1)
    assert table.reads == idle_reads  # nobody listening: no polling
    late = Subscriber()
    assert await hub.subscribe(late) == 7  # restarts from the newest id
    await hub.close()


async def test_filters_big_batches_and_overflow() -> None:
    table = FakeEvents()
    hub = EventHub(table.fetch, table.last_id, _run, interval=0.01)
    only_b = Subscriber(frozenset({"b"}))
    small = Subscriber(max_pending=5)
    everyone = Subscriber(max_pending=10 * BATCH)
    for s in (only_b, small, everyone):
        await hub.subscribe(s)
    table.add("a", BATCH + 10)  # more than one batch: read back to back, in order
    b_ids = table.add("b", 2)
    await asyncio.sleep(0.2)
    assert drain(only_b) == b_ids
    assert drain(everyone) == list(range(1, BATCH + 13))
    got = drain(small)
    assert got == [1, 2, 3, 4, 5, None] and small.overflowed  # told once, then dropped
    await hub.close()
