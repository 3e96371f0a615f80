"""What every benchmark shares: its ``--json`` flag and how it ends (the figures as
one JSON line, last, for the lead's tables and CI)."""

from __future__ import annotations

import argparse
import json
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
