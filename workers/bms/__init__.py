"""Battery BMS support: protocol decoders (JBD, Daly, ANT, Victron) and their transports.

Importing this package is cheap: neither bleak, pyserial nor cryptography is loaded until a
transport or the Victron decoder is used.

Decoding (pure, transport-agnostic)::

    from edgeos.workers.bms import Options, decode
    reading = decode("jbd", [frame_0x03, frame_0x04])      # {"voltage": 15.6, "cells.1": ...}
    decode("victron", [manufacturer_data], Options(key=bytes.fromhex("aff4...")))

A reading is a flat dict whose keys are the contract's ``bms`` datapoint paths
(``voltage``, ``current`` (positive = charging), ``power``, ``soc``, ``capacity_remaining``,
``capacity_nominal``, ``cycles``, ``cells.<n>``, ``temperatures.<n>``, ``alarms.<name>``,
``charge_mos``, ``discharge_mos``) plus extras (``cell_min``, ``cell_delta``, ``balancing``,
``software_version``, ...); it holds only what the frames carried. A frame that fails its
checks raises :class:`DecodeError` (a ``ValueError``) and nothing else escapes a decoder.

Transports (asyncio), the interface a ``bms`` worker drives::

    from edgeos.workers.bms.transports import create
    transport = create(instance_config)   # keys of connections.json's "config" for type bms
    try:
        while running:
            reading = await transport.poll()   # one poll cycle -> flat reading
            ...publish f"{instance_id}.{key}" for key, value in reading.items()...
            await asyncio.sleep(instance_config.get("poll_interval_s", 5))
    finally:
        await transport.close()

``poll()`` raises only these, all :class:`BmsError` subclasses:

- :class:`BmsTimeout`: no (complete, valid) answer within ``timeout_s``; the link stays
  usable, poll again later.
- :class:`DecodeError`: an answer passed its checks but could not be decoded.
- :class:`TransportError`: the port or link failed; the next poll reopens it.
- :class:`ConnectFailed` (BLE): every connect attempt failed. Attempts are spaced by an
  exponential back-off (1 s doubling to 60 s); the next poll first waits out the pending
  pause, so a device that stays away is tried less and less often.
- :class:`AdapterMissing` (BLE): no Bluetooth adapter, or no BlueZ/D-Bus. Retrying cannot
  help; report the instance as failed rather than restarting it in a loop.

A BLE link that drops during a poll is reconnected and the cycle run once more. Victron
devices are read from their advertisements (no connection), one advertisement per poll.
``edgeos.workers.bms.transports.ble.scan()`` lists nearby devices with name, MAC, RSSI and the
BMS kind they look like; ``python -m edgeos.workers.bms scan`` prints that list as JSON.
"""

from __future__ import annotations

from .errors import (
    AdapterMissing,
    BmsError,
    BmsTimeout,
    ConnectFailed,
    DecodeError,
    Disconnected,
    TransportError,
)
from .model import Reading
from .protocols import NAMES as PROTOCOLS
from .protocols import Options, decode

__all__ = [
    "PROTOCOLS",
    "AdapterMissing",
    "BmsError",
    "BmsTimeout",
    "ConnectFailed",
    "DecodeError",
    "Disconnected",
    "Options",
    "Reading",
    "TransportError",
    "decode",
]
