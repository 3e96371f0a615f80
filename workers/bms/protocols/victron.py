"""Victron "Instant Readout": encrypted BLE advertisements (SmartShunt, BMV, MPPT).

The input is the manufacturer data after the company id 0x02E1 (a leading ``E1 02`` is
tolerated): ``10 <prefix> <model LE16> <record type> <nonce LE16> <key[0]> <ciphertext>``.
The ciphertext is AES-128-CTR with the device key; the counter block is the nonce as a
128-bit little-endian integer, counting up per block. Decoded records: 0x01 solar charger,
0x02 battery monitor, 0x0D DC energy meter. Fields the device marks "not available" are
left out (the aux input: 0xFFFF, whatever its mode).
"""

from __future__ import annotations

from collections.abc import Sequence

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from ..errors import DecodeError
from ..model import Reading, add_alarms, add_temperatures
from . import Options

COMPANY_ID = 0x02E1
PRODUCT_ADVERTISEMENT = 0x10
HEADER_LEN = 8
SOLAR_CHARGER, BATTERY_MONITOR, DC_ENERGY_METER = 0x01, 0x02, 0x0D
AUX_MODES = ("starter_voltage", "midpoint_voltage", "temperature", "disabled")
ALARM_REASONS = (
    "pack_undervoltage", "pack_overvoltage", "soc_low", "starter_undervoltage",
    "starter_overvoltage", "undertemperature", "overtemperature", "midpoint_deviation",
    "overload", "dc_ripple", "ac_out_undervoltage", "ac_out_overvoltage", "short_circuit",
    "bms_lockout",
)  # fmt: skip
METER_TYPES = {
    -9: "solar_charger", -8: "wind_charger", -7: "shaft_generator", -6: "alternator",
    -5: "fuel_cell", -4: "water_generator", -3: "dc_dc_charger", -2: "ac_charger",
    -1: "generic_source", 1: "generic_load", 2: "electric_drive", 3: "fridge",
    4: "water_pump", 5: "bilge_pump", 6: "dc_system", 7: "inverter", 8: "water_heater",
}  # fmt: skip
FRAMING = None  # advertisements arrive whole; there is no byte stream to reassemble
CHARGE_STATES = {
    0: "off", 1: "low_power", 2: "fault", 3: "bulk", 4: "absorption", 5: "float",
    6: "storage", 7: "equalize", 9: "inverting", 11: "power_supply", 245: "starting_up",
    246: "repeated_absorption", 247: "recondition", 248: "battery_safe",
    252: "external_control",
}  # fmt: skip


def decode(frames: Sequence[bytes], options: Options) -> Reading:
    reading: Reading = {}
    for advertisement in frames:
        record_type, plaintext = decrypt(advertisement, options.key)
        reading.update(decode_record(record_type, plaintext))
    return reading


def decrypt(advertisement: bytes, key: bytes | None) -> tuple[int, bytes]:
    """Check the header and key, return (record type, decrypted payload)."""
    if advertisement[:3] == b"\xe1\x02\x10":
        advertisement = advertisement[2:]
    if len(advertisement) <= HEADER_LEN:
        raise DecodeError(
            f"Victron advertisement too short: {len(advertisement)} bytes, "
            f"need the {HEADER_LEN}-byte header and a payload"
        )
    if advertisement[0] != PRODUCT_ADVERTISEMENT:
        raise DecodeError(
            f"not a Victron instant-readout advertisement: first byte 0x{advertisement[0]:02X}, "
            "expected 0x10"
        )
    if key is None:
        raise DecodeError("Victron advertisements are encrypted: the device key is needed (--key)")
    if len(key) != 16:
        raise DecodeError(f"Victron key must be 16 bytes (32 hex digits), not {len(key)}")
    if advertisement[7] != key[0]:
        raise DecodeError(
            f"Victron key does not fit this device: advertisement expects a key starting with "
            f"{advertisement[7]:02x}, the key starts with {key[0]:02x}"
        )
    nonce = int.from_bytes(advertisement[5:7], "little")
    return advertisement[4], _ctr(key, nonce, advertisement[HEADER_LEN:])


def _ctr(key: bytes, nonce: int, data: bytes) -> bytes:
    """AES-CTR with a little-endian 128-bit counter (the cipher library counts big-endian)."""
    blocks = (len(data) + 15) // 16
    counters = b"".join(((nonce + i) % (1 << 128)).to_bytes(16, "little") for i in range(blocks))
    encryptor = Cipher(algorithms.AES(key), modes.ECB()).encryptor()
    stream = encryptor.update(counters) + encryptor.finalize()
    return bytes(a ^ b for a, b in zip(data, stream, strict=False))


