"""Capture of every child's stdout/stderr: a bounded ring per instance plus
rotating files under ``<data>/logs/``, and a live feed for ``edgectl logs -f``.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

from edgeos.ipc.protocol import now_ms

LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
LEVEL_RANK = {name: n for n, name in enumerate(LEVELS)}


class RotatingFile:
    """Append-only text file that rotates to ``.1`` .. ``.N`` past ``max_bytes``."""

    def __init__(self, path: Path, max_bytes: int = 1_000_000, backups: int = 3) -> None:
        self.path = path
        self.max_bytes = max_bytes
        self.backups = backups
        path.parent.mkdir(parents=True, exist_ok=True)
        self._fh = open(path, "a", encoding="utf-8")  # noqa: SIM115 - long-lived handle

    def write(self, text: str) -> None:
        self._fh.write(text)
        self._fh.flush()
        if self._fh.tell() > self.max_bytes:
            self._rotate()

    def _rotate(self) -> None:
        self._fh.close()
        for n in range(self.backups - 1, 0, -1):
            src = self.path.with_name(f"{self.path.name}.{n}")
            if src.exists():
                os.replace(src, self.path.with_name(f"{self.path.name}.{n + 1}"))
        os.replace(self.path, self.path.with_name(f"{self.path.name}.1"))
        self._fh = open(self.path, "a", encoding="utf-8")  # noqa: SIM115

    def close(self) -> None:
        self._fh.close()


class InstanceLog:
    """Lines of one instance: ring buffer, file, and a callback per new line."""

    def __init__(self, instance_id: str, log_dir: Path, ring: int = 2000) -> None:
        self.instance_id = instance_id
        self.ring: deque[dict[str, Any]] = deque(maxlen=ring)
        self.file = RotatingFile(log_dir / f"{instance_id}.log")
        self._partial: dict[str, bytes] = {"stdout": b"", "stderr": b""}
        self._level = "INFO"

    def feed(self, stream: str, data: bytes) -> list[dict[str, Any]]:
        """Split ``data`` into lines (keeping a partial tail) and record them."""
        buf = self._partial[stream] + data
        *lines, self._partial[stream] = buf.split(b"\n")
        return [self.add(stream, raw.decode("utf-8", "replace")) for raw in lines]

    def flush_partial(self) -> list[dict[str, Any]]:
        out = []
        for stream, rest in self._partial.items():
            if rest:
                out.append(self.add(stream, rest.decode("utf-8", "replace")))
                self._partial[stream] = b""
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
        entry = {"ts": now_ms(), "instance": self.instance_id, "stream": stream,
                 "level": level, "line": line}
        self.ring.append(entry)
        self.file.write(f"{entry['ts']} {stream} {level} {line}\n")
        return entry

    def tail(self, n: int = 100, level: str | None = None) -> list[dict[str, Any]]:
        rank = LEVEL_RANK.get((level or "DEBUG").upper(), 0)
        lines = [e for e in self.ring if LEVEL_RANK.get(e["level"], 1) >= rank]
        return lines[-n:] if n > 0 else lines


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
