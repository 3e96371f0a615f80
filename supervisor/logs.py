"""Capture of every child's stdout/stderr: a bounded ring per instance plus
rotating files under ``<data>/logs/``, and a live feed for ``edgectl logs -f``.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

from edgeos.ipc import low_power
from edgeos.ipc.protocol import now_ms

MAX_LINE = 16 * 1024  # bytes of one line kept; a longer one is cut (and says so)
RING = 2000  # lines kept in memory per instance (the files keep more)
RING_LOW_POWER = 500  # the same on the LOW_POWER profile
LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
LEVEL_RANK = {name: n for n, name in enumerate(LEVELS)}


class RotatingFile:
    """Append-only text file that rotates to ``.1`` .. ``.N`` past ``max_bytes``.

    Each line is written at once, so the file is opened unbuffered in binary mode: a
    buffered text file keeps a 4-8 kB buffer and an encoder per instance in the
    supervisor for nothing (issue 16, RSS)."""

    def __init__(self, path: Path, max_bytes: int = 1_000_000, backups: int = 3) -> None:
        self.path = path
        self.max_bytes = max_bytes
        self.backups = backups
        path.parent.mkdir(parents=True, exist_ok=True)
        self._fh = open(path, "ab", buffering=0)  # noqa: SIM115 - long-lived handle

    def write(self, text: str) -> None:
        data = memoryview(text.encode("utf-8"))
        while data:  # a raw write may take less than it was given
            data = data[self._fh.write(data):]
        if self._fh.tell() > self.max_bytes:
            self._rotate()

    def _rotate(self) -> None:
        self._fh.close()
        for n in range(self.backups - 1, 0, -1):
            src = self.path.with_name(f"{self.path.name}.{n}")
            if src.exists():
                os.replace(src, self.path.with_name(f"{self.path.name}.{n + 1}"))
        os.replace(self.path, self.path.with_name(f"{self.path.name}.1"))
        self._fh = open(self.path, "ab", buffering=0)  # noqa: SIM115

    def close(self) -> None:
        self._fh.close()


class InstanceLog:
    """Lines of one instance: ring buffer, file, and a callback per new line."""

    def __init__(self, instance_id: str, log_dir: Path, ring: int | None = None) -> None:
        self.instance_id = instance_id
        # (ts, stream, level, line): a tuple is a third of the dict ``tail`` makes of it,
        # and a full ring of chatty lines was ~0.75 MB per instance as dicts (issue 16)
        self.ring: deque[tuple[int, str, str, str]] = deque(maxlen=ring or low_power.sized(
            RING, RING_LOW_POWER))
        self.file = RotatingFile(log_dir / f"{instance_id}.log")
        self._partial: dict[str, bytes] = {"stdout": b"", "stderr": b""}
        self._cut: dict[str, int] = {"stdout": 0, "stderr": 0}  # bytes dropped of a long line
        self._level = "INFO"

    def feed(self, stream: str, data: bytes) -> list[dict[str, Any]]:
        """Split ``data`` into lines (keeping a partial tail) and record them.

        A line is kept up to MAX_LINE bytes: a child printing one huge line (a 50 MB
        repr in an error message) must neither fill the disk past the rotation limit
        nor the supervisor's memory, so the rest is dropped and counted."""
        *lines, tail = data.split(b"\n")
        out = []
        for raw in lines:
            out.append(self._line(stream, self._partial[stream] + raw[:MAX_LINE],
                                  len(raw) - len(raw[:MAX_LINE])))
            self._partial[stream], self._cut[stream] = b"", 0
        room = MAX_LINE - len(self._partial[stream])
        self._partial[stream] += tail[:max(room, 0)]
        self._cut[stream] += len(tail) - len(tail[:max(room, 0)])
        return out

    def _line(self, stream: str, raw: bytes, more: int) -> dict[str, Any]:
        line = raw[:MAX_LINE].decode("utf-8", "replace")
        more += self._cut[stream] + max(len(raw) - MAX_LINE, 0)
        return self.add(stream, f"{line} [... {more} more bytes cut]" if more else line)

    def flush_partial(self) -> list[dict[str, Any]]:
        out = []
        for stream, rest in self._partial.items():
            if rest:
                out.append(self._line(stream, rest, 0))
                self._partial[stream], self._cut[stream] = b"", 0
        return out

    def add(self, stream: str, line: str, level: str | None = None) -> dict[str, Any]:
        if level is None:
            head, _, rest = line.partition(" ")
            if head in LEVEL_RANK:  # the child's "LEVEL name: message": the level once
                level, line = head, rest
            else:  # continuation lines (tracebacks) keep the level of their line
                level = self._level if line[:1] in " \t" or line.startswith(
                    "Traceback") else "INFO"
        self._level = level
        ts = now_ms()
        self.ring.append((ts, stream, level, line))
        self.file.write(f"{ts} {stream} {level} {line}\n")
        return self._entry(ts, stream, level, line)

    def _entry(self, ts: int, stream: str, level: str, line: str) -> dict[str, Any]:
        return {"ts": ts, "instance": self.instance_id, "stream": stream, "level": level,
                "line": line}

    def tail(self, n: int = 100, level: str | None = None) -> list[dict[str, Any]]:
        rank = LEVEL_RANK.get((level or "DEBUG").upper(), 0)
        lines = [e for e in self.ring if LEVEL_RANK.get(e[2], 1) >= rank]
        return [self._entry(*e) for e in (lines[-n:] if n > 0 else lines)]


class LogBook:
    """All instance logs; attaches to a spawned child's pipes through the seam."""

    def __init__(self, log_dir: Path, on_line: Callable[[dict[str, Any]], None]) -> None:
        self.log_dir = log_dir
        self.on_line = on_line
        self.logs: dict[str, InstanceLog] = {}

    def get(self, instance_id: str) -> InstanceLog:
        if instance_id not in self.logs:
            self.logs[instance_id] = InstanceLog(instance_id, self.log_dir)
        return self.logs[instance_id]

    def attach(self, instance_id: str, fd: int, stream: str,
               watch: Callable[[int, Callable[[], None]], None],
               unwatch: Callable[[int], None]) -> None:
        log = self.get(instance_id)

        def readable() -> None:
            try:
                data = os.read(fd, 65536)
            except BlockingIOError:
                return
            except OSError:
                data = b""
            if not data:
                unwatch(fd)
                os.close(fd)
                entries = log.flush_partial()
            else:
                entries = log.feed(stream, data)
            for entry in entries:
                self.on_line(entry)

        watch(fd, readable)

    def close(self) -> None:
        for log in self.logs.values():
            log.file.close()
