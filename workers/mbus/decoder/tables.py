"""EN 13757-3 code tables: VIF units and scales, media, fixed-structure units.

Names follow libmbus's normalised output (the shared reference data), so a
decoded record reads the same as `mbus_parse_hex -n` prints it.
"""

from __future__ import annotations

from typing import NamedTuple


class Unit(NamedTuple):
    """How to turn a raw record value into its SI value: raw * factor * 10**exp10."""

    unit: str
    quantity: str
    factor: float = 1
    exp10: int = 0


_TIME_STEPS = (1, 60, 3600, 86400)  # nn = seconds, minutes, hours, days
_MONTH_S = 2629743.83  # libmbus's mean month
_YEAR_S = 31556926.0
_HOURS_TO_YEARS = (3600, 86400, _MONTH_S, _YEAR_S)
_RESERVED = Unit("Reserved", "Reserved")


def _decades(codes: range, unit: str, quantity: str, first_exp: int) -> dict[int, Unit]:
    return {code: Unit(unit, quantity, 1, first_exp + i) for i, code in enumerate(codes)}


def _durations(codes: range, quantity: str, steps: tuple[float, ...]) -> dict[int, Unit]:
    return {code: Unit("s", quantity, step) for code, step in zip(codes, steps, strict=True)}


def _named(pairs: dict[int, str], unit: str = "") -> dict[int, Unit]:
    return {code: Unit(unit, name) for code, name in pairs.items()}


# Primary VIF (extension bit cleared).
PRIMARY: dict[int, Unit] = {
    **_decades(range(0x00, 0x08), "Wh", "Energy", -3),
    **_decades(range(0x08, 0x10), "J", "Energy", 0),
    **_decades(range(0x10, 0x18), "m^3", "Volume", -6),
    **_decades(range(0x18, 0x20), "kg", "Mass", -3),
    **_durations(range(0x20, 0x24), "On time", _TIME_STEPS),
    **_durations(range(0x24, 0x28), "Operating time", _TIME_STEPS),
    **_decades(range(0x28, 0x30), "W", "Power", -3),
    **_decades(range(0x30, 0x38), "J/h", "Power", 0),
    **_decades(range(0x38, 0x40), "m^3/h", "Volume flow", -6),
    **_decades(range(0x40, 0x48), "m^3/min", "Volume flow", -7),
    **_decades(range(0x48, 0x50), "m^3/s", "Volume flow", -9),
    **_decades(range(0x50, 0x58), "kg/h", "Mass flow", -3),
    **_decades(range(0x58, 0x5C), "°C", "Flow temperature", -3),
    **_decades(range(0x5C, 0x60), "°C", "Return temperature", -3),
    **_decades(range(0x60, 0x64), "K", "Temperature difference", -3),
    **_decades(range(0x64, 0x68), "°C", "External temperature", -3),
    **_decades(range(0x68, 0x6C), "bar", "Pressure", -3),
    0x6C: Unit("-", "Time point (date)"),
    0x6D: Unit("-", "Time point (date & time)"),
    0x6E: Unit("Units for H.C.A.", "H.C.A."),
    0x6F: _RESERVED,
    **_durations(range(0x70, 0x74), "Averaging Duration", _TIME_STEPS),
    **_durations(range(0x74, 0x78), "Actuality Duration", _TIME_STEPS),
    **_named({0x78: "Fabrication No", 0x79: "(Enhanced) Identification", 0x7A: "Bus Address",
              0x7E: "Any VIF", 0x7F: "Manufacturer specific"}),
}

