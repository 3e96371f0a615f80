"""Reading a JSON config file with errors that name the file, line and column, bounded
in size; shared by the supervisor's config loading and the satellite trust files."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from edgeos.common import capacity


class ConfigError(Exception):
    """A config file was refused; ``errors`` has one line per problem."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__("\n".join(errors))
        self.errors = errors


def read_json(path: Path) -> Any:
    """Parse a JSON file; errors name the file, line and column."""
    too_big = capacity.size_problem(path)
    if too_big:
        raise ConfigError([too_big])
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ConfigError([f"{path.name}: invalid JSON at line {exc.lineno} column "
                           f"{exc.colno}: {exc.msg}"]) from None
    except OSError as exc:
        raise ConfigError([f"{path.name}: cannot read: {exc.strerror}"]) from None
