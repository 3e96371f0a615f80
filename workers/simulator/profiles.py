"""Value generators for the simulated devices.

Each profile yields ``(path, value, unit)`` tuples per tick from a small physical
model, so values move plausibly (a battery that charges raises SOC and cell voltages).
Every profile has a writable ``setpoint`` (PLC: ``MAIN.setpoint``).
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from typing import Any

Sample = tuple[str, Any, str | None]


class Profile:
    """Base: the writable setpoint shared by all profiles. A profile's model state starts
    from class attributes (``temp = 20.0``): the first update makes it the instance's."""

    setpoint_path = "setpoint"
    setpoint_unit: str | None = None
    setpoint_start = 0.0

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.setpoint: float = self.setpoint_start
        self.t = 0.0

    def write(self, path: str, value: Any) -> Any:
        """Accept a command; returns the value to report back (ack true)."""
        if path != self.setpoint_path:
            raise KeyError(path)
        self.setpoint = float(value)
        return self.setpoint

    def tick(self, dt: float) -> Iterator[Sample]:
        """Advance the model by ``dt`` seconds: the setpoint, then the model's values."""
        self.t += dt
        yield self.setpoint_path, self.setpoint, self.setpoint_unit
        yield from self.sample(dt)

    def sample(self, dt: float) -> Iterator[Sample]:
        """The model's own values after ``dt`` more seconds (``self.t`` is advanced)."""
        return iter(())

    def meta(self) -> dict[str, dict[str, Any]]:
        return {self.setpoint_path: {"writable": True, "type": "float",
                                     "unit": self.setpoint_unit}}


class PlcProfile(Profile):
    """A TwinCAT-style PLC: temperatures, a battery function block, an alarm."""

    setpoint_path = "MAIN.setpoint"
    setpoint_unit = "°C"
    setpoint_start = 21.0
    temp = 20.0

    def sample(self, dt: float) -> Iterator[Sample]:
        self.temp += (self.setpoint - self.temp) * 0.05 * dt + self.rng.gauss(0, 0.02)
        outdoor = 8 + 5 * math.sin(self.t / 300)
        yield "MAIN.fTemp", round(self.temp, 2), "°C"
        yield "MAIN.fOutdoorTemp", round(outdoor, 2), "°C"
        yield "MAIN.fbBattery.fVoltage", round(51.2 + self.rng.gauss(0, 0.05), 3), "V"
        yield "MAIN.bAlarmActive", self.temp > 30, None
        yield "MAIN.nCycle", int(self.t * 10), None


class BmsProfile(Profile):
    """A 16-cell LiFePO4 pack that charges and discharges over minutes."""

    CELLS = 16
    soc = 60.0

    def __init__(self, seed: int) -> None:
        super().__init__(seed)
        self.offsets = [self.rng.uniform(-0.01, 0.01) for _ in range(self.CELLS)]

    def sample(self, dt: float) -> Iterator[Sample]:
        current = 20 * math.sin(self.t / 120)  # positive while charging
        self.soc = min(100.0, max(0.0, self.soc + current * dt / 3600 / 2.8))
        cell_base = 3.2 + 0.2 * self.soc / 100 + current * 0.0005
        cells = [round(cell_base + o + self.rng.gauss(0, 0.001), 3) for o in self.offsets]
        voltage = round(sum(cells), 2)
        yield "voltage", voltage, "V"
        yield "current", round(current, 2), "A"
        yield "power", round(voltage * current, 1), "W"
        yield "soc", round(self.soc, 1), "%"
        yield "capacity_nominal", 280.0, "Ah"
        yield "capacity_remaining", round(280 * self.soc / 100, 1), "Ah"
        yield "temperatures.1", round(24 + self.rng.gauss(0, 0.1), 1), "°C"
        yield "temperatures.2", round(25 + self.rng.gauss(0, 0.1), 1), "°C"
        for n, v in enumerate(cells, 1):
            yield f"cells.{n}", v, "V"
        yield "charge_mos", True, None
        yield "discharge_mos", True, None


class InverterProfile(Profile):
    """A PV inverter following the sun, with a monotonic energy counter."""

    setpoint_unit = "%"
    setpoint_start = 100.0
    energy_wh = 1_234_000.0

    def sample(self, dt: float) -> Iterator[Sample]:
        sun = max(0.0, math.sin(self.t / 600))
        power = 8000 * sun * self.setpoint / 100 * (1 + self.rng.gauss(0, 0.01))
        power = max(0.0, power)
        self.energy_wh += power * dt / 3600
        yield "power", round(power, 1), "W"
        yield "energy_total", round(self.energy_wh / 1000, 3), "kWh"
        yield "voltage_ac", round(230 + self.rng.gauss(0, 0.5), 1), "V"
        yield "frequency", round(50 + self.rng.gauss(0, 0.01), 3), "Hz"


class MeterProfile(Profile):
    """A heat meter: energy, volume, flow and return temperatures."""

    energy_kwh = 4567.0
    volume_m3 = 321.0

    def sample(self, dt: float) -> Iterator[Sample]:
        flow = max(0.0, 0.8 + self.rng.gauss(0, 0.02))
        t_flow, t_return = 55 + self.rng.gauss(0, 0.1), 40 + self.rng.gauss(0, 0.1)
        power_kw = flow * 1.16 * (t_flow - t_return)
        self.energy_kwh += power_kw * dt / 3600
        self.volume_m3 += flow * dt / 3600
        yield "energy", round(self.energy_kwh, 3), "kWh"
        yield "volume", round(self.volume_m3, 4), "m³"
        yield "flow", round(flow, 3), "m³/h"
        yield "power", round(power_kw * 1000, 1), "W"
        yield "flow_temperature", round(t_flow, 2), "°C"
        yield "return_temperature", round(t_return, 2), "°C"


class CounterProfile(Profile):
    """For delivery checks: ``seq`` grows by one per tick from 1 (a gap is a lost value,
    a repeat a doubled one); ``commands_seen`` counts the commands on ``setpoint``.
    ``setpoint`` and ``commands_seen`` are published when they change (and at the first
    tick), so the rate is one datapoint per tick."""

    def __init__(self, seed: int) -> None:
        super().__init__(seed)
        self.seq = 0
        self.commands_seen = 0
        self._reported: tuple[float, int] | None = None

    def write(self, path: str, value: Any) -> Any:
        reported = super().write(path, value)
        self.commands_seen += 1
        return reported

    def tick(self, dt: float) -> Iterator[Sample]:
        self.t += dt
        self.seq += 1
        yield "seq", self.seq, None
        if self._reported != (self.setpoint, self.commands_seen):
            self._reported = (self.setpoint, self.commands_seen)
            yield self.setpoint_path, self.setpoint, self.setpoint_unit
            yield "commands_seen", self.commands_seen, None


PROFILES: dict[str, type[Profile]] = {"plc": PlcProfile, "bms": BmsProfile,
                                      "inverter": InverterProfile, "meter": MeterProfile,
                                      "counter": CounterProfile}