def decode_record(record_type: int, plaintext: bytes) -> Reading:
    """Decode a decrypted payload of a known record type."""
    decoder = _RECORDS.get(record_type)
    if decoder is None:
        raise DecodeError(f"Victron record type 0x{record_type:02X} is not supported")
    need = _MIN_LEN[record_type]
    if len(plaintext) < need:
        raise DecodeError(
            f"Victron record 0x{record_type:02X} too short: {len(plaintext)} bytes, need {need}"
        )
    return decoder(int.from_bytes(plaintext, "little"))


class _Bits:
    """Reads consecutive little-endian bit fields, as Victron packs its records."""

    def __init__(self, value: int) -> None:
        self._value = value

    def unsigned(self, width: int) -> int:
        field = self._value & ((1 << width) - 1)
        self._value >>= width
        return field

    def signed(self, width: int) -> int:
        field = self.unsigned(width)
        return field - (1 << width) if field >> (width - 1) else field


def _dc_record(bits: _Bits) -> Reading:
    """Voltage, alarm, aux input and current: the part battery monitors and DC energy
    meters share, after their first 16-bit field."""
    centivolts, alarm, aux = bits.signed(16), bits.unsigned(16), bits.unsigned(16)
    aux_mode, milliamps = bits.unsigned(2), bits.signed(22)
    return _dc_common(centivolts, alarm, aux, aux_mode, milliamps)


def _battery_monitor(value: int) -> Reading:
    bits = _Bits(value)
    ttg = bits.unsigned(16)
    reading = _dc_record(bits)
    consumed, permille = bits.unsigned(20), bits.unsigned(10)
    if ttg != 0xFFFF:
        reading["time_to_go_min"] = ttg
    if consumed != 0xFFFFF:
        reading["consumed_ah"] = -consumed / 10
    if permille != 0x3FF:
        reading["soc"] = permille / 10
    return reading


def _dc_energy_meter(value: int) -> Reading:
    bits = _Bits(value)
    meter_type = bits.signed(16)
    reading = _dc_record(bits)
    reading["meter_type"] = METER_TYPES.get(meter_type, "unknown")
    return reading


def _dc_common(centivolts: int, alarm: int, aux: int, aux_mode: int, milliamps: int) -> Reading:
    """Fields battery monitor and DC meter share: voltage, current, alarms, the aux input."""
    reading: Reading = {"aux_mode": AUX_MODES[aux_mode], "alarm_bits": alarm}
    _electrical(reading, centivolts, milliamps, 0x1FFFFF, 1000)
    add_alarms(reading, alarm, ALARM_REASONS)
    if aux == 0xFFFF:  # "not available" in every aux mode (else e.g. 382.2 °C)
        return reading
    if aux_mode == 0:
        reading["starter_voltage"] = (aux - 0x10000 if aux & 0x8000 else aux) / 100
    elif aux_mode == 1:
        reading["midpoint_voltage"] = aux / 100
    elif aux_mode == 2:
        add_temperatures(reading, [(aux - 27315) / 100])
    return reading


def _electrical(reading: Reading, centivolts: int, current: int, current_na: int,
                per_amp: int) -> None:
    """Voltage, current (``per_amp`` units an ampere) and their product, each only when
    the record has it (0x7FFF and ``current_na`` mean "not available")."""
    if centivolts != 0x7FFF:
        reading["voltage"] = centivolts / 100
    if current != current_na:
        reading["current"] = current / per_amp
    if "voltage" in reading and "current" in reading:
        reading["power"] = centivolts * current / (100 * per_amp)


def _solar_charger(value: int) -> Reading:
    bits = _Bits(value)
    state, error = bits.unsigned(8), bits.unsigned(8)
    centivolts, deciamps = bits.signed(16), bits.signed(16)
    yield_today, pv_power, load = bits.unsigned(16), bits.unsigned(16), bits.unsigned(9)
    reading: Reading = {
        "charge_state": CHARGE_STATES.get(state, "unknown"),
        "charger_error": error,
    }
    _electrical(reading, centivolts, deciamps, 0x7FFF, 10)
    if yield_today != 0xFFFF:
        reading["yield_today"] = yield_today * 10
    if pv_power != 0xFFFF:
        reading["pv_power"] = pv_power
    if load != 0x1FF:
        reading["load_current"] = load / 10
    return reading


_RECORDS = {
    SOLAR_CHARGER: _solar_charger,
    BATTERY_MONITOR: _battery_monitor,
    DC_ENERGY_METER: _dc_energy_meter,
}
_MIN_LEN = {SOLAR_CHARGER: 12, BATTERY_MONITOR: 15, DC_ENERGY_METER: 11}
