"""A stand-in TwinCAT PLC for the ``ads`` tests and benchmark, in its own process.

pyads' ``AdsTestServer`` with ``AdvancedHandler`` answers reads and writes by name, but its
symbol upload returns empty names and it delivers notifications only to callbacks inside
its own process. :class:`PlcHandler` extends it with what a real PLC does over TCP: symbol
and data type upload (names, types, sizes, comments, flags), reads and writes anywhere
inside a symbol (struct members, array elements), sum reads/writes, and device
notifications pushed to the client on change, sampled every PLC cycle.

Run as ``python -m tests.integration.ads.plc_server --host 127.0.0.2``. It prints one JSON
line ``{"ready": ...}`` once it listens, then answers JSON lines on stdin:
``{"op": "get", "name": ...}``, ``{"op": "set", "name": ..., "value": ...}``,
``{"op": "stats"}``. It exits when stdin closes. :class:`PlcProcess` drives it from a test.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import select
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from pyads import constants
from pyads.filetimes import dt_to_filetime
from pyads.testserver import AdsTestServer, AdvancedHandler
from pyads.testserver.advanced_handler import PLCVariable
from pyads.testserver.handler import AmsPacket, AmsResponseData
from pyads.testserver.testserver import AdsClientConnection

log = logging.getLogger("plc_server")

REPO = Path(__file__).resolve().parents[3]
IG_PLC = constants.INDEXGROUP_MEMORYBYTE  # where TwinCAT keeps PLC variables
ADSERR_SYMBOL_NOT_FOUND = 0x710
ADSERR_INVALID_OFFSET = 0x703
ADSERR_NOT_SUPPORTED = 0x701
ADSERR_NO_MORE_HANDLES = 0x716
READONLY = 0x20


@dataclass
class Member:
    """A struct member: name, type name, ADS type id, byte offset and size."""

    name: str
    type_name: str
    ads_type: int
    offset: int
    size: int


@dataclass
class DataType:
    """An entry of the data type upload: a struct (members) or an array (dims)."""

    name: str
    size: int
    ads_type: int = constants.ADST_BIGTYPE
    base: str = ""  # array element type, or the base of an alias/enum
    dims: list[tuple[int, int]] = field(default_factory=list)  # (lower bound, elements)
    members: list[Member] = field(default_factory=list)
    comment: str = ""

    def pack(self) -> bytes:
        return _pack_datatype(self.name, self.base, self.comment, self.size, 0, self.ads_type,
                              self.dims, [_pack_datatype(m.name, m.type_name, "", m.size,
                                                          m.offset, m.ads_type, [], [])
                                          for m in self.members])


def _pack_datatype(name: str, type_name: str, comment: str, size: int, offs: int,
                   ads_type: int, dims: list[tuple[int, int]], subs: list[bytes]) -> bytes:
    body = (name.encode() + b"\0" + type_name.encode() + b"\0" + comment.encode() + b"\0"
            + b"".join(struct.pack("<II", lo, n) for lo, n in dims) + b"".join(subs))
    flags = 1 if not offs and not dims and subs else 2
    header_len = 42
    return struct.pack("<IIIIIIIIHHHHH", header_len + len(body), 1, 0, 0, size, offs, ads_type,
                       flags, len(name), len(type_name), len(comment), len(dims),
                       len(subs)) + body


# The data types the demo program uses (TwinCAT 3 layout, 4-byte aligned members).
DATATYPES = [
    DataType("ARRAY [1..2] OF REAL", 8, constants.ADST_REAL32, "REAL", [(1, 2)]),
    DataType("ARRAY [1..3] OF INT", 6, constants.ADST_INT16, "INT", [(1, 3)]),
    DataType("ST_Battery", 20, members=[
        Member("fVoltage", "REAL", constants.ADST_REAL32, 0, 4),
        Member("fCurrent", "REAL", constants.ADST_REAL32, 4, 4),
        Member("nCycles", "UINT", constants.ADST_UINT16, 8, 2),
        Member("aCells", "ARRAY [1..2] OF REAL", constants.ADST_REAL32, 12, 8)],
        comment="battery pack"),
    DataType("E_Mode", 2, constants.ADST_INT16, "INT"),
]


@dataclass
class Symbol:
    name: str
    type_name: str
    ads_type: int
    size: int
    comment: str = ""
    flags: int = 0
    offset: int = 0


SYMBOLS = [
    Symbol("MAIN.fTemp", "REAL", constants.ADST_REAL32, 4, "Boiler temperature"),
    Symbol("MAIN.nCounter", "DINT", constants.ADST_INT32, 4, "PLC cycles"),
    Symbol("MAIN.bAlarm", "BOOL", constants.ADST_BIT, 1, "Alarm active"),
    Symbol("MAIN.setpoint", "LREAL", constants.ADST_REAL64, 8, "Heating setpoint"),
    Symbol("MAIN.sName", "STRING(20)", constants.ADST_STRING, 21),
    Symbol("MAIN.nMode", "E_Mode", constants.ADST_INT16, 2),
    Symbol("MAIN.fbBattery", "ST_Battery", constants.ADST_BIGTYPE, 20),
    Symbol("MAIN.aTemps", "ARRAY [1..3] OF INT", constants.ADST_INT16, 6),
    Symbol("MAIN.nVersion", "UDINT", constants.ADST_UINT32, 4, "firmware", READONLY),
]

# Leaves the test side reads and writes by name: (symbol, offset in symbol, struct format).
LEAVES: dict[str, tuple[str, int, str]] = {
    "MAIN.fTemp": ("MAIN.fTemp", 0, "<f"), "MAIN.nCounter": ("MAIN.nCounter", 0, "<i"),
    "MAIN.bAlarm": ("MAIN.bAlarm", 0, "<?"), "MAIN.setpoint": ("MAIN.setpoint", 0, "<d"),
    "MAIN.sName": ("MAIN.sName", 0, "21s"), "MAIN.nMode": ("MAIN.nMode", 0, "<h"),
    "MAIN.fbBattery.fVoltage": ("MAIN.fbBattery", 0, "<f"),
    "MAIN.fbBattery.fCurrent": ("MAIN.fbBattery", 4, "<f"),
    "MAIN.fbBattery.nCycles": ("MAIN.fbBattery", 8, "<H"),
    "MAIN.fbBattery.aCells.1": ("MAIN.fbBattery", 12, "<f"),
    "MAIN.fbBattery.aCells.2": ("MAIN.fbBattery", 16, "<f"),
    "MAIN.aTemps.1": ("MAIN.aTemps", 0, "<h"), "MAIN.aTemps.2": ("MAIN.aTemps", 2, "<h"),
    "MAIN.aTemps.3": ("MAIN.aTemps", 4, "<h"), "MAIN.nVersion": ("MAIN.nVersion", 0, "<I"),
}

INITIAL: dict[str, Any] = {
    "MAIN.fTemp": 21.5, "MAIN.setpoint": 20.0, "MAIN.sName": "Keller",
    "MAIN.nMode": 1, "MAIN.fbBattery.fVoltage": 52.5, "MAIN.fbBattery.fCurrent": -3.25,
    "MAIN.fbBattery.nCycles": 17, "MAIN.fbBattery.aCells.1": 3.25,
    "MAIN.fbBattery.aCells.2": 3.5, "MAIN.aTemps.1": -5, "MAIN.aTemps.2": 0,
    "MAIN.aTemps.3": 250, "MAIN.nVersion": 3,
}


class _LockedSocket:
    """A client socket whose sends never interleave: responses go out from the
    connection's thread, notifications from the PLC cycle thread."""

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock
        self.lock = threading.Lock()

    def send(self, data: bytes) -> int:
        with self.lock:
            self._sock.sendall(data)
        return len(data)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sock, name)


