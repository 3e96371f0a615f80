"""The mbus worker: reads wired M-Bus meters on one serial line and publishes their records.

Reliability follows the M-Bus MQTT gateway v2 (planning summary):

- every serial read has a deadline (:class:`~edgeos.workers.mbus.master.Master`), and the blocking
  I/O runs in one thread, so the event loop keeps its heartbeats;
- one meter offline never stops the others: each meter has its own poll interval and its
  own circuit breaker with exponential back-off, so a dead meter costs one bounded timeout
  now and then instead of one per round;
- a meter that stops answering is marked at once: ``<meter>.online`` = false and every
  record it had published again with quality ``bad`` (never stale ``good``);
- a broken port is closed and reopened on the next request, and does not trip any
  meter's breaker (it is not the meters' fault);
- what the worker learned about each meter (its name, its records with their metadata, the
  last values) is kept in ``<data>/mbus/<instance>.json``: after a restart a meter that is
  away is still reported under the same names, with its last values marked ``bad``.

Datapoints: ``<id>.<meter>.<record>``. ``<meter>`` is the meter's configured ``name``, else
its decoded identification number (remembered across restarts); until a meter without a
name has ever answered it is ``address_<n>`` or its secondary address. ``<record>`` is
:func:`record_names`' stable, human-readable name. ``<meter>.online`` and
``<meter>.meter.{id,manufacturer,medium,version,status}`` describe the meter itself.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import serial
from edgeos.common.files import atomic_write_json
from edgeos.workers.mbus.master import (
    CircuitBreaker,
    Master,
    MBusError,
    MBusTimeout,
    Meter,
    PortError,
)
from edgeos.workers.runtime import Worker

CLOSE_TIMEOUT_S = 1.5
STATE_VERSION = 1

_FUNCTIONS = {"Instantaneous value": "", "Actual value": "", "Maximum value": "max",
              "Minimum value": "min", "Value during error state": "err", "Stored value": "stored"}
_SKIPPED = {"More records follow"}  # a trailer flag, not a value
_CUMULATIVE = {"Energy", "Volume", "Mass", "On time", "Operating time", "H.C.A."}
_IDENTITY = ("id", "manufacturer", "medium", "version", "status")


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")


def record_names(records: Sequence[Mapping[str, Any]]) -> list[str | None]:
    """One datapoint path per record (None for records that carry no value).

    ``<quantity>[_<function>][_s<storage>][_t<tariff>][_u<subunit>]``, slugified: function is
    left out for current values and is ``max``, ``min``, ``err`` (value during error state)
    or ``stored``; storage, tariff and subunit only when not 0. A quantity the decoder could
    not name gives ``record_<index>`` (0-based, as ``python -m edgeos.workers.mbus decode`` lists
    them), manufacturer-specific data ``manufacturer_specific``. The second and later
    records with the same name get ``_2``, ``_3``, ... in frame order (meters send their
    records in a fixed order, so the names are stable).
    """
    names: list[str | None] = []
    seen: Counter[str] = Counter()
    for index, record in enumerate(records):
        function = record.get("function", "")
        if function in _SKIPPED:
            names.append(None)
            continue
        if function == "Manufacturer specific":
            name = "manufacturer_specific"
        else:
            name = slug(record.get("quantity") or "") or f"record_{index}"
            suffix = _FUNCTIONS.get(function, slug(function))
            name += f"_{suffix}" if suffix else ""
        for key, tag in (("storage", "s"), ("tariff", "t"), ("subunit", "u")):
            if record.get(key):
                name += f"_{tag}{record[key]}"
        seen[name] += 1
        names.append(name if seen[name] == 1 else f"{name}_{seen[name]}")
    return names


def unit_of(record: Mapping[str, Any]) -> str | None:
    unit = record.get("unit")
    return None if unit in (None, "", "-") else unit


def record_meta(record: Mapping[str, Any], index: int, telegram: Mapping[str, Any],
                poll_interval_s: float) -> dict[str, Any]:
    """Metadata of a record: what it is, where it comes from, and Home Assistant hints.

    Only current values with a unit are announced to Home Assistant; historic values
    (storage > 0, max/min/error-state), ids, dates and manufacturer data stay in the UI.
    """
    unit = unit_of(record)
    current = not record.get("storage") and _FUNCTIONS.get(record.get("function", "")) == ""
    meta: dict[str, Any] = {
        "type": "float" if isinstance(record.get("value"), float | int) else "string",
        "quantity": record.get("quantity", ""), "function": record.get("function", ""),
        "storage": record.get("storage", 0), "tariff": record.get("tariff", 0),
        "subunit": record.get("subunit", 0), "record": index,
        "medium": telegram.get("medium"), "manufacturer": telegram.get("manufacturer"),
        "meter_id": telegram.get("id"), "poll_interval_s": poll_interval_s,
        "description": " ".join(str(part) for part in (
            record.get("function", ""), record.get("quantity", ""),
            f"storage {record['storage']}" if record.get("storage") else "",
            f"tariff {record['tariff']}" if record.get("tariff") else "",
            f"subunit {record['subunit']}" if record.get("subunit") else "") if part),
    }
    if unit:
        meta["unit"] = unit
    if not (current and unit):
        meta["discovery"] = False
    elif record.get("quantity") in _CUMULATIVE:
        meta["state_class"] = "total_increasing"
    return meta


@dataclass
class Slot:
    """One configured meter and what the worker knows about it."""

    meter: Meter
    position: int  # 1-based, in the config's list
    name: str | None  # configured
    interval: float
    label: str = ""  # the <meter> part of its datapoint paths
    due: float = 0.0
    online: bool | None = None
    identity: dict[str, Any] = field(default_factory=dict)
    records: dict[str, dict[str, Any]] = field(default_factory=dict)  # path -> meta
    values: dict[str, list[Any]] = field(default_factory=dict)  # path -> [value, unit, ts]
    requests: int = 0
    answers: int = 0
    timeouts: int = 0
    errors: int = 0
    last_error: str | None = None
    latency_ms: float | None = None


class MbusWorker(Worker):
    """A list of meters (primary or secondary addresses) on one M-Bus master."""

    type_name = "mbus"
    totals = frozenset({"requests"})

    async def setup(self) -> None:
        cfg = self.config
        self.master = Master(cfg["serial_port"], int(cfg["baudrate"]),
                             float(cfg["timeout_s"]), retries=int(cfg["retries"]),
                             serial_factory=open_port)
        breaker = cfg["breaker"]  # complete: the supervisor filled the schema's defaults
        self.breaker = CircuitBreaker(threshold=int(breaker["failures"]),
                                      base_delay_s=float(breaker["open_s"]),
                                      max_delay_s=float(breaker["max_open_s"]))
        self.state_file = Path(self.spec.data_dir) / "mbus" / f"{self.id}.json"
        remembered = self._load_state()
        interval = float(cfg["poll_interval_s"])
        self.slots: list[Slot] = []
        for position, entry in enumerate(cfg["meters"], start=1):
            meter = Meter.from_config(entry)
            if any(s.meter.key == meter.key for s in self.slots):
                raise ValueError(f"{self.id}: meter {meter.key} is configured twice")
            known = remembered.get(meter.key, {})
            slot = Slot(meter, position, entry.get("name"),
                        float(entry.get("poll_interval_s", interval)),
                        identity=known.get("identity", {}), records=known.get("records", {}),
                        values=known.get("values", {}))
            slot.label = self._unique(entry.get("name") or known.get("label")
                                      or provisional_label(meter), slot)
            self.slots.append(slot)
            self._publish_metas(slot)
        self._io = ThreadPoolExecutor(1, thread_name_prefix=f"mbus-{self.id}")
        self.port_error: str | None = None
        self._mark = (time.monotonic(), 0)
        self.log.info("%s at %d baud: %d meter(s)", self.master.port, self.master.baudrate,
                      len(self.slots))

    def _unique(self, label: str, slot: Slot) -> str:
        """``label``, or ``label_<position>`` if another meter goes by it already."""
        taken = any(s.label == label for s in self.slots if s is not slot)
        return f"{label}_{slot.position}" if taken else label

    # -- polling ---------------------------------------------------------------------
    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        for slot in self.slots:
            slot.due = loop.time()
        while True:
            slot = min(self.slots, key=lambda s: s.due)
            wait = slot.due - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
                continue
            await self._poll(slot)

    async def _poll(self, slot: Slot) -> None:
        loop = asyncio.get_running_loop()
        key = slot.meter.key
        if not self.breaker.allow(key):  # open: wait for the retry time (then half-open)
            slot.due = max(slot.due, self.breaker.retry_at(key) or 0.0)
            return
        slot.requests += 1
        data, error, latency_ms = await loop.run_in_executor(self._io, self._read, slot.meter)
        now = loop.time()
        slot.due = slot.due + slot.interval if slot.due + slot.interval > now \
            else now + slot.interval
        if error is None:
            assert data is not None
            self.port_error = None
            self.breaker.record_success(key)
            slot.latency_ms = latency_ms
            self._answered(slot, data)
            return
        if isinstance(error, PortError):
            self.port_error = str(error)  # not the meter's fault: its breaker stays as it is
        else:
            self.breaker.record_failure(key)
        slot.timeouts += isinstance(error, MBusTimeout)
        slot.errors += 1
        slot.last_error = str(error)
        self._failed(slot, error)
        if (retry_at := self.breaker.retry_at(key)) is not None:
            slot.due = max(slot.due, retry_at)

    def _read(self, meter: Meter) -> tuple[dict[str, Any] | None, MBusError | None, float]:
        """One meter, in the I/O thread: (telegram, None, ms) or (None, error, ms)."""
        started = time.monotonic()
        try:
            data = self.master.read(meter)
        except MBusError as exc:
            return None, exc, round((time.monotonic() - started) * 1000, 1)
        return data, None, round((time.monotonic() - started) * 1000, 1)

    def _answered(self, slot: Slot, telegram: dict[str, Any]) -> None:
        slot.answers += 1
        if slot.online is False:
            self.log.info("%s (%s) answers again", slot.label, slot.meter.key)
        changed = False
        if slot.name is None and telegram.get("id") and slot.label != telegram["id"]:
            slot.label = self._unique(str(telegram["id"]), slot)
            changed = True
        identity = {k: telegram.get(k) for k in _IDENTITY}
        records = telegram.get("records", [])
        named = [(index, path, record) for index, (path, record)
                 in enumerate(zip(record_names(records), records, strict=True)) if path]
        metas = {path: record_meta(record, index, telegram, slot.interval)
                 for index, path, record in named}
        if changed or metas != slot.records or _static(identity) != _static(slot.identity):
            slot.records = metas
            slot.values = {p: v for p, v in slot.values.items() if p in metas}
            self._publish_metas(slot)
            changed = True
        slot.identity = identity
        ts = int(time.time() * 1000)
        prefix = slot.label + "."
        for _, path, record in named:
            unit = unit_of(record)
            slot.values[path] = [record["value"], unit, ts]
            self.publish(prefix + path, record["value"], unit=unit, ts=ts)
        for key in _IDENTITY:
            self.publish(f"{prefix}meter.{key}", identity[key], ts=ts)
        slot.online = True
        self.publish(prefix + "online", True, ts=ts)
        if changed:
            self._save_state()

    def _failed(self, slot: Slot, error: MBusError) -> None:
        if slot.online is not False:  # counted and said once per outage
            self.count_error(f"{slot.label} ({slot.meter.key}): {error}")
            self._mark_offline(slot)

    def _mark_offline(self, slot: Slot) -> None:
        """``online`` false, and the last values again with quality bad (their own ts)."""
        slot.online = False
        prefix = slot.label + "."
        for path, (value, unit, ts) in slot.values.items():
            self.publish(prefix + path, value, quality="bad", unit=unit, ts=ts)
        for key in _IDENTITY:
            if key in slot.identity:
                self.publish(f"{prefix}meter.{key}", slot.identity[key], quality="bad")
        self.publish(prefix + "online", False)

    def _publish_metas(self, slot: Slot) -> None:
        prefix = slot.label + "."
        self.publish_meta(prefix + "online", type="bool", device_class="connectivity",
                          poll_interval_s=slot.interval,
                          description=f"meter {slot.meter.key} answered its last request")
        for key in _IDENTITY:
            self.publish_meta(f"{prefix}meter.{key}", discovery=False,
                              type="int" if key in ("version", "status") else "string",
                              description=f"meter {key}" + (
                                  " (M-Bus status byte)" if key == "status" else ""))
        for path, meta in slot.records.items():
            self.publish_meta(prefix + path, **meta)

    # -- state kept across restarts --------------------------------------------------
    def _load_state(self) -> dict[str, dict[str, Any]]:
        try:
            doc = json.loads(self.state_file.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            self.log.warning("ignoring unreadable %s: %s", self.state_file, exc)
            return {}
        if not isinstance(doc, dict) or doc.get("version") != STATE_VERSION:
            return {}
        return dict(doc.get("meters", {}))

    def _save_state(self) -> None:
        doc = {"version": STATE_VERSION, "meters": {
            s.meter.key: {"label": s.label, "identity": s.identity, "records": s.records,
                          "values": s.values} for s in self.slots}}
        try:
            atomic_write_json(self.state_file, doc)
        except OSError as exc:
            self.count_error(f"cannot save {self.state_file}: {exc}")

    # -- lifecycle and figures -------------------------------------------------------
    async def teardown(self) -> None:
        self._save_state()  # the last values, for a restart that finds a meter away
        for slot in self.slots:
            if slot.online:
                self._mark_offline(slot)  # nobody reads the meters any more
        loop = asyncio.get_running_loop()
        try:
            await asyncio.wait_for(loop.run_in_executor(self._io, self.master.close),
                                   CLOSE_TIMEOUT_S)
        finally:
            self._io.shutdown(wait=False, cancel_futures=True)

    def stats(self) -> dict[str, Any]:
        now = time.monotonic()
        requests = sum(s.requests for s in self.slots)
        answers = sum(s.answers for s in self.slots)
        t0, requests0 = self._mark
        self._mark = (now, requests)
        latencies = [s.latency_ms for s in self.slots if s.online and s.latency_ms is not None]
        errors = [s for s in self.slots if s.last_error]
        return {
            "connected": any(s.online for s in self.slots) and self.port_error is None,
            "port": self.master.port, "port_error": self.port_error,
            "meters_online": sum(bool(s.online) for s in self.slots),
            "meters": {s.label: self._meter_stats(s, now) for s in self.slots},
            "requests_per_s": round((requests - requests0) / max(now - t0, 1e-3), 2),
            "requests": requests, "timeouts": sum(s.timeouts for s in self.slots),
            "errors": sum(s.errors for s in self.slots),
            "last_error": errors[-1].last_error if errors else None,
            "latency_ms": round(sum(latencies) / len(latencies), 1) if latencies else None,
            "packets_sent": requests, "packets_recv": answers,
        }

    def _meter_stats(self, slot: Slot, now: float) -> dict[str, Any]:
        retry_at = self.breaker.retry_at(slot.meter.key)
        return {
            "meter": slot.meter.key, "state": self.breaker.state(slot.meter.key),
            "online": slot.online, "requests": slot.requests, "answers": slot.answers,
            "timeouts": slot.timeouts, "errors": slot.errors, "last_error": slot.last_error,
            "latency_ms": slot.latency_ms, "records": len(slot.records),
            "retry_in_s": round(max(0.0, retry_at - now), 1) if retry_at else None,
        }


def open_port(url: str, **settings: Any) -> serial.SerialBase:
    """``serial.serial_for_url``, without parity on a pseudo-terminal.

    A pty has no parity: Linux drops PARENB when the port is first configured and then
    refuses (EINVAL) to set it again, so an emulated line could never be reopened.
    """
    if os.path.realpath(url).startswith("/dev/pts/"):
        settings["parity"] = serial.PARITY_NONE
    return serial.serial_for_url(url, **settings)


def provisional_label(meter: Meter) -> str:
    """The name of a meter that has no configured name and has never answered."""
    if meter.secondary is not None:
        digits = meter.secondary[:8]
        return str(int(digits)) if digits.isdigit() else f"secondary_{meter.secondary}"
    return f"address_{meter.address}"


def _static(identity: Mapping[str, Any]) -> dict[str, Any]:
    """The parts of a meter's identity that do not change from telegram to telegram."""
    return {k: v for k, v in identity.items() if k != "status"}
