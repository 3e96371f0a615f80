"""SmartHome Edge OS: one import namespace for every part of the system.

The repository keeps its top-level folders (``supervisor/``, ``ipc/``, ``workers/``,
``admin_ui/``, ``config/``); setup.py installs them as ``edgeos.supervisor``,
``edgeos.ipc``, ``edgeos.workers``, ``edgeos.admin_ui`` and ``edgeos.config``, so no
generic top-level name (``supervisor`` is supervisord's) lands in site-packages.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("smarthome-edge-os")
except PackageNotFoundError:  # running from a bare checkout
    __version__ = "0.0.0"
