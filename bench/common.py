"""What every benchmark shares: its ``--json`` flag, how it ends (the figures as
one JSON line, last, for the lead's tables and CI) and its scratch directories."""

from __future__ import annotations

import argparse
import atexit
import json
import shutil
import tempfile
from pathlib import Path
from typing import Any


def parser(description: str | None = None) -> argparse.ArgumentParser:
    """An argument parser that already has ``--json``."""
    ap = argparse.ArgumentParser(description=description)
    ap.add_argument("--json", action="store_true", help="print the figures as a JSON line")
    return ap


def finish(args: argparse.Namespace, figures: Any) -> int:
    """Print ``figures`` as the last line when ``--json`` asks; the exit code."""
    if args.json:
        print(json.dumps(figures))
    return 0


def scratch(prefix: str) -> Path:
    """A new directory under the system's temp dir, removed when the bench exits (its
    daemons' data and logs, sockets): a bench run leaves nothing behind."""
    path = Path(tempfile.mkdtemp(prefix=prefix))
    atexit.register(shutil.rmtree, path, ignore_errors=True)
    return path
