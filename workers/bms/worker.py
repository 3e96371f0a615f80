"""The bms worker: polls one battery BMS over serial or BLE and publishes its reading.

Every key of a reading becomes a datapoint ``<id>.<key>`` (``voltage``, ``cells.3``,
``alarms.short_circuit``, ...) with metadata (unit, device_class/state_class hints) the MQTT
bridge turns into Home Assistant discovery. ``<id>.online`` says whether the last poll
answered. While the BMS does not answer, every known point is published once with quality
``bad`` and polls back off (doubling from ``poll_interval_s`` up to ``backoff_max_s``).

A missing Bluetooth adapter (or BlueZ) does not crash the worker: crashing would only make
the supervisor restart it in a loop until it gives up with ``error`` and a stack trace that
points away from the real cause, and plugging in an adapter would then need a manual
restart. Instead the instance stays ``running``, reports ``connected: false`` and the reason
in ``last_error``, logs it once, and quietly checks again every ``adapter_retry_s``.

A BLE scan (``scan: true`` in the config, or the command ``<id>.scan`` = true) publishes
the devices nearby as ``<id>.scan.<mac-without-colons>.{name,address,rssi,kind}``.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any

from edgeos.workers.bms.errors import AdapterMissing, BmsError, BmsTimeout
from edgeos.workers.bms.model import Reading, Value
from edgeos.workers.bms.transports import Transport, create
from edgeos.workers.runtime import BadValue, ReadOnly, UnknownDatapoint, Worker

CLOSE_TIMEOUT_S = 1.5

# path -> (unit, device_class, state_class, description) for the contract's points
_POINTS: dict[str, tuple[str | None, str | None, str | None, str]] = {
    "voltage": ("V", "voltage", "measurement", "pack voltage"),
    "current": ("A", "current", "measurement", "pack current, positive while charging"),
    "power": ("W", "power", "measurement", "pack power, positive while charging"),
    "soc": ("%", "battery", "measurement", "state of charge"),
    "capacity_remaining": ("Ah", None, "measurement", "remaining capacity"),
    "capacity_nominal": ("Ah", None, "measurement", "nominal capacity"),
    "cycles": (None, None, "total_increasing", "charge cycles"),
    "charge_mos": (None, None, None, "charge MOSFET on"),
    "discharge_mos": (None, None, None, "discharge MOSFET on"),
    "online": (None, "connectivity", None, "the BMS answered the last poll"),
}
_GROUPS: dict[str, tuple[str | None, str | None, str | None, str]] = {
    "cells.": ("V", "voltage", "measurement", "cell voltage"),
    "temperatures.": ("°C", "temperature", "measurement", "temperature sensor"),
    "alarms.": (None, "problem", None, "alarm"),
}
# units of extras some protocols add; the bridge derives HA classes from the unit
_EXTRA_UNITS = {
    "cell_min": "V", "cell_max": "V", "cell_avg": "V", "cell_delta": "V",
    "voltage_acquisition": "V", "starter_voltage": "V", "midpoint_voltage": "V",
    "temperature_min": "°C", "temperature_max": "°C", "temperature_mosfet": "°C",
    "temperature_balancer": "°C", "load_current": "A", "pv_power": "W", "yield_today": "Wh",
    "soh": "%", "consumed_ah": "Ah", "cycle_capacity": "Ah", "charge_capacity_total": "Ah",
    "discharge_capacity_total": "Ah", "runtime_s": "s", "charge_time_s": "s",
    "discharge_time_s": "s", "time_to_go_min": "min",
}
_RAW_SUFFIXES = ("_bits", "_index", "_count")  # raw registers: in the UI, not in HA


def unit_of(path: str) -> str | None:
    """The unit a reading's key is published with."""
    if path in _POINTS:
        return _POINTS[path][0]
    for prefix, (unit, *_) in _GROUPS.items():
        if path.startswith(prefix):
            return unit
    return _EXTRA_UNITS.get(path)


