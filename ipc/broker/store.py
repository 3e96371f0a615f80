"""Last value of every datapoint, in memory, persisted behind to SQLite.

Datapoints are kept per source instance as *points* (``sources[instance][path]``), so
the hot path stores a value with one dict lookup and without building its address. A
point is a list ``[entry, plan, unsaved]``:

- ``entry``: the wire item itself, ``(path, value, ts_ms, quality, ack, unit, ...)``
  (path relative to its instance), stored without copying; None until a value came;
- ``plan``: the dispatcher's routing plan for values on this path (see
  :mod:`edgeos.ipc.broker.fastpath`), ``UNPLANNED`` until it made one;
- ``unsaved``: True while the entry waits for the next flush; the point is then also
  in its source's ``unsaved`` list.

Writes are batched: unsaved points are flushed about once a second in a worker
thread. On start the file is read back, so last values survive a restart of the broker
or the daemon (they keep their old ``ts``).
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import sqlite3
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from edgeos.ipc.storage.sqlite import open_db

log = logging.getLogger(__name__)


def _setup(db: sqlite3.Connection) -> None:
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    db.execute("CREATE TABLE IF NOT EXISTS last_values (address TEXT PRIMARY KEY, "
               "value TEXT, ts INTEGER, quality TEXT, ack INTEGER, unit TEXT)")
    db.execute("SELECT COUNT(*) FROM last_values").fetchone()  # corrupt pages show here


def encode(value: Any) -> str:
    """``json.dumps(value)``; numbers, most of what is stored, without the encoder's
    per-call set-up (json writes a finite number as its ``repr`` too)."""
    kind = type(value)
    if kind is int or (kind is float and math.isfinite(value)):
        return repr(value)
    return json.dumps(value)


FLUSH_SLICE = 8  # rows encoded between two looks at the clock during a flush
FLUSH_SLICE_NS = 100_000  # the loop thread's CPU a flush takes before the loop turns
Entry = tuple[Any, ...] | list[Any]
Point = list[Any]
UNPLANNED = False


class LastValues:
    def __init__(self, path: Path, cpu_clock: Callable[[], int] = time.thread_time_ns) -> None:
        self.path = path
        self.cpu_clock = cpu_clock  # the flush's slices are counted on it (a test's fake)
        self.sources: dict[str, dict[str, Point]] = {}
        self.unsaved: dict[str, list[Point]] = {}
        self.empty: list[Point] = []
        """Points made without a value (most get one in the same batch); pruned by
        :meth:`__len__`, which thus counts without walking every point."""
        self._db = open_db(path, _setup, check_same_thread=False, isolation_level=None)
        self._lock = asyncio.Lock()

    def of(self, source: str) -> tuple[dict[str, Point], list[Point]]:
        """The points and the unsaved list of one source; the hot path updates both."""
        points = self.sources.get(source)
        if points is None:
            points = self.sources[source] = {}
            self.unsaved[source] = []
        return points, self.unsaved[source]

    def point(self, source: str, path: str) -> Point:
        """The point of ``path``, created (empty, unplanned) if new."""
        points, _ = self.of(source)
        point = points.get(path)
        if point is None:
            point = points[path] = [None, UNPLANNED, False]
            self.empty.append(point)
        return point

    def put(self, source: str, entry: Entry) -> None:
        point = self.point(source, entry[0])
        point[0] = entry
        if not point[2]:
            point[2] = True
            self.unsaved[source].append(point)

    def forget_plans(self) -> None:
        """Routes or instances changed: every plan must be made again."""
        for points in self.sources.values():
            for point in points.values():
                point[1] = UNPLANNED

    def get(self, address: str) -> Entry | None:
        """The entry of an absolute address. Instance ids may contain dots: the longest
        source holding the rest as a path wins, as in address resolution."""
        end = len(address)
        while (end := address.rfind(".", 0, end)) > 0:
            points = self.sources.get(address[:end])
            if points is not None:
                point = points.get(address[end + 1:])
                if point is not None and point[0] is not None:
                    return point[0]
        return None

    def items(self) -> Iterator[tuple[str, Entry]]:
        """Every ``(address, entry)``."""
        for source, points in self.sources.items():
            for path, point in points.items():
                if point[0] is not None:
                    yield f"{source}.{path}", point[0]

    def __len__(self) -> int:
        """Datapoints with a value. The heartbeat asks every second: walking 2,000
        points took 0.3-0.5 ms of the loop here, a turn a batch would wait for."""
        self.empty = [point for point in self.empty if point[0] is None]
        return sum(map(len, self.sources.values())) - len(self.empty)

    def restore(self, split: Callable[[str], tuple[str, str] | None]) -> int:
        """Load what was persisted; returns the number of datapoints restored.

        ``split`` maps an address to ``(instance, path)`` for the instances configured now;
        addresses of instances no longer configured split at their first dot.
        """
        rows = self._db.execute("SELECT address, value, ts, quality, ack, unit FROM last_values")
        n = 0
        for address, value, ts, quality, ack, unit in rows:
            try:
                decoded = json.loads(value)
            except (TypeError, ValueError):
                continue
            parts = split(address)
            if parts is None or not parts[1]:
                if "." not in address:
                    continue
                parts = tuple(address.split(".", 1))
            source, path = parts
            self.point(source, path)[0] = (path, decoded, ts, quality, bool(ack), unit)
            n += 1
        return n

    def _write(self, rows: list[tuple[Any, ...]]) -> None:
        with self._db:
            self._db.execute("BEGIN")
            self._db.executemany("INSERT OR REPLACE INTO last_values VALUES (?,?,?,?,?,?)", rows)

    async def flush(self) -> None:
        """Persist unsaved entries (SQLite in a thread; the event loop keeps routing).

        The rows are encoded on the loop, and after ``FLUSH_SLICE_NS`` of the loop
        thread's CPU (looked at every ``FLUSH_SLICE`` rows) the flush lets the loop
        turn, so a batch arriving meanwhile waits for one slice (a tenth of a
        millisecond), not for the second's worth of changes: a hundred rows at a time
        took 0.9 ms of CPU per slice on a loaded machine, nine times a second, and at
        10,000 datapoints/s one batch in a hundred came in during one: the p99's share
        (bench/router_tail.py). A point leaves the unsaved state only when its entry
        is read: a value stored while the flush is under way is either in this flush or
        listed again for the next one."""
        async with self._lock:
            taken = []
            for source, unsaved in self.unsaved.items():
                if unsaved:
                    taken.append((source + ".", unsaved[:]))
                    unsaved.clear()  # the same list: the hot path holds it
            rows: list[tuple[Any, ...]] = []
            clock = self.cpu_clock
            until = clock() + FLUSH_SLICE_NS
            count = 0
            for prefix, points in taken:
                for point in points:
                    count += 1
                    if count % FLUSH_SLICE == 0 and clock() >= until:
                        await asyncio.sleep(0)
                        until = clock() + FLUSH_SLICE_NS
                    point[2] = False
                    entry = point[0]
                    try:
                        encoded = encode(entry[1])
                    except (TypeError, ValueError):
                        continue  # blobs and other non-JSON values are not persisted
                    rows.append((prefix + entry[0], encoded, entry[2], entry[3],
                                 int(bool(entry[4])), entry[5]))
            if rows:
                await asyncio.get_running_loop().run_in_executor(None, self._write, rows)

    def close(self) -> None:
        self._db.close()
