"""Byte-compile edgeos before a benchmark measures its processes' memory.

An installed edgeos (a wheel, a Debian package) has its ``.pyc`` files: pip compiles
them at install. A checkout installed in editable mode has them only once some run
wrote them, and never where ``PYTHONDONTWRITEBYTECODE`` is set (as on the CI and
development machines here): then every process compiles every edgeos module from
source at every start, and the compiler's garbage stays in its arenas. Measured in
the idle supervisor with 20 workers (docs/supervisor-memory.md, round 8): 0.8 MB more
RSS, 0.7 MB more PSS than with the files. circus and supervisord run from a pip venv
with theirs, so ``bench/peers.py`` compiles ours first, as an install would.
"""

from __future__ import annotations

import compileall
import importlib.util
from pathlib import Path

#: the packages whose modules edgeos's processes import (setup.py maps each to a folder)
PACKAGES = ("edgeos", "edgeos.supervisor", "edgeos.ipc", "edgeos.workers", "edgeos.common",
            "edgeos.admin_ui")


def package_dirs() -> list[Path]:
    """Where those packages' sources are, as the import system finds them."""
    dirs: list[Path] = []
    for name in PACKAGES:
        spec = importlib.util.find_spec(name)
        if spec is None or not spec.submodule_search_locations:
            raise RuntimeError(f"cannot find the package {name} (is edgeos installed?)")
        dirs += [Path(p) for p in spec.submodule_search_locations if Path(p) not in dirs]
    return dirs


def compile_edgeos() -> None:
    """Write the ``.pyc`` files that are missing or older than their source (what pip
    writes at install); up-to-date files are left alone. Raises if one fails."""
    for path in package_dirs():
        if not compileall.compile_dir(path, quiet=1):
            raise RuntimeError(f"byte-compiling {path} failed")
