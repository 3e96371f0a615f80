"""Meter emulator: slaves on a pty that answer like real M-Bus meters with captured frames.

It answers SND_NKE with an ACK, REQ_UD2 with its captured RSP_UD frame (by primary
address, or at 0xFD after a secondary-address selection), and can go silent or
put garbage on the line, so tests exercise the master's timeouts and resync.

In a thread:   with MeterEmulator([EmulatedMeter(frame)]) as emu: Master(emu.port) ...
As a process:  python -m edgeos.workers.mbus.emulator --pty-link /tmp/mbus0 --frame meter.hex@5
               (prints "ready <pty>" when serving; SIGUSR1 toggles all meters silent;
               SIGTERM/SIGINT stop it and remove the link).
"""

from __future__ import annotations

import argparse
import logging
import os
import select
import signal
import sys
import termios
import threading
import tty
from dataclasses import dataclass, field
from pathlib import Path

from edgeos.workers.mbus.decoder.frame import (
    ACK,
    ADDRESS_BROADCAST,
    ADDRESS_NETWORK,
    C_REQ_UD2,
    C_SND_NKE,
    C_SND_UD,
    CI_RSP_VARIABLE,
    CI_SELECT_SECONDARY,
    FCB,
    LONG_START,
    SHORT_START,
    long_frame,
    parse_long_frame,
    pop_frame,
)

log = logging.getLogger(__name__)

ADDRESS_TEST = 0xFE  # every slave answers (used with a single meter on the bus)
_POLL_S = 0.05


@dataclass
class EmulatedMeter:
    """One emulated slave answering with a captured RSP_UD frame.

    `address` defaults to the A field of the frame; if given, the frame is re-addressed.
    """

    frame: bytes
    address: int | None = None
    silent: bool = False
    selected: bool = field(default=False, init=False)
    _identity: bytes = field(default=b"", init=False, repr=False)

    def __post_init__(self) -> None:
        parsed = parse_long_frame(self.frame)
        if self.address is None:
            self.address = parsed.address
        elif self.address != parsed.address:
            self.frame = long_frame(parsed.control, self.address, parsed.ci, parsed.data)
        # Secondary address: ID, manufacturer, version, medium of a variable data header;
        # a fixed data structure has only the ID.
        header = parsed.data[:8] if parsed.ci == CI_RSP_VARIABLE else parsed.data[:4]
        self._identity = header.ljust(8, b"\xff")

    def matches(self, mask: bytes) -> bool:
        """EN 13757-3 secondary selection: F is a wildcard ID digit, FF a wildcard byte."""
        for i, (want, have) in enumerate(zip(mask, self._identity, strict=True)):
            if i < 4:
                for shift in (0, 4):
                    nibble = (want >> shift) & 0x0F
                    if nibble != 0x0F and nibble != (have >> shift) & 0x0F:
                        return False
            elif want != 0xFF and want != have:
                return False
        return True