# First extension table, after VIF 0xFD (EN 13757-3 table 14).
EXTENSION_FD: dict[int, Unit] = {
    **_decades(range(0x00, 0x04), "Currency units", "Credit", -3),
    **_decades(range(0x04, 0x08), "Currency units", "Debit", -3),
    **_named({
        0x08: "Access Number (transmission count)", 0x09: "Medium", 0x0A: "Manufacturer",
        0x0B: "Parameter set identification", 0x0C: "Model / Version",
        0x0D: "Hardware version", 0x0E: "Firmware version", 0x0F: "Software version",
        0x10: "Customer location", 0x11: "Customer", 0x12: "Access Code User",
        0x13: "Access Code Operator", 0x14: "Access Code System Operator",
        0x15: "Access Code Developer", 0x16: "Password", 0x17: "Error flags",
        0x18: "Error mask", 0x1A: "Digital Output", 0x1B: "Digital Input", 0x1E: "Retry",
        0x20: "First storage # for cyclic storage", 0x21: "Last storage # for cyclic storage",
        0x22: "Size of storage block", 0x3A: "Dimensionless",
        0x60: "Reset counter", 0x61: "Cumulation counter", 0x62: "Control signal",
        0x63: "Day of week", 0x64: "Week number", 0x65: "Time point of day change",
        0x66: "State of parameter activation", 0x67: "Special supplier information",
    }),
    0x1C: Unit("Baud", "Baudrate"),
    0x1D: Unit("Bittimes", "Response delay time"),
    **_durations(range(0x24, 0x2A), "Storage interval", (*_TIME_STEPS, _MONTH_S, _YEAR_S)),
    **_durations(range(0x2C, 0x30), "Duration since last readout", _TIME_STEPS),
    0x30: Unit("-", "Start (date/time) of tariff"),
    **_durations(range(0x31, 0x34), "Duration of tariff", _TIME_STEPS[1:]),
    **_durations(range(0x34, 0x3A), "Period of tariff", (*_TIME_STEPS, _MONTH_S, _YEAR_S)),
    **_decades(range(0x40, 0x50), "V", "Voltage", -9),
    **_decades(range(0x50, 0x60), "A", "Current", -12),
    **_durations(range(0x68, 0x6C), "Duration since last cumulation", _HOURS_TO_YEARS),
    **_durations(range(0x6C, 0x70), "Operating time battery", _HOURS_TO_YEARS),
    0x70: Unit("-", "Date and time of battery change"),
}

# Second extension table, after VIF 0xFB (EN 13757-3 table 12).
EXTENSION_FB: dict[int, Unit] = {
    **_decades(range(0x00, 0x02), "Wh", "Energy", 5),
    **_decades(range(0x08, 0x0A), "J", "Energy", 8),
    **_decades(range(0x10, 0x12), "m^3", "Volume", 2),
    **_decades(range(0x18, 0x1A), "kg", "Mass", 5),
    0x21: Unit("feet^3", "Volume", 1, -1),
    **_decades(range(0x22, 0x24), "American gallon", "Volume", -1),
    0x24: Unit("American gallon/min", "Volume flow", 1, -3),
    0x25: Unit("American gallon/min", "Volume flow"),
    0x26: Unit("American gallon/h", "Volume flow"),
    **_decades(range(0x28, 0x2A), "W", "Power", 5),
    **_decades(range(0x30, 0x32), "J/h", "Power", 8),
    **_decades(range(0x58, 0x5C), "°F", "Flow temperature", -3),
    **_decades(range(0x5C, 0x60), "°F", "Return temperature", -3),
    **_decades(range(0x60, 0x64), "°F", "Temperature difference", -3),
    **_decades(range(0x64, 0x68), "°F", "External temperature", -3),
    **_decades(range(0x70, 0x74), "°F", "Cold / Warm Temperature Limit", -3),
    **_decades(range(0x74, 0x78), "°C", "Cold / Warm Temperature Limit", -3),
    **_decades(range(0x78, 0x80), "W", "Cumul count max power", -3),
}


def lookup(table: dict[int, Unit], code: int) -> Unit:
    """Return the entry for `code`; unassigned codes are reported as reserved, not errors."""
    return table.get(code & 0x7F, _RESERVED)


