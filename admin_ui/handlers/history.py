"""History: datapoint series and instance figures from the historian's ``history.db``.

The UI reads the file itself, read-only, in a worker thread: WAL lets it read while
the historian writes, a query never waits behind the historian's ingest (or the other
way round), and no second copy of the data crosses a socket. The historian alone
writes. The JSON shape is documented in docs/history.md.
"""

from __future__ import annotations

import asyncio
import csv
import io
import sqlite3
import time
from datetime import UTC, datetime
from typing import Any

from edgeos.admin_ui.handlers.base import ApiError, ApiHandler
from edgeos.ipc.historian import query as hq

DAY_MS = 86_400_000
MAX_RANGE_MS = 3660 * DAY_MS
CSV_MAX_ROWS = 1_000_000
CSV_CHUNK = 10_000
METRICS = ("cpu_percent", "memory_mb", "pps_in", "pps_out")
RANGE_PARAMS = [
    {"name": "from", "schema": {"type": ["integer", "string"]},
     "description": "start: ms since the epoch or ISO 8601; default 24 h before 'to'"},
    {"name": "to", "schema": {"type": ["integer", "string"]},
     "description": "end (exclusive): ms since the epoch or ISO 8601; default now"},
    {"name": "max_points", "schema": {"type": "integer", "minimum": 1, "maximum": 10000,
                                      "default": 1000},
     "description": "at most this many points; min/max per bucket keep spikes"},
]
ADDRESS_PARAM = {"name": "address", "required": True,
                 "schema": {"type": "string", "minLength": 1, "maxLength": 512},
                 "description": "the datapoint, e.g. plc_001.MAIN.fTemp"}


def parse_time(name: str, raw: str) -> int:
    """``1732800000000`` or ``2026-11-29T12:00:00Z`` (no zone: UTC) to ms."""
    try:
        return int(raw)
    except ValueError:
        pass
    try:
        stamp = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise ApiError(400, f"{name} must be ms since the epoch or an ISO 8601 time, "
                            f"not {raw!r}") from None
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=UTC)
    return int(stamp.timestamp() * 1000)


class HistoryBase(ApiHandler):
    tag = "history"

    def time_range(self) -> tuple[int, int]:
        raw_to = self.get_query_argument("to", "")
        end = parse_time("to", raw_to) if raw_to else int(time.time() * 1000)
        raw_from = self.get_query_argument("from", "")
        start = parse_time("from", raw_from) if raw_from else end - DAY_MS
        if start >= end:
            raise ApiError(400, "from must be before to", {"from": start, "to": end})
        if end - start > MAX_RANGE_MS:
            raise ApiError(400, "the range may span at most 3660 days")
        return start, end

    async def in_thread(self, fn: Any, *args: Any) -> Any:
        """Run a query on a fresh read-only connection in a worker thread."""
        def run() -> Any:
            conn = hq.connect(self.edge.data_dir)
            try:
                return fn(conn, *args)
            finally:
                conn.close()

        try:
            return await asyncio.get_running_loop().run_in_executor(None, run)
        except hq.NoHistory as exc:
            raise ApiError(404, str(exc)) from None
        except sqlite3.DatabaseError as exc:  # e.g. moved aside for corruption just now
            raise ApiError(503, f"history database unavailable: {exc}") from None

    def address(self) -> str:
        address = self.get_query_argument("address", "")
        if not address or len(address) > 512:
            raise ApiError(400, "address is required (at most 512 characters)")
        return address


class History(HistoryBase):
    query = {"GET": [ADDRESS_PARAM, *RANGE_PARAMS]}

    async def get(self) -> None:
        """A datapoint's history, downsampled on the server: ``{"address", "from", "to",
        "raw", "bucket_ms", "before", "points": [[ts_ms, min, avg, max, last], ...]}``."""
        address = self.address()
        start, end = self.time_range()
        max_points = self.int_arg("max_points", 1000, 1, 10_000)
        self.send(await self.in_thread(hq.series, address, start, end, max_points))


class HistoryCsv(HistoryBase):
    query = {"GET": [ADDRESS_PARAM, *RANGE_PARAMS,
                     {"name": "raw", "schema": {"type": "boolean", "default": False},
                      "description": "every stored value instead of downsampled points "
                                     f"(at most {CSV_MAX_ROWS:,})"}]}

    async def get(self) -> None:
        """The same series as CSV (``ts_ms,time_utc,min,avg,max,last``), or with
        ``raw=true`` every stored value (``ts_ms,time_utc,value``)."""
        address = self.address()
        start, end = self.time_range()
        raw = self.get_query_argument("raw", "false").lower() in ("1", "true", "yes")
        if raw:
            rows = await self.in_thread(
                lambda c: list(hq.raw_rows(c, address, start, end, CSV_MAX_ROWS)))
            header = ["ts_ms", "time_utc", "value"]
        else:
            max_points = self.int_arg("max_points", 1000, 1, 100_000)
            rows = (await self.in_thread(hq.series, address, start, end, max_points))["points"]
            header = ["ts_ms", "time_utc", "min", "avg", "max", "last"]
        safe = "".join(ch if ch.isalnum() or ch in "._-" else "_" for ch in address)
        self.set_header("Content-Type", "text/csv; charset=UTF-8")
        self.set_header("Content-Disposition", f'attachment; filename="{safe}.csv"')
        for n in range(0, max(len(rows), 1), CSV_CHUNK):
            buf = io.StringIO()
            out = csv.writer(buf, lineterminator="\n")
            if n == 0:
                out.writerow(header)
            for row in rows[n:n + CSV_CHUNK]:
                stamp = datetime.fromtimestamp(row[0] / 1000, UTC)
                out.writerow([row[0], stamp.isoformat(timespec="milliseconds")
                              .replace("+00:00", "Z"), *row[1:]])
            self.write(buf.getvalue())
            await self.flush()
        self.finish()


class InstanceHistory(HistoryBase):
    query = {"GET": [
        {"name": "id", "required": True, "schema": {"type": "string"},
         "description": "instance id (broker, admin-ui, historian or a connection)"},
        {"name": "metric", "schema": {"enum": list(METRICS), "default": "cpu_percent"}},
        *RANGE_PARAMS]}

    async def get(self) -> None:
        """An instance's CPU %, RSS MB or packet rates over time (1 s values for the last
        hour, 1 min rollups for a week by default), in the shape of ``/api/history``."""
        iid = self.get_query_argument("id", "")
        metric = self.get_query_argument("metric", "cpu_percent")
        if not iid:
            raise ApiError(400, "id is required")
        if metric not in METRICS:
            raise ApiError(400, f"metric must be one of {', '.join(METRICS)}")
        start, end = self.time_range()
        max_points = self.int_arg("max_points", 1000, 1, 10_000)
        doc = await self.in_thread(hq.series, f"@{iid}.{metric}", start, end, max_points)
        self.send({**doc, "id": iid, "metric": metric})


class HistoryStats(HistoryBase):
    async def get(self) -> None:
        """The historian's counters: recorded, expired (retention), evicted (size cap),
        lost, series per kind, database size and the oldest raw value."""
        self.send(await self.in_thread(hq.stats))