@dataclass
class Registration:
    conn: Any  # the pyads AdsClientConnection thread that asked for it
    header: bytes  # AMS addresses for the notification: client first, then us
    offset: int
    length: int
    last: bytes | None = None


class Plc:
    """The PLC memory and its program: symbols laid out in one byte area."""

    def __init__(self, bench: int) -> None:
        self.symbols = [Symbol(**vars(s)) for s in SYMBOLS]
        self.symbols += [Symbol(f"BENCH.n{i:04d}", "DINT", constants.ADST_INT32, 4)
                         for i in range(bench)]
        offset = 0x1000
        for sym in self.symbols:
            sym.offset = offset
            offset += (sym.size + 7) // 8 * 8
        self.mem = bytearray(offset)
        self.by_name = {s.name: s for s in self.symbols}
        self.lock = threading.RLock()
        self.registrations: dict[int, Registration] = {}
        self.next_handle = 1
        self.sent = {"packets": 0, "samples": 0}
        for name, value in INITIAL.items():
            self.set(name, value)

    def read(self, offset: int, size: int) -> bytes:
        if offset < 0x1000 or offset + size > len(self.mem):
            raise KeyError(offset)
        return bytes(self.mem[offset:offset + size])

    def write(self, offset: int, data: bytes) -> None:
        if offset < 0x1000 or offset + len(data) > len(self.mem):
            raise KeyError(offset)
        with self.lock:
            self.mem[offset:offset + len(data)] = data

    def _leaf(self, name: str) -> tuple[int, str]:
        sym_name, rel, fmt = LEAVES[name]
        return self.by_name[sym_name].offset + rel, fmt

    def get(self, name: str) -> Any:
        offset, fmt = self._leaf(name)
        value = struct.unpack_from(fmt, self.mem, offset)[0]
        return value.split(b"\0")[0].decode("cp1252") if isinstance(value, bytes) else value

    def set(self, name: str, value: Any) -> None:
        offset, fmt = self._leaf(name)
        if fmt.endswith("s"):
            value = value.encode("cp1252")
        with self.lock:
            struct.pack_into(fmt, self.mem, offset, value)

    def cycle(self, n: int) -> None:
        """One PLC task cycle: the program moves its values."""
        with self.lock:
            self.set("MAIN.nCounter", n)
            self.set("MAIN.fTemp", 20.0 + (n % 40) / 4)
            for sym in self.symbols[len(SYMBOLS):]:
                struct.pack_into("<i", self.mem, sym.offset, n)

    def notify(self) -> None:
        """Send every registration whose bytes changed, one packet per client."""
        per_conn: dict[int, tuple[Registration, list[bytes]]] = {}
        with self.lock:
            for handle, reg in list(self.registrations.items()):
                data = bytes(self.mem[reg.offset:reg.offset + reg.length])
                if data == reg.last:
                    continue
                reg.last = data
                entry = per_conn.setdefault(id(reg.conn), (reg, []))
                entry[1].append(struct.pack("<II", handle, len(data)) + data)
        stamp = struct.pack("<Q", dt_to_filetime(datetime.now().astimezone()))
        for reg, samples in per_conn.values():
            for i in range(0, len(samples), 500):
                chunk = samples[i:i + 500]
                body = stamp + struct.pack("<I", len(chunk)) + b"".join(chunk)
                body = struct.pack("<II", len(body) + 4, 1) + body
                ams = reg.header + struct.pack("<HHIII", constants.ADSCOMMAND_DEVICENOTE, 4,
                                               len(body), 0, 0) + body
                try:
                    reg.conn.client.send(struct.pack("<HI", 0, len(ams)) + ams)
                except OSError:
                    self.drop(reg.conn)
                    break
                self.sent["packets"] += 1
                self.sent["samples"] += len(chunk)

    def drop(self, conn: Any) -> None:
        with self.lock:
            for handle in [h for h, r in self.registrations.items() if r.conn is conn]:
                del self.registrations[handle]