# Medium of the variable data structure (EN 13757-3), worded as libmbus prints it, so
# our names match what integrators see from libmbus-based tools. Codes libmbus lists
# as reserved say "Reserved"; the ones it has no case for, "Unknown medium (0x..)".
MEDIA: dict[int, str] = {
    0x00: "Other", 0x01: "Oil", 0x02: "Electricity", 0x03: "Gas", 0x04: "Heat: Outlet",
    0x05: "Steam", 0x06: "Warm water (30-90°C)", 0x07: "Water", 0x08: "Heat Cost Allocator",
    0x09: "Compressed Air", 0x0A: "Cooling load meter: Outlet",
    0x0B: "Cooling load meter: Inlet", 0x0C: "Heat: Inlet", 0x0D: "Heat / Cooling load meter",
    0x0E: "Bus/System", 0x0F: "Unknown Medium", 0x10: "Irrigation Water",
    0x11: "Water Logger", 0x12: "Gas Logger", 0x13: "Gas Converter", 0x14: "Calorific value",
    0x15: "Hot water (>90°C)", 0x16: "Cold water", 0x17: "Dual water", 0x18: "Pressure",
    0x19: "A/D Converter", 0x1A: "Smoke Detector", 0x1B: "Ambient Sensor",
    0x1C: "Gas Detector", 0x20: "Breaker: Electricity", 0x21: "Valve: Gas or Water",
    0x25: "Customer Unit: Display Device", 0x28: "Waste Water", 0x29: "Garbage",
    0x30: "Service Unit", 0x36: "Radio Converter: System", 0x37: "Radio Converter: Meter",
    **dict.fromkeys((0x22, 0x23, 0x24, 0x26, 0x27, 0x2A, 0x2B, 0x2C, 0x2D, 0x2E, 0x2F, 0x31,
                     0x32, 0x33, 0x34, *range(0x38, 0x40)), "Reserved"),
}


def medium_name(code: int) -> str:
    return MEDIA.get(code, f"Unknown medium (0x{code:02x})")


# Fixed data structure (CI 0x73): 4-bit medium and 6-bit counter units.
FIXED_MEDIA = (
    "Other", "Oil", "Electricity", "Gas", "Heat", "Steam", "Hot Water", "Water", "H.C.A.",
    "Reserved", "Gas Mode 2", "Heat Mode 2", "Hot Water Mode 2", "Water Mode 2",
    "H.C.A. Mode 2", "Reserved",
)


def _fixed_units() -> dict[int, tuple[str, str]]:
    decade_groups = (
        (0x02, ("Wh", "kWh", "MWh"), "Energy"),
        (0x0B, ("kJ", "MJ", "GJ"), "Energy"),
        (0x14, ("W", "kW", "MW"), "Power"),
        (0x1D, ("kJ/h", "MJ/h", "GJ/h"), "Power"),
        (0x26, ("ml", "l", "m^3"), "Volume"),
        (0x2F, ("ml/h", "l/h", "m^3/h"), "Volume flow"),
    )
    units: dict[int, tuple[str, str]] = {0x00: ("h,m,s", "Time"), 0x01: ("D,M,Y", "Time")}
    for first, names, quantity in decade_groups:
        for i, name in enumerate(names):
            for j, prefix in enumerate(("", "10 ", "100 ")):
                units[first + 3 * i + j] = (prefix + name, quantity)
    units.update({
        0x38: ("1e-3 °C", "Temperature"), 0x39: ("units for HCA", "H.C.A."),
        0x3A: ("reserved", "Reserved"), 0x3B: ("reserved", "Reserved"),
        0x3C: ("reserved", "Reserved"), 0x3D: ("reserved", "Reserved"),
        0x3E: ("reserved but historic", "historic"), 0x3F: ("without units", "Dimensionless"),
    })
    return units


# code -> (unit name as libmbus prints it, quantity)
FIXED_UNITS: dict[int, tuple[str, str]] = _fixed_units()