def value_type(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    return "float" if isinstance(value, float) else "string"


def point_meta(path: str, value: Any, poll_interval_s: float) -> dict[str, Any]:
    """Metadata of one point for the UI tree and Home Assistant discovery."""
    meta: dict[str, Any] = {"type": value_type(value), "poll_interval_s": poll_interval_s}
    known = _POINTS.get(path) or next(
        (kind for prefix, kind in _GROUPS.items() if path.startswith(prefix)), None)
    if known is not None:
        unit, device_class, state_class, description = known
        if path.startswith(tuple(_GROUPS)):
            description = f"{description} {path.partition('.')[2]}"
        meta["description"] = description
        if device_class:
            meta["device_class"] = device_class
        if state_class:
            meta["state_class"] = state_class
    else:
        unit = _EXTRA_UNITS.get(path)
        if path.endswith(_RAW_SUFFIXES):
            meta["discovery"] = False
    if unit:
        meta["unit"] = unit
    return meta


class BmsWorker(Worker):
    """One BMS (JBD, Daly, ANT over serial or BLE; Victron from BLE advertisements)."""

    type_name = "bms"
    totals = frozenset({"polls"})
    transport: Transport

    async def setup(self) -> None:
        cfg = self.config
        self.interval = float(cfg["poll_interval_s"])
        self.backoff_max = max(float(cfg["backoff_max_s"]), self.interval)
        self.adapter_retry = float(cfg["adapter_retry_s"])
        self.scan_timeout = float(cfg["scan_timeout_s"])
        self.transport = create(cfg)
        self.endpoint = cfg.get("serial_port") if cfg["transport"] == "serial" \
            else cfg.get("address")
        self._last: dict[str, Value] = {}  # last good value per point
        self._meta_sent: dict[str, dict[str, Any]] = {}
        self._online: bool | None = None
        self._failures = 0  # polls failed in a row
        self._adapter_missing: str | None = None
        self._scan_task: asyncio.Task[None] | None = None
        # BlueZ runs one discovery per client: a scan must not overlap a BLE poll (which
        # scans for Victron advertisements, or to find the device before connecting)
        self._radio: contextlib.AbstractAsyncContextManager[Any] = (
            asyncio.Lock() if cfg["transport"] == "ble" else contextlib.nullcontext())
        self._scanned: dict[str, int] = {}  # MAC without colons -> last RSSI, under scan.
        self.polls = self.answers = self.errors = self.timeouts = 0
        self.last_error: str | None = None
        self.latency_ms: float | None = None
        self._mark = (time.monotonic(), 0)
        self._meta("online", False)
        self._meta("scan", False, type="bool", writable=True, discovery=False,
                   description="true starts a BLE scan; false again when it is done")

    # -- polling ---------------------------------------------------------------------
    async def run(self) -> None:
        if self.config.get("scan"):
            self._start_scan()
        loop = asyncio.get_running_loop()
        while True:
            started = loop.time()
            pause = await self._poll()
            await asyncio.sleep(max(0.0, started + pause - loop.time()))

    async def _poll(self) -> float:
        """One poll; returns the seconds from its start to the next one."""
        self.polls += 1
        try:
            async with self._radio:
                started = time.monotonic()
                reading = await self.transport.poll()
        except AdapterMissing as exc:
            self._no_adapter(exc)
            return self.adapter_retry
        except BmsError as exc:
            self._failed(exc)
            return self._backoff()
        self.latency_ms = round((time.monotonic() - started) * 1000, 1)
        self._answered(reading)
        return self.interval

    def _backoff(self) -> float:
        return min(self.interval * 2 ** (self._failures - 1), self.backoff_max)

    def _answered(self, reading: Reading) -> None:
        self.answers += 1
        if self._adapter_missing is not None:
            self.log.info("Bluetooth adapter available again")
            self._adapter_missing = None
        if self._online is False:
            self.log.info("%s answers again after %d failed polls", self.endpoint,
                          self._failures)
        self._failures = 0
        for path, value in reading.items():
            self._meta(path, value)
            self._last[path] = value
            self.publish(path, value, unit=unit_of(path))
        self._set_online(True)

    def _failed(self, exc: BmsError) -> None:
        self._failures += 1
        self.errors += 1
        self.timeouts += isinstance(exc, BmsTimeout)
        self.last_error = f"{self.endpoint}: {exc}"
        self.count_error(self.last_error)
        self._mark_bad()

    def _no_adapter(self, exc: AdapterMissing) -> None:
        if self._adapter_missing is None:  # said (and logged) once, not on every check
            message = (f"Bluetooth adapter missing: {exc} (idle; checking again every "
                       f"{self.adapter_retry:g} s)")
            self._adapter_missing = self.last_error = message
            self.errors += 1
            self.count_error(message)
        self._mark_bad()

    def _mark_bad(self) -> None:
        """Say once per outage that the known values are stale."""
        if self._online is False:
            return
        for path, value in self._last.items():
            self.publish(path, value, quality="bad", unit=unit_of(path))
        self._set_online(False)

    def _set_online(self, online: bool) -> None:
        self._online = online
        self.publish("online", online)

    def _meta(self, path: str, value: Any, **extra: Any) -> None:
        meta = {**point_meta(path, value, self.interval), **extra}
        if self._meta_sent.get(path) != meta:
            self._meta_sent[path] = meta
            self.publish_meta(path, **meta)

    # -- BLE scan --------------------------------------------------------------------
    async def on_command(self, path: str, value: Any) -> None:
        if path != "scan":
            if path in self._last or path in self._meta_sent:
                raise ReadOnly(f"{self.id}.{path} is read-only")
            raise UnknownDatapoint(f"{self.id} has no datapoint {path!r}")
        flag = str(value).lower()
        if value is True or flag in ("true", "1", "on"):
            self._start_scan()
        elif value is False or flag in ("false", "0", "off"):
            if self._scan_task is None or self._scan_task.done():
                self.publish("scan", False)
        else:
            raise BadValue(f"{self.id}.scan: bad value {value!r}, expected true or false")

    def _start_scan(self) -> None:
        if self._scan_task is not None and not self._scan_task.done():
            return  # one scan at a time; it reports scan = false when done
        self._scan_task = asyncio.create_task(self._scan())

    async def _scan(self) -> None:
        from edgeos.workers.bms.transports.ble import scan  # bleak only when a scan is asked for

        self.publish("scan", True)
        try:
            async with self._radio:
                devices = await scan(self.scan_timeout)
        except BmsError as exc:
            self.count_error(f"BLE scan failed: {exc}")
            self._meta("scan.error", "")
            self.publish("scan.error", str(exc))
            return
        finally:
            self.publish("scan", False)
        seen = {}
        for device in devices:
            key = device.address.replace(":", "").replace("-", "").upper()
            seen[key] = device.rssi
            for field, value in (("name", device.name or ""), ("address", device.address),
                                 ("rssi", device.rssi), ("kind", device.kind or "")):
                unit = "dBm" if field == "rssi" else None
                self._meta(f"scan.{key}.{field}", value, discovery=False,
                           **({"unit": unit} if unit else {}))
                self.publish(f"scan.{key}.{field}", value, unit=unit)
        for key in self._scanned.keys() - seen:  # not heard this time
            self.publish(f"scan.{key}.rssi", self._scanned[key], quality="uncertain", unit="dBm")
        self._scanned |= seen
        self._meta("scan.devices", len(devices), discovery=False)
        self.publish("scan.devices", len(devices))
        self._meta("scan.error", "")
        self.publish("scan.error", "")
        self.log.info("BLE scan found %d device(s)", len(devices))

    # -- lifecycle and figures -------------------------------------------------------
    async def teardown(self) -> None:
        if self._scan_task is not None:
            self._scan_task.cancel()
        self._mark_bad()  # nobody watches the battery any more
        with contextlib.suppress(BmsError, OSError, TimeoutError):
            await asyncio.wait_for(self.transport.close(), CLOSE_TIMEOUT_S)

    def stats(self) -> dict[str, Any]:
        now = time.monotonic()
        t0, polls0 = self._mark
        self._mark = (now, self.polls)
        return {
            "connected": bool(self._online), "transport": self.config["transport"],
            "protocol": self.config["protocol"], "endpoint": self.endpoint,
            "polls_per_s": round((self.polls - polls0) / max(now - t0, 1e-3), 2),
            "polls": self.polls, "errors": self.errors, "timeouts": self.timeouts,
            "failures_in_row": self._failures, "last_error": self.last_error,
            "adapter_missing": self._adapter_missing is not None,
            "latency_ms": self.latency_ms, "points": len(self._last),
            "scanning": self._scan_task is not None and not self._scan_task.done(),
            "packets_sent": self.polls, "packets_recv": self.answers,
        }