class MemVariable(PLCVariable):
    """A pyads test-server variable backed by the PLC memory, so the stock handler's
    by-name and by-handle access sees the same bytes as offsets and notifications."""

    def __init__(self, plc: Plc, sym: Symbol) -> None:
        self.plc = plc
        self.sym = sym
        self._bound = False  # PLCVariable.__init__ assigns a zero value: keep the memory
        super().__init__(sym.name, bytes(sym.size), sym.ads_type, sym.type_name, IG_PLC,
                         sym.offset)
        self._bound = True
        self.comment = sym.comment

    @property  # type: ignore[override]
    def value(self) -> bytes:
        return self.plc.read(self.sym.offset, self.sym.size)

    @value.setter
    def value(self, data: bytes) -> None:
        if self._bound:
            self.plc.write(self.sym.offset, data[:self.sym.size])

    def write(self, value: bytes, request: AmsPacket = None) -> None:
        self.value = value


class PlcHandler(AdvancedHandler):
    """AdvancedHandler plus symbol/data type upload and notifications over TCP."""

    def __init__(self, plc: Plc, max_notifications: int) -> None:
        super().__init__()
        self.plc = plc
        self.max_notifications = max_notifications
        for sym in plc.symbols:
            self.add_variable(MemVariable(plc, sym))

    def handle_request(self, request: AmsPacket) -> AmsResponseData:
        conn = threading.current_thread()
        hdr = request.ams_header
        command = struct.unpack("<H", hdr.command_id)[0]
        data = hdr.data
        try:
            payload = self._dispatch(command, data, hdr, conn)
            if payload is None:
                return super().handle_request(request)
        except (KeyError, IndexError, struct.error) as exc:
            log.info("request %#x failed: %r", command, exc)
            payload = struct.pack("<II", ADSERR_SYMBOL_NOT_FOUND, 0)
        state = struct.pack("<H", struct.unpack("<H", hdr.state_flags)[0] | 1)
        return AmsResponseData(state, b"\0\0\0\0", payload)

    def _dispatch(self, command: int, data: bytes, hdr: Any, conn: Any) -> bytes | None:
        """Payload for the requests this handler adds; None: leave it to AdvancedHandler."""
        plc = self.plc
        if command == constants.ADSCOMMAND_READ:
            group, offset, length = struct.unpack_from("<III", data)
            if group == constants.ADSIGRP_SYM_UPLOADINFO2:
                out = struct.pack("<IIIIII", len(plc.symbols), len(self._symbol_upload()),
                                  len(DATATYPES), len(self._dt_upload()), 0, 0)
            elif group == constants.ADSIGRP_SYM_UPLOAD:
                out = self._symbol_upload()
            elif group == constants.ADSIGRP_SYM_DT_UPLOAD:
                out = self._dt_upload()
            elif group == IG_PLC:
                out = plc.read(offset, length)
            else:
                return None
            return struct.pack("<II", 0, len(out)) + out[:length]
        if command == constants.ADSCOMMAND_WRITE:
            group, offset, length = struct.unpack_from("<III", data)
            if group != IG_PLC:
                return None
            self._write(offset, data[12:12 + length])
            return struct.pack("<I", 0)
        if command == constants.ADSCOMMAND_READWRITE:
            group, count, _rlen, wlen = struct.unpack_from("<IIII", data)
            wdata = data[16:16 + wlen]
            if group == constants.ADSIGRP_SUMUP_READ:
                errors, values = b"", b""
                for i in range(count):
                    g, o, size = struct.unpack_from("<III", wdata, 12 * i)
                    try:
                        value = plc.read(o, size) if g == IG_PLC else b""
                        errors += struct.pack("<I", 0 if g == IG_PLC else ADSERR_NOT_SUPPORTED)
                    except KeyError:
                        value = bytes(size)
                        errors += struct.pack("<I", ADSERR_INVALID_OFFSET)
                    values += value
                out = errors + values
                return struct.pack("<II", 0, len(out)) + out
            if group == constants.ADSIGRP_SUMUP_WRITE:
                pos, errors = 12 * count, b""
                for i in range(count):
                    g, o, size = struct.unpack_from("<III", wdata, 12 * i)
                    self._write(o, wdata[pos:pos + size])
                    pos += size
                    errors += struct.pack("<I", 0)
                return struct.pack("<II", 0, len(errors)) + errors
            return None
        if command == constants.ADSCOMMAND_ADDDEVICENOTE:
            group, offset, length = struct.unpack_from("<III", data)
            if group == constants.ADSIGRP_SYM_VALBYHND:
                var = self.get_variable_by_handle(offset)
                group, offset = IG_PLC, var.sym.offset  # type: ignore[attr-defined]
            if group != IG_PLC:
                return None
            plc.read(offset, length)  # refuse ranges outside the memory
            if len(plc.registrations) >= self.max_notifications:
                return struct.pack("<II", ADSERR_NO_MORE_HANDLES, 0)
            addresses = hdr.source_net_id + hdr.source_port + hdr.target_net_id + hdr.target_port
            with plc.lock:
                handle = plc.next_handle
                plc.next_handle += 1
                plc.registrations[handle] = Registration(conn, addresses, offset, length)
            return struct.pack("<II", 0, handle)
        if command == constants.ADSCOMMAND_DELDEVICENOTE:
            (handle,) = struct.unpack_from("<I", data)
            with plc.lock:
                plc.registrations.pop(handle, None)
            return struct.pack("<I", 0)
        return None

    def _write(self, offset: int, value: bytes) -> None:
        for sym in self.plc.symbols:
            if sym.offset <= offset < sym.offset + sym.size and sym.flags & READONLY:
                raise KeyError(f"{sym.name} is read-only")
        self.plc.write(offset, value)

    def _symbol_upload(self) -> bytes:
        out = b""
        for s in self.plc.symbols:
            body = (s.name.encode() + b"\0" + s.type_name.encode() + b"\0"
                    + s.comment.encode() + b"\0")
            out += struct.pack("<IIIIIHHHHH", 30 + len(body), IG_PLC, s.offset, s.size,
                               s.ads_type, s.flags, 0, len(s.name), len(s.type_name),
                               len(s.comment)) + body
        return out

    @staticmethod
    def _dt_upload() -> bytes:
        return b"".join(dt.pack() for dt in DATATYPES)


