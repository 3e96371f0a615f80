"""The command model of the RPC sockets (the supervisor's control.sock, the broker's
broker-ctl.sock), after circus: a command is a class; its docstring is its help and
``args`` declares its arguments once.

From the declaration come the checks made before a command runs (an unknown, missing,
wrong-typed or out-of-range argument is a ``bad_request`` naming it; see
:meth:`Command.validate`), ``edgectl``'s sub-parsers and their help
(:mod:`edgeos.supervisor.cli_args`), and ``help``'s listing. What a command raises after
its arguments were accepted is its own affair: an :class:`~edgeos.ipc.rpc.RpcError` it
means, anything else a bug that :class:`~edgeos.ipc.rpc.RpcServer` answers as
``internal`` and logs with its traceback.

A command class without ``args`` (``None``, the old style) still runs, with its
arguments passed as they came; the unit test that every command declares its
arguments fails for it until it is converted.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from edgeos.ipc.rpc import BAD_REQUEST, UNKNOWN_COMMAND, RpcError

#: what each ``kind`` accepts on the wire (msgpack types); bool is never a number
KINDS: dict[str, Callable[[Any], bool]] = {
    "str": lambda v: isinstance(v, str),
    "int": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "float": lambda v: isinstance(v, int | float) and not isinstance(v, bool)
    and math.isfinite(v),
    "bool": lambda v: isinstance(v, bool),
    "dict": lambda v: isinstance(v, dict),
    "list": lambda v: isinstance(v, list | tuple),
    "any": lambda v: True,
}
_WORDS = {"str": "a string", "int": "a whole number", "float": "a number",
          "bool": "true or false", "dict": "a map", "list": "a list", "any": "a value"}
MAX_TEXT = 4096  # a string argument's length unless its Arg says otherwise


@dataclass(frozen=True)
class Arg:
    """One declared argument. ``most``/``least`` bound a number's value, a string's
    length (default at most :data:`MAX_TEXT`) or a list's/map's size. An optional
    argument sent as null counts as not given (its default)."""

    name: str
    kind: str = "str"
    required: bool = False
    default: Any = None
    choices: tuple[Any, ...] | None = None
    help: str = ""
    least: float | None = None
    most: float | None = None

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"argument {self.name}: unknown kind {self.kind!r}")

    def check(self, value: Any) -> Any:
        """``value`` if it fits, else a ``bad_request`` that names the argument."""
        if value is None:
            if self.required:
                raise RpcError(f"{self.name}: required", BAD_REQUEST)
            return self.default
        if not KINDS[self.kind](value):
            raise RpcError(f"{self.name}: expected {_WORDS[self.kind]}, got "
                           f"{type(value).__name__}", BAD_REQUEST)
        if self.choices is not None and value not in self.choices:
            raise RpcError(f"{self.name}: one of {', '.join(map(str, self.choices))}, not "
                           f"{value!r}", BAD_REQUEST)
        size = value if self.kind in ("int", "float") else (
            len(value) if self.kind in ("str", "list", "dict") else None)
        most = MAX_TEXT if self.most is None and self.kind == "str" else self.most
        if size is not None and ((most is not None and size > most)
                                 or (self.least is not None and size < self.least)):
            what = "" if self.kind in ("int", "float") else {
                "str": " characters", "list": " items", "dict": " entries"}[self.kind]
            raise RpcError(f"{self.name}: {self.least if self.least is not None else 0:g} "
                           f"to {most:g}{what}, not {value!r:.80}", BAD_REQUEST)
        return value


class Command:
    """Base of every command class: a family (the supervisor's, the broker's) subclasses
    it once with its own ``registry``; a subclass with a ``name`` is registered there."""

    name: ClassVar[str] = ""
    args: ClassVar[tuple[Arg, ...] | None] = None
    registry: ClassVar[dict[str, type[Command]]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "registry" in cls.__dict__:
            return  # a family's base: its registry starts empty
        if cls.name:
            cls.registry[cls.name] = cls

    @classmethod
    def help(cls) -> str:
        """The docstring's first line, without its reST quotes."""
        return (cls.__doc__ or "").strip().split("\n")[0].replace("``", "")

    @classmethod
    def arg(cls, name: str) -> Arg:
        for a in cls.args or ():
            if a.name == name:
                return a
        raise KeyError(f"{cls.name} declares no argument {name!r}")

    @classmethod
    def validate(cls, args: Mapping[str, Any]) -> dict[str, Any]:
        """Every declared argument, checked, with defaults filled in; an argument the
        command does not declare is refused (a misspelt option must not pass silently)."""
        if cls.args is None:
            return dict(args)
        declared = {a.name for a in cls.args}
        unknown = sorted(set(args) - declared)
        if unknown:
            raise RpcError(f"{unknown[0]}: {cls.name} takes no such argument (it takes: "
                           f"{', '.join(sorted(declared)) or 'none'})", BAD_REQUEST)
        return {a.name: a.check(args.get(a.name)) for a in cls.args}

    async def answer(self, args: Mapping[str, Any]) -> Any:
        """A request's arguments checked, then the command run on them."""
        return await self.execute(self.validate(args))

    async def execute(self, args: dict[str, Any]) -> Any:
        raise NotImplementedError


def find(registry: Mapping[str, type[Command]], cmd: str) -> type[Command]:
    command = registry.get(cmd)
    if command is None:
        raise RpcError(f"unknown command {cmd!r}", UNKNOWN_COMMAND)
    return command


def listing(registry: Mapping[str, type[Command]]) -> dict[str, dict[str, Any]]:
    """``help``: per command its help line and declared arguments."""
    return {name: {"help": cls.help(), "args": [
        {"name": a.name, "kind": a.kind, "required": a.required, "default": a.default,
         "choices": list(a.choices) if a.choices else None, "help": a.help}
        for a in cls.args or ()]} for name, cls in sorted(registry.items())}