class MeterEmulator:
    """A pty whose far end (`port`) behaves like an M-Bus line with the given meters."""

    def __init__(self, meters: list[EmulatedMeter]) -> None:
        self.meters = meters
        self.requests = 0  # telegrams received, for tests
        self._garbage = b""
        self._master_fd, self._slave_fd = os.openpty()
        tty.setraw(self._slave_fd)  # no echo, no line editing: a plain byte pipe
        self.port = os.ttyname(self._slave_fd)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> MeterEmulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> MeterEmulator:
        """Serve in a background thread."""
        self._thread = threading.Thread(target=self.serve_forever, name="mbus-emulator",
                                        daemon=True)
        self._thread.start()
        return self

    def request_stop(self) -> None:
        """Ask serve_forever to return (safe from signal handlers)."""
        self._stop.set()

    def stop(self) -> None:
        """Stop serving and close the pty."""
        self.request_stop()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        for fd in (self._master_fd, self._slave_fd):
            if fd >= 0:
                os.close(fd)
        self._master_fd = self._slave_fd = -1

    def meter(self, address: int) -> EmulatedMeter:
        return next(m for m in self.meters if m.address == address)

    def inject_garbage(self, data: bytes) -> None:
        """Send `data` on the line just before the next answer (one-shot)."""
        self._garbage = data

    def serve_forever(self) -> None:
        buf = bytearray()
        while not self._stop.is_set():
            ready, _, _ = select.select([self._master_fd], [], [], _POLL_S)
            if not ready:
                buf.clear()  # a pause ends any half-received telegram
                self._unset_speed()
                continue
            try:
                buf += os.read(self._master_fd, 4096)
            except OSError as exc:
                log.warning("emulator pty read failed: %s", exc)
                return
            while (frame := pop_frame(buf)) is not None:
                self.requests += 1
                answer = self._answer(frame)
                if answer:
                    os.write(self._master_fd, self._garbage + answer)
                    self._garbage = b""

    def _unset_speed(self) -> None:
        """Put the pty back to its initial speed while the line is quiet.

        Newer Linux kernels refuse (EINVAL) a tcsetattr on a pty whose only change is
        even parity, which a pty cannot do anyway; a master that opens the port again at
        the speed it left behind then fails to open. A speed to change avoids that.
        """
        attrs = termios.tcgetattr(self._slave_fd)
        if attrs[4] != termios.B38400:
            attrs[2] = (attrs[2] & ~termios.CBAUD) | termios.B38400
            attrs[4] = attrs[5] = termios.B38400
            termios.tcsetattr(self._slave_fd, termios.TCSANOW, attrs)

    # -- slave behaviour ------------------------------------------------------------

    def _answer(self, frame: bytes) -> bytes | None:
        if frame[0] == SHORT_START:
            return self._short(control=frame[1], address=frame[2])
        if frame[0] == LONG_START:
            return self._long(frame)
        return None

    def _targets(self, address: int) -> list[EmulatedMeter]:
        if address == ADDRESS_NETWORK:
            return [m for m in self.meters if m.selected]
        if address == ADDRESS_TEST:
            return self.meters[:1]
        return [m for m in self.meters if m.address == address]

    def _short(self, control: int, address: int) -> bytes | None:
        if address == ADDRESS_BROADCAST:
            if control == C_SND_NKE:
                self._deselect_all()
            return None
        targets = [m for m in self._targets(address) if not m.silent]
        if control == C_SND_NKE:
            if address == ADDRESS_NETWORK:
                self._deselect_all()
            return bytes((ACK,)) if targets else None
        if control & ~FCB == C_REQ_UD2 and targets:
            return targets[0].frame if len(targets) == 1 else _collision(targets)
        return None

    def _long(self, frame: bytes) -> bytes | None:
        """SND_UD: secondary selection at 0xFD, or data sent to a primary address (ACKed).

        A wildcard selection may select several meters; their identical ACKs overlap into
        one, and their answers at 0xFD collide (see :func:`_collision`).
        """
        parsed = parse_long_frame(frame)
        if parsed.control & ~FCB != C_SND_UD:
            return None
        if parsed.address == ADDRESS_NETWORK and parsed.ci == CI_SELECT_SECONDARY:
            if len(parsed.data) != 8:
                return None
            self._deselect_all()
            matched = [m for m in self.meters if m.matches(parsed.data)]
            for meter in matched:
                meter.selected = True
            return bytes((ACK,)) if any(not m.silent for m in matched) else None
        targets = [m for m in self._targets(parsed.address) if not m.silent]
        return bytes((ACK,)) if targets else None

    def _deselect_all(self) -> None:
        for meter in self.meters:
            meter.selected = False


def _collision(meters: list[EmulatedMeter]) -> bytes:
    """What a master hears when several meters answer at once: on the bus a 1 bit wins
    (the meters pull the line's current), so the frames overlap as their bitwise OR,
    which fails the checksum unless the frames are identical."""
    length = max(len(m.frame) for m in meters)
    mixed = bytearray(length)
    for meter in meters:
        for i, byte in enumerate(meter.frame):
            mixed[i] |= byte
    return bytes(mixed)


def _meter_arg(spec: str) -> EmulatedMeter:
    """FILE or FILE@ADDRESS; FILE holds the frame as hex, as in the shared .hex captures."""
    path, _, address = spec.rpartition("@") if "@" in spec else (spec, "", "")
    try:
        frame = bytes.fromhex(Path(path).read_text())
        return EmulatedMeter(frame, address=int(address, 0) if address else None)
    except (OSError, ValueError) as exc:  # ValueError includes DecodeError
        raise argparse.ArgumentTypeError(f"{spec}: {exc}") from exc


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m edgeos.workers.mbus.emulator",
                                     description="Emulated M-Bus meters on a pty.")
    parser.add_argument("--pty-link", required=True, type=Path,
                        help="create this symlink to the pty the master should open")
    parser.add_argument("--frame", required=True, action="append", metavar="FILE[@ADDR]",
                        type=_meter_arg, dest="meters",
                        help="captured RSP_UD frame (hex file), optionally re-addressed")
    parser.add_argument("--silent", action="store_true", help="start with all meters silent")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")

    meters: list[EmulatedMeter] = args.meters
    for meter in meters:
        meter.silent = args.silent
    emulator = MeterEmulator(meters)
    link: Path = args.pty_link
    link.unlink(missing_ok=True)
    link.symlink_to(emulator.port)

    def toggle_silent(*_: object) -> None:
        for meter in meters:
            meter.silent = not meter.silent
        log.info("meters now %s", "silent" if meters[0].silent else "answering")

    signal.signal(signal.SIGUSR1, toggle_silent)
    signal.signal(signal.SIGTERM, lambda *_: emulator.request_stop())
    signal.signal(signal.SIGINT, lambda *_: emulator.request_stop())
    print(f"ready {emulator.port}", flush=True)
    try:
        emulator.serve_forever()
    finally:
        link.unlink(missing_ok=True)
        emulator.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
