"""The decoded result: one flat dict keyed by the contract's datapoint paths.

A reading holds only what the decoded frames carried. Contract keys: ``voltage`` (V),
``current`` (A, positive while charging), ``power`` (W), ``soc`` (%),
``capacity_remaining`` / ``capacity_nominal`` (Ah), ``cycles``, ``cells.<n>`` (V, 1-based),
``temperatures.<n>`` (°C, 1-based), ``alarms.<name>`` (bool), ``charge_mos`` /
``discharge_mos`` (bool). Everything else (``cell_min``, ``software_version``, ...) is an
extra that the worker may publish as well.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

Value = bool | int | float | str
Reading = dict[str, Value]


def add_cells(reading: Reading, millivolts: Mapping[int, int]) -> None:
    """Add ``cells.<n>`` (V) and the min/max/delta/average extras.

    ``millivolts`` maps the 1-based cell number to its voltage. Statistics the BMS sent
    itself (set before this call) win over the computed ones.
    """
    if not millivolts:
        return
    for number, mv in sorted(millivolts.items()):
        reading[f"cells.{number}"] = mv / 1000
    lowest = min(millivolts.items(), key=lambda item: (item[1], item[0]))
    highest = max(millivolts.items(), key=lambda item: (item[1], -item[0]))
    reading.setdefault("cell_min", lowest[1] / 1000)
    reading.setdefault("cell_min_index", lowest[0])
    reading.setdefault("cell_max", highest[1] / 1000)
    reading.setdefault("cell_max_index", highest[0])
    reading.setdefault("cell_delta", (highest[1] - lowest[1]) / 1000)
    reading.setdefault("cell_avg", round(sum(millivolts.values()) / len(millivolts) / 1000, 4))


def add_temperatures(reading: Reading, celsius: Sequence[float]) -> None:
    """Add ``temperatures.<n>`` (°C), numbered from 1 in sensor order."""
    for number, value in enumerate(celsius, start=1):
        reading[f"temperatures.{number}"] = value


def add_alarms(reading: Reading, bits: int, names: Sequence[str | None]) -> None:
    """Add one ``alarms.<name>`` boolean per named bit (bit 0 = ``names[0]``).

    Every named alarm appears, false when clear, so a datapoint exists before it ever fires.
    """
    for bit, name in enumerate(names):
        if name is not None:
            reading[f"alarms.{name}"] = bool(bits >> bit & 1)
