"""SmartHome Edge OS: one import namespace for every part of the system.

The repository keeps its top-level folders (``supervisor/``, ``ipc/``, ``workers/``,
``admin_ui/``, ``config/``); setup.py installs them as ``edgeos.supervisor``,
``edgeos.ipc``, ``edgeos.workers``, ``edgeos.admin_ui`` and ``edgeos.config``, so no
generic top-level name (``supervisor`` is supervisord's) lands in site-packages.

``__version__`` is looked up on first use: importlib.metadata (and the email package it
pulls in) costs every process ~2.5 MB, and most never ask.
"""

from typing import Any


def __getattr__(name: str) -> Any:
    if name != "__version__":
        raise AttributeError(f"module 'edgeos' has no attribute {name!r}")
    from importlib.metadata import PackageNotFoundError, version

    try:
        found = version("smarthome-edge-os")
    except PackageNotFoundError:  # running from a bare checkout
        found = "0.0.0"
    globals()["__version__"] = found
    return found
