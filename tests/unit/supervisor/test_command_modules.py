"""The supervisor imports the command modules of HA, satellites, users, discovery and
plugins on first use (supervisor/command_modules.py, issue 16): the table that says
which module registers which command is held to what the modules really register, a
request for one of them imports its module, and ``help`` still lists every command.

Each check runs in a fresh interpreter: in this one, other tests have imported the
modules already.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

from edgeos.supervisor.command_modules import MODULES


def fresh(code: str) -> object:
    """What ``code`` (a fresh interpreter) prints as JSON on its last line."""
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True,
                          text=True, timeout=60, check=True)
    return json.loads(done.stdout.splitlines()[-1])


def test_the_table_names_what_each_module_registers() -> None:
    registered = fresh("""
        import json, sys
        from edgeos.supervisor import command_modules
        from edgeos.supervisor.commands import COMMANDS
        import edgeos.supervisor.controller
        out = {"loaded": [m for m in command_modules.MODULES if m in sys.modules],
               "eager": sorted(COMMANDS), "by_module": {}}
        for name, cls in command_modules.load_all().items():
            out["by_module"].setdefault(cls.__module__, []).append(name)
        print(json.dumps(out))
    """)
    assert registered["loaded"] == []  # the control endpoint imports none of them
    lazy = {name for names in MODULES.values() for name in names}
    assert not lazy & set(registered["eager"])  # none replaces a command of the start
    by_module = registered["by_module"]
    for module, names in MODULES.items():
        assert sorted(by_module.pop(module)) == sorted(names), module
    # the rest: imported at start
    assert set(by_module) == {"edgeos.supervisor.commands", "edgeos.supervisor.satellite_commands"}


def test_a_request_imports_its_module_and_help_lists_every_command() -> None:
    seen = fresh("""
        import json, sys
        from edgeos.ipc.rpc import RpcError
        from edgeos.supervisor import command_modules
        before = "edgeos.supervisor.ha_commands" in sys.modules
        cls = command_modules.find("ha_promote")
        after = [m for m in command_modules.MODULES if m in sys.modules]
        try:
            command_modules.find("no_such_command")
        except RpcError as exc:
            unknown = [str(exc), exc.code]
        print(json.dumps({"before": before, "class": cls.__module__, "after": after,
                          "unknown": unknown}))
    """)
    assert seen == {"before": False, "class": "edgeos.supervisor.ha_commands",
                    "after": ["edgeos.supervisor.ha_commands"],
                    "unknown": ["unknown command 'no_such_command'", "unknown_command"]}
    listed = fresh("""
        import asyncio, json
        from edgeos.supervisor.commands import Help
        print(json.dumps(sorted(asyncio.run(Help(None).execute({})))))
    """)
    every = fresh("""
        import json
        from edgeos.supervisor.commands import COMMANDS
        # what the control endpoint imported at start before the table
        import edgeos.supervisor.auth_commands, edgeos.supervisor.discover_commands
        import edgeos.supervisor.ha_commands, edgeos.supervisor.ha_selffence
        import edgeos.supervisor.plugin_commands, edgeos.supervisor.satellite_commands
        print(json.dumps(sorted(COMMANDS)))
    """)
    assert listed == every and "ha_alone" in listed and "status" in listed
