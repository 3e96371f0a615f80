"""Transports: how request bytes reach a BMS and frames come back. Decoders never see them.

Every transport has the same small async interface (:class:`Transport`): ``poll()`` runs
one poll cycle of its protocol and returns the decoded flat reading; ``close()`` releases
the port or the BLE connection. :func:`create` builds one from a ``bms`` instance config.
Neither pyserial nor bleak is imported until a transport of that kind is created.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from ..errors import BmsTimeout
from ..model import Reading
from ..protocols import Options, Request, get

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT_S = 2.0
"""Per request: a BMS answers within a few hundred ms, BLE notifications a bit later."""
VICTRON_TIMEOUT_S = 10.0
"""Per poll: a Victron device advertises about once a second, a busy radio misses some."""


class Transport(Protocol):
    """What a ``bms`` worker drives, whatever the link."""

    async def poll(self) -> Reading:
        """One poll cycle: send the protocol's requests, decode and merge the answers."""
        ...

    async def close(self) -> None:
        """Release the link; safe to call twice. A later poll() opens it again."""
        ...


class RequestResponse:
    """Shared poll cycle of request/response links (serial, BLE GATT).

    A subclass provides ``_exchange(request, frames)``, which sends one request and returns
    that many verified frames answering it, or raises :class:`BmsTimeout`.
    """

    def __init__(self, protocol: str, link: str, options: Options, timeout: float) -> None:
        self.protocol = protocol
        self.options = options
        self.timeout = timeout
        self._codec = get(protocol)
        if self._codec.FRAMING is None:
            raise ValueError(f"{protocol} only advertises over BLE; it has no {link} requests")
        self._plan: Sequence[Request] = self._codec.poll_plan(link, options)

    async def poll(self) -> Reading:
        frames: list[bytes] = []
        reading: Reading = {}
        for request in self._plan:
            frames += await self._exchange(request, request.expected_frames(reading))
            reading = self._codec.decode(frames, self.options)
        return reading

    async def _exchange(self, request: Request, frames: int) -> list[bytes]:
        raise NotImplementedError

    def _timeout_error(
        self, data: bytes, got: int, wanted: int, last_error: str | None
    ) -> BmsTimeout:
        detail = f"; last frame discarded: {last_error}" if last_error else ""
        return BmsTimeout(
            f"{self.protocol} BMS did not answer {data.hex(' ').upper()} within {self.timeout:g} s "
            f"(got {got} of {wanted} frames){detail}"
        )


def options_from(config: Mapping[str, Any]) -> Options:
    """Decoder options from an instance config (``key`` as hex, as in connections.json)."""
    key = config.get("key")
    try:
        key_bytes = bytes.fromhex(key) if key else None
    except ValueError:
        raise ValueError("bms key must be the device key as hex (32 hex digits)") from None
    return Options(
        key=key_bytes,
        daly_current_sign=int(config.get("daly_current_sign", 1)),
        ant_variant=str(config.get("ant_variant", "2021")),
    )


def create(config: Mapping[str, Any]) -> Transport:
    """A transport for a ``bms`` instance ``config`` (the contract's keys).

    Required: ``transport`` (``serial``/``ble``), ``protocol``; ``serial_port`` or
    ``address``. Optional: ``baudrate``, ``key``, ``timeout_s``, ``daly_current_sign``,
    ``ant_variant``. ``poll_interval_s`` is the worker's business, not the transport's.
    """
    protocol = config["protocol"]
    get(protocol)
    options = options_from(config)
    default_timeout = VICTRON_TIMEOUT_S if protocol == "victron" else DEFAULT_TIMEOUT_S
    timeout = float(config.get("timeout_s", default_timeout))
    kind = config.get("transport")
    if kind == "serial":
        from .serial import SerialTransport

        return SerialTransport(
            config["serial_port"], protocol, baudrate=config.get("baudrate"),
            options=options, timeout=timeout,
        )  # fmt: skip
    if kind == "ble":
        from .ble import BleTransport, VictronAdvertisements

        if protocol == "victron":
            return VictronAdvertisements(config["address"], options=options, timeout=timeout)
        return BleTransport(config["address"], protocol, options=options, timeout=timeout)
    raise ValueError(f"bms transport must be 'serial' or 'ble', not {kind!r}")
