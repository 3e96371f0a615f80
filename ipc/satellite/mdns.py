"""mDNS discovery of a core (CONTRACT section 8), with python-zeroconf.

The core's gateway announces ``_smarthome-edge._tcp.local.`` (TXT: ``version``, core
``id``, key ``fp``) and a satellite started without ``--core-host`` browses for it.
Both use only the interface addresses they were given (derived from
``--satellite-listen``, or ``--mdns`` / ``edgeos.json`` ``satellite.mdns``, or the one
address the kernel sends mDNS from): never every interface of a host, so a Docker host
does not announce itself into each bridge. mDNS is a hint, never trust: the satellite
picks the core whose key fingerprint matches the key it pinned (or the first one on
first use), and the CURVE handshake still has to succeed with that key.

zeroconf is imported here only, and this module only where discovery is used, so a
satellite with ``--core-host`` never loads it.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import socket
from dataclasses import dataclass
from typing import Any

from edgeos.ipc.satellite import keys

log = logging.getLogger("mdns")

SERVICE = "_smarthome-edge._tcp.local."
MDNS_GROUP = ("224.0.0.251", 5353)
RESOLVE_MS = 3000
MAX_CANDIDATES = 64  # names looked at per browse: a flood of announcements is bounded
TXT_MAX = 64  # characters kept of a TXT value


@dataclass(frozen=True)
class Core:
    """One announced core."""

    name: str
    host: str
    port: int
    core_id: str
    fingerprint: str
    version: str


def multicast_source() -> str | None:
    """The address the kernel sends mDNS from (its route to 224.0.0.251), or None when
    there is no such route; connecting a UDP socket sends nothing."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(MDNS_GROUP)
        except OSError:
            return None
        addr = probe.getsockname()[0]
    return None if addr == "0.0.0.0" else addr


def check_addresses(values: list[str], what: str) -> list[str]:
    """IPv4 interface addresses, each checked; ValueError names ``what`` and the value."""
    out = []
    for value in values:
        try:
            addr = ipaddress.ip_address(str(value).strip())
        except ValueError:
            raise ValueError(f"{what}: {value!r} is not an IP address") from None
        if addr.version != 4 or addr.is_unspecified or addr.is_multicast:
            raise ValueError(f"{what}: {value!r} must be one IPv4 interface address "
                             "(not 0.0.0.0, not multicast)")
        if not addr.is_loopback and str(addr) not in local_addresses():
            raise ValueError(f"{what}: {value!r} is not an address of this host's "
                             "interfaces")
        out.append(str(addr))
    if len(out) > 16:
        raise ValueError(f"{what}: at most 16 addresses, got {len(out)}")
    return out


def local_addresses() -> set[str]:
    """The IPv4 addresses of this host's interfaces (in this network namespace)."""
    import psutil

    return {a.address for addrs in psutil.net_if_addrs().values() for a in addrs
            if a.family == socket.AF_INET}


def _txt(props: dict[bytes, bytes | None], key: bytes) -> str:
    value = props.get(key) or b""
    return value.decode("utf-8", "replace")[:TXT_MAX]


class Announcer:
    """The core's announcement; registered while the gateway runs."""

    def __init__(self, interfaces: list[str], port: int, public_key: bytes, core_id: str,
                 version: str) -> None:
        self.interfaces = interfaces
        self.fingerprint = keys.fingerprint(public_key)
        label = f"{core_id[:40]}-{self.fingerprint[:8]}"
        self.properties = {"version": version, "id": core_id[:TXT_MAX],
                           "fp": self.fingerprint}
        self.name = f"{label}.{SERVICE}"
        self.server = f"{label}.local."
        self.port = port
        self.zc: Any = None
        self.info: Any = None
        self.registered = False

    async def start(self) -> None:
        from zeroconf import IPVersion
        from zeroconf.asyncio import AsyncServiceInfo, AsyncZeroconf

        self.zc = AsyncZeroconf(interfaces=self.interfaces, ip_version=IPVersion.V4Only)
        self.info = AsyncServiceInfo(SERVICE, self.name, port=self.port,
                                     properties=self.properties, server=self.server,
                                     parsed_addresses=self.interfaces)
        await self.zc.async_register_service(self.info)
        self.registered = True
        log.info("announcing %s on %s (port %d, key fingerprint %s)", self.name,
                 ", ".join(self.interfaces), self.port, self.fingerprint)

    async def close(self) -> None:
        if self.zc is None:
            return
        if self.registered:
            await self.zc.async_unregister_service(self.info)
        await self.zc.async_close()
        self.zc = None


async def announce(interfaces: list[str], port: int, public_key: bytes) -> Announcer | None:
    """Start announcing this core on ``interfaces`` (None when that list is empty, or
    when the interfaces cannot take it: the link works without discovery)."""
    if not interfaces:
        return None
    from zeroconf import Error as ZeroconfError

    from edgeos import __version__

    announcer = Announcer(interfaces, port, public_key, socket.gethostname(), __version__)
    try:
        await announcer.start()
    except (OSError, ZeroconfError) as exc:
        log.error("mDNS announcement on %s failed (%s): satellites need --core-host",
                  ", ".join(interfaces), exc)
        await announcer.close()
        return None
    return announcer


async def find_core(interfaces: list[str], fingerprint: str | None) -> Core:
    """Browse until a core announces itself on ``interfaces``: the one whose key
    fingerprint is ``fingerprint``, or (None: first use) the first one resolved."""
    from zeroconf import IPVersion, ServiceStateChange
    from zeroconf.asyncio import AsyncServiceBrowser, AsyncServiceInfo, AsyncZeroconf

    names: asyncio.Queue[str] = asyncio.Queue()
    seen: set[str] = set()

    def on_change(zeroconf: Any, service_type: str, name: str,
                  state_change: ServiceStateChange) -> None:
        if state_change is not ServiceStateChange.Removed and name not in seen \
                and len(seen) < MAX_CANDIDATES:
            seen.add(name)
            names.put_nowait(name)

    zc = AsyncZeroconf(interfaces=interfaces, ip_version=IPVersion.V4Only)
    browser = AsyncServiceBrowser(zc.zeroconf, SERVICE, handlers=[on_change])
    try:
        while True:
            name = await names.get()
            info = AsyncServiceInfo(SERVICE, name)
            if not await info.async_request(zc.zeroconf, RESOLVE_MS):
                seen.discard(name)  # announced again later: looked at again
                continue
            addrs = info.parsed_addresses(IPVersion.V4Only)
            if not addrs or not info.port:
                continue
            core = Core(name, addrs[0], int(info.port), _txt(info.properties, b"id"),
                        _txt(info.properties, b"fp"), _txt(info.properties, b"version"))
            if fingerprint is None or core.fingerprint == fingerprint:
                log.info("found core %s (%s) at %s:%d", core.core_id, core.fingerprint,
                         core.host, core.port)
                return core
            log.info("core %s at %s:%d has key fingerprint %s, not ours (%s): skipped",
                     core.core_id, core.host, core.port, core.fingerprint, fingerprint)
    finally:
        await browser.async_cancel()
        await zc.async_close()