class FramedConnection(AdsClientConnection):
    """pyads' client thread takes one recv() for one request; real clients send requests
    over 4 KB and back to back, so cut the stream into AMS/TCP frames by their length."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.client = _LockedSocket(self.client)  # type: ignore[assignment]

    def run(self) -> None:
        buf = b""
        while self._run:
            ready, _, _ = select.select([self.client], [], [], 0.1)
            if not ready:
                continue
            try:
                chunk = self.client.recv(65536)
            except OSError:
                chunk = b""
            if not chunk:
                self._run = False
                self.handler.plc.drop(self)  # type: ignore[attr-defined]
                self.client.close()
                continue
            buf += chunk
            while len(buf) >= 6 and len(buf) >= 6 + int.from_bytes(buf[2:6], "little"):
                size = 6 + int.from_bytes(buf[2:6], "little")
                request = self.construct_request(buf[:size])
                buf = buf[size:]
                response = self.handler.handle_request(request)
                try:
                    self.client.send(self.construct_response(response, request))
                except OSError:
                    self._run = False
                    break


class PlcServer(AdsTestServer):
    """AdsTestServer whose connections use :class:`FramedConnection`."""

    def run(self) -> None:
        self.server.listen(5)
        while self._run:
            ready, _, _ = select.select([self.server], [], [], 0.1)
            if not ready:
                continue
            try:
                client, address = self.server.accept()
            except OSError:
                continue
            conn = FramedConnection(handler=self.handler, client=client, address=address,
                                    server=self)
            conn.daemon = True
            conn.start()
            self.clients.append(conn)


def route_service(host: str, username: str, password: str, routes: list[dict[str, str]],
                  stop: threading.Event) -> None:
    """Answer "add route" requests on UDP 48899 as TwinCAT's system service does."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((host, 48899))
    sock.settimeout(0.2)
    while not stop.is_set():
        try:
            data, peer = sock.recvfrom(2048)
        except TimeoutError:
            continue
        (count,) = struct.unpack_from("<I", data, 20)
        fields, pos = {}, 24
        for _ in range(count):
            tag, size = struct.unpack_from("<HH", data, pos)
            fields[tag] = data[pos + 4:pos + 4 + size]
            pos += 4 + size
        text = {tag: value.rstrip(b"\0").decode() for tag, value in fields.items() if tag != 7}
        ok = (text.get(0x0D), text.get(0x02)) == (username, password)
        if ok:
            routes.append({"name": text.get(0x0C, ""), "host": text.get(0x05, ""),
                           "net_id": ".".join(str(b) for b in fields.get(7, b""))})
        reply = (b"\x03\x66\x14\x71" + bytes(4) + b"\x06\x00\x00\x80"
                 + bytes(map(int, f"{host}.1.1".split("."))) + struct.pack("<H", 10000)
                 + b"\x01\x00" + bytes(4) + (b"\x04\x00\x00" if ok else b"\x00\x04\x07")
                 + bytes(3))
        sock.sendto(reply, peer)
    sock.close()


