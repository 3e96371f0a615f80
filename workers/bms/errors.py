"""Exception types of the BMS package, so callers can tell bad data from a bad link."""

from __future__ import annotations


class BmsError(Exception):
    """Base of every error this package raises on purpose."""


class DecodeError(BmsError, ValueError):
    """A frame failed its checks (start/end bytes, length, checksum) or cannot be decoded.

    The message is the reason, written for a person reading a log or the CLI's stderr.
    """


class TransportError(BmsError):
    """The link to the BMS failed: port cannot be opened, device gone, write failed."""


class BmsTimeout(TransportError, TimeoutError):
    """The BMS did not answer (completely, with valid frames) within the timeout."""


class Disconnected(TransportError):
    """The BLE link dropped while a poll was waiting for an answer."""


class ConnectFailed(TransportError):
    """Every connection attempt (with back-off between them) failed."""


class AdapterMissing(TransportError):
    """No usable Bluetooth adapter (or no BlueZ/D-Bus): retrying cannot help until one appears."""
