"""Every command of both RPC sockets declares its arguments and has a docstring, and
edgectl's verbs take their help from them (issue 14 item 3).

A command written in the old style (no ``args``, reading ``args.get(...)``) fails
``test_every_command_declares_its_arguments_and_help``: see docs/commands.md for how to
convert one.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator

import pytest
from edgeos.ipc.broker.commands import BrokerCommand
from edgeos.ipc.commands import KINDS, Command
from edgeos.ipc.satellite.gateway_commands import GatewayCommand
from edgeos.supervisor import command_modules, edgectl

COMMANDS = command_modules.load_all()  # every supervisor command, the lazy ones too

FAMILIES = {"supervisor": COMMANDS, "broker": BrokerCommand.registry,
            "gateway": GatewayCommand.registry}
ALL = [(family, name, cls) for family, registry in FAMILIES.items()
       for name, cls in sorted(registry.items())]
RESERVED = {"cmd", "timeout"}  # the RPC clients' own parameters: never an argument


@pytest.mark.parametrize(("family", "name", "cls"), ALL,
                         ids=[f"{f}:{n}" for f, n, _ in ALL])
def test_every_command_declares_its_arguments_and_help(family: str, name: str,
                                                       cls: type[Command]) -> None:
    assert cls.name == name
    assert cls.args is not None, (
        f"{family} command {name!r} ({cls.__module__}.{cls.__qualname__}) declares no "
        "arguments: give it args = (Arg(...), ...) (docs/commands.md)")
    assert cls.help(), f"{name!r} has no docstring: its first line is the help"
    names = [a.name for a in cls.args]
    assert len(names) == len(set(names)), f"{name!r} declares an argument twice"
    for arg in cls.args:
        assert arg.kind in KINDS
        assert arg.name not in RESERVED, f"{name}.{arg.name}: reserved by the RPC clients"
        assert arg.help, f"{name}.{arg.name} has no help"
        assert arg.default is None or not arg.required, f"{name}.{arg.name}: both"


def test_the_supervisor_forwards_broker_commands_as_the_broker_declares_them() -> None:
    for name in ("get", "set", "route_test", "datapoints", "routes", "blob"):
        assert COMMANDS[name].args == BrokerCommand.registry[name].args
        assert COMMANDS[name].help() == BrokerCommand.registry[name].help()


def _leaves(parser: argparse.ArgumentParser, path: str = ""
            ) -> Iterator[tuple[str, str | None, argparse.ArgumentParser]]:
    """(verb path, the help shown for it, its parser) of every sub-command."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            helps = {a.dest: a.help for a in action._choices_actions}
            for verb, child in action.choices.items():
                yield f"{path} {verb}".strip(), helps.get(verb), child
                yield from _leaves(child, f"{path} {verb}")


def test_edgectl_help_comes_from_the_commands() -> None:
    checked = set()
    for verb, shown, parser in _leaves(edgectl.build_parser()):
        name = parser.get_default("command")
        if name is None:
            continue  # a group (token, user, ...) or a local verb (validate, client-key)
        cls = COMMANDS[name]
        assert shown == cls.help(), f"edgectl {verb}: help is not {name}'s docstring"
        for action in parser._actions:
            if action.dest in {a.name for a in cls.args or ()}:
                assert action.help and action.help.startswith(cls.arg(action.dest).help), \
                    f"edgectl {verb} {action.dest}: help is not the declared one"
        checked.add(name)
    assert {"status", "start", "set", "logs", "panic", "token_create", "user_add",
            "plugin_install", "satellites_trust", "remote_trust", "route_test"} <= checked


def test_edgectl_sends_what_the_command_line_says() -> None:
    parser = edgectl.build_parser()
    cmd, args, _ = edgectl.request(parser.parse_args(["set", "a.b", "42", "--no-wait",
                                                      "--timeout", "2"]))
    assert (cmd, args) == ("set", {"address": "a.b", "value": 42, "wait": False,
                                   "wait_s": 2.0})
    COMMANDS[cmd].validate(args)  # what edgectl sends is what the daemon accepts
    cmd, args, _ = edgectl.request(parser.parse_args(["token", "create", "--role", "admin"]))
    assert (cmd, args) == ("token_create", {"role": "admin", "name": None})
    cmd, args, _ = edgectl.request(parser.parse_args(["satellites", "trust", "--pending",
                                                      "s1"]))
    assert (cmd, args) == ("satellites_trust", {"key": None, "id": None, "pending": "s1"})
    with pytest.raises(SystemExit):
        parser.parse_args(["token", "create", "--role", "root"])  # choices from the Arg



def test_choices_kept_beside_their_store_are_the_stores_own() -> None:
    from edgeos.ipc.satellite.trust import ROLES
    from edgeos.supervisor.satellite_commands import CLIENT_ROLES

    assert CLIENT_ROLES == ROLES
