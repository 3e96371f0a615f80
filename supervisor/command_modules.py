"""The control commands that live in modules of their own (high availability, users
and tokens, discovery, plugins), imported by the supervisor on the first request for
one of them (issue 16, RSS).

A node without HA or plugin work never runs these commands, yet importing them put
their modules and the HA mirror's into the idle supervisor for good. The table below
says which module registers which command names; ``tests/unit/supervisor/
test_command_modules.py`` holds it to what the modules really register, so a command
added to one of them cannot go missing here. ``help`` imports them all first: its
answer lists every command, as before. The satellite commands are not in the table:
they replace ``start``, ``stop``, ``restart``, ``kill`` and ``status`` (for
``<satellite>.<instance>``), so the controller imports them at start; a module in the
table must not replace a command (the test checks that too).
"""

from __future__ import annotations

import importlib

from edgeos.ipc import commands as base
from edgeos.supervisor.commands import COMMANDS

#: module -> the command names it registers in :data:`~edgeos.supervisor.commands.COMMANDS`
MODULES: dict[str, tuple[str, ...]] = {
    "edgeos.supervisor.auth_commands": (
        "passwd", "token_create", "token_list", "token_revoke", "user_add", "user_list",
        "user_remove", "user_update"),
    "edgeos.supervisor.discover_commands": (
        "browse", "discover", "discover_cancel", "discover_list", "discover_status"),
    "edgeos.supervisor.ha_commands": (
        "ha", "ha_apply", "ha_demote", "ha_failover", "ha_fenced", "ha_promote", "ha_seen",
        "ha_trust"),
    "edgeos.supervisor.ha_selffence": ("ha_alone",),
    "edgeos.supervisor.plugin_commands": (
        "plugin_disable", "plugin_enable", "plugin_install", "plugin_job", "plugin_list",
        "plugin_readme", "plugin_uninstall", "plugin_update"),
}
_MODULE_OF = {name: module for module, names in MODULES.items() for name in names}


def find(cmd: str) -> type[base.Command]:
    """The class of ``cmd``, its module imported first if it is one of the table's;
    an unknown name is ``unknown_command`` as ever."""
    if cmd not in COMMANDS and cmd in _MODULE_OF:
        importlib.import_module(_MODULE_OF[cmd])
    return base.find(COMMANDS, cmd)


def load_all() -> dict[str, type[base.Command]]:
    """Every command, for ``help``: the table's modules imported."""
    for module in MODULES:
        importlib.import_module(module)
    return COMMANDS
