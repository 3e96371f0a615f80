"""``edgectl``'s sub-parsers made from the command classes: a verb's help is its command's
docstring, each positional's and option's help, type, choices and default come from the
command's declared :class:`~edgeos.ipc.commands.Arg`, so edgectl keeps no second copy.

A parser made here records which command it sends (``args.command``) and which
arguments the command line gave (``args.fields``); :func:`rpc_args` turns a parsed
command line back into the request's arguments.
"""

from __future__ import annotations

import argparse
from collections.abc import Collection, Mapping, Sequence
from typing import Any

from edgeos.ipc.commands import Arg, Command

_TYPES = {"int": int, "float": float}


def add_command(sub: Any, verb: str, command: type[Command], positionals: Sequence[str] = (),
                options: Mapping[str, str] | None = None, *, needed: Collection[str] = (),
                defaults: Mapping[str, Any] | None = None,
                metavars: Mapping[str, str] | None = None) -> argparse.ArgumentParser:
    """A sub-parser ``verb`` for ``command``. ``positionals`` are argument names taken in
    order (optional when the argument is, unless ``needed``); ``options`` maps a flag to
    an argument name (a bool argument is a switch that flips its default); ``defaults``
    are edgectl's own defaults where they differ from the daemon's."""
    defaults = dict(defaults or {})
    metavars = dict(metavars or {})
    parser = sub.add_parser(verb, help=command.help(), description=command.__doc__)
    for name in positionals:
        arg = command.arg(name)
        parser.add_argument(name, metavar=metavars.get(name),
                            nargs=None if arg.required or name in needed else "?",
                            **_typed(arg, defaults.get(name, arg.default)))
    for flag, name in (options or {}).items():
        arg = command.arg(name)
        default = defaults.get(name, arg.default)
        if arg.kind == "bool":
            parser.add_argument(flag, dest=name, help=arg.help,
                                action="store_false" if default else "store_true")
            continue
        parser.add_argument(flag, dest=name, required=arg.required, metavar=metavars.get(name),
                            **_typed(arg, default))
    parser.set_defaults(command=command.name,
                        fields=(*positionals, *(options or {}).values()))
    return parser


def _typed(arg: Arg, default: Any) -> dict[str, Any]:
    shown = f" (default {default})" if default not in (None, "") else ""
    kwargs: dict[str, Any] = {"help": arg.help + shown, "default": default}
    if arg.kind in _TYPES:
        kwargs["type"] = _TYPES[arg.kind]
    if arg.choices is not None:
        kwargs["choices"] = arg.choices
    return kwargs


def rpc_args(args: argparse.Namespace) -> dict[str, Any]:
    """The request's arguments from a command line parsed by a parser made here."""
    return {name: getattr(args, name) for name in args.fields}