def serve(host: str, cycle_ms: float, bench: int, password: str,
          max_notifications: int) -> None:
    plc = Plc(bench)
    server = PlcServer(PlcHandler(plc, max_notifications), ip_address=host, logging=False)
    server.start()
    stop = threading.Event()
    routes: list[dict[str, str]] = []
    threading.Thread(target=route_service, args=(host, "Administrator", password, routes, stop),
                     daemon=True).start()

    def program() -> None:
        n = 0
        while not stop.wait(cycle_ms / 1000):
            n += 1
            plc.cycle(n)
            plc.notify()

    threading.Thread(target=program, daemon=True).start()
    print(json.dumps({"ready": True, "host": host, "pid": os.getpid()}), flush=True)
    for line in sys.stdin:
        req = json.loads(line)
        try:
            if req["op"] == "get":
                reply: dict[str, Any] = {"value": plc.get(req["name"])}
            elif req["op"] == "set":
                plc.set(req["name"], req["value"])
                reply = {"ok": True}
            else:
                reply = {**plc.sent, "registrations": len(plc.registrations),
                         "routes": routes}
        except (KeyError, struct.error) as exc:
            reply = {"error": repr(exc)}
        print(json.dumps(reply), flush=True)
    stop.set()
    server.close()


class PlcProcess:
    """The stand-in PLC as a child process of the test, ended by its pid."""

    def __init__(self, host: str, cycle_ms: float = 20, bench: int = 0,
                 password: str = "1", max_notifications: int = 100_000) -> None:
        self.host = host
        self.net_id = f"{host}.1.1"
        self.args = [sys.executable, "-m", "tests.integration.ads.plc_server", "--host", host,
                     "--cycle-ms", str(cycle_ms), "--bench", str(bench),
                     "--password", password, "--max-notifications", str(max_notifications)]
        self.proc: subprocess.Popen[str] | None = None
        self._lock = threading.Lock()

    def start(self, timeout: float = 10) -> PlcProcess:
        self.proc = subprocess.Popen(self.args, cwd=REPO, stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True, bufsize=1)
        deadline = time.monotonic() + timeout
        while True:  # the port may still be held by a previous instance for a moment
            if self.proc.stdout.readline().startswith("{"):  # type: ignore[union-attr]
                return self
            self.proc.wait(timeout)
            if time.monotonic() > deadline:
                raise RuntimeError(f"test PLC on {self.host} did not start")
            time.sleep(0.1)
            self.proc = subprocess.Popen(self.args, cwd=REPO, stdin=subprocess.PIPE,
                                         stdout=subprocess.PIPE, text=True, bufsize=1)

    def request(self, **req: Any) -> dict[str, Any]:
        assert self.proc is not None and self.proc.stdin and self.proc.stdout
        with self._lock:
            self.proc.stdin.write(json.dumps(req) + "\n")
            self.proc.stdin.flush()
            return json.loads(self.proc.stdout.readline())

    def get(self, name: str) -> Any:
        return self.request(op="get", name=name)["value"]

    def set(self, name: str, value: Any) -> None:
        assert self.request(op="set", name=name, value=value) == {"ok": True}

    def stats(self) -> dict[str, Any]:
        return self.request(op="stats")

    def stop(self) -> None:
        """SIGKILL: the PLC vanishes from the network as a pulled cable would."""
        if self.proc is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)
        for stream in (self.proc.stdin, self.proc.stdout):
            with contextlib.suppress(OSError):
                stream.close()  # type: ignore[union-attr]
        self.proc = None


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--host", default="127.0.0.2")
    ap.add_argument("--cycle-ms", type=float, default=20)
    ap.add_argument("--bench", type=int, default=0, help="extra DINTs changed every cycle")
    ap.add_argument("--password", default="1", help="of the user Administrator, for routes")
    ap.add_argument("--max-notifications", type=int, default=100_000,
                    help="notification handles before the PLC answers 'no more handles'")
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)
    serve(args.host, args.cycle_ms, args.bench, args.password, args.max_notifications)


if __name__ == "__main__":
    main()
