"""Value transforms: ``name(args)`` strings parsed once at load into callable steps.

Every step is ``step.apply(value, state, now) -> value | SUPPRESS``. ``state`` is the step's own
mutable state for one (route, source address) pair, made by ``new_state()`` (None for
stateless steps); ``now`` is the router clock in seconds (only time-based steps read it).
Steps raise ``TypeError``/``ValueError``/``ArithmeticError`` on values they cannot handle;
the router counts that as a route error.

Decisions worth knowing:

- Arithmetic steps (scale, offset, round, clamp, deadband, avg/min/max) need an int or float;
  bools and numeric strings are refused (put ``to_float()`` first).
- ``invert()`` is boolean ``not`` for bools and negation for numbers.
- ``round(0)`` gives an int, ``round(n>0)`` a float (Python rounding: half to even).
- ``to_int()`` truncates toward zero like ``int()``; use ``round(0)`` first to round.
- ``map({...})`` compares the value's text: ``true``/``false``/``null`` for booleans and None,
  ``1`` for both ``1`` and ``1.0``. Unmapped values PASS THROUGH unchanged.
- ``throttle(s)`` lets the first value through and drops the rest for ``s`` seconds; nothing
  is sent later (the engine has no timers). ``deadband(d)`` passes the first value and then
  only values at least ``d`` away from the last one it passed.
- ``avg(s)``/``min(s)``/``max(s)`` emit on every value, over the values of the last ``s``
  seconds of router clock (arrival time), at most ``WINDOW_LIMIT`` samples. ``avg`` is exact.

Inverses (for bidirectional routes): scale (factor != 0), offset, invert, map with distinct
scalar values, to_int and to_float (the identity: a number goes back as it is). Everything
else is refused for a bidirectional route.
"""

from __future__ import annotations

import ast
import json
import math
from collections import deque
from collections.abc import Callable
from typing import Any

from .expressions import strict_parse

SUPPRESS: Any = object()
"""Returned by a step that swallows the value (deadband, throttle)."""

WINDOW_LIMIT = 10_000
"""Samples kept per avg/min/max window; older ones are dropped first (bounds memory)."""

_EXACT_SHIFT = 1074  # 2**-1074 is the smallest float step: sums scaled by 2**1074 are exact.


class TransformError(ValueError):
    """A transform string that cannot be used; the message is the reason."""


def _number(value: Any, name: str) -> int | float:
    if type(value) is int or type(value) is float:
        return value
    raise TypeError(f"{name}() needs a number, got {type(value).__name__}")


def value_key(value: Any) -> str | None:
    """The text ``map()`` compares: JSON spelling for scalars, None for lists and objects."""
    if value is None or type(value) is bool:
        return json.dumps(value)
    if type(value) is int:
        return str(value)
    if type(value) is float:
        return str(int(value)) if value.is_integer() else repr(value)
    if type(value) is str:
        return value
    return None


def _key_value(key: str) -> Any:
    """Inverse of :func:`value_key` as far as it goes: ``"1"`` -> 1, ``"true"`` -> True."""
    try:
        parsed = json.loads(key)
    except ValueError:
        return key
    return parsed if parsed is None or isinstance(parsed, bool | int | float) else key


class Transform:
    """One parsed step. ``text`` is the string from routing.json, used in messages."""

    stateful = False
    uses_clock = False

    def __init__(self, text: str) -> None:
        self.text = text

    def apply(self, value: Any, state: Any, now: float) -> Any:
        raise NotImplementedError

    def new_state(self) -> Any:
        return None

    def inverse(self) -> Callable[[Any], Any]:
        """The function undoing this step; raises TransformError saying why there is none."""
        raise TransformError("no inverse")


class Scale(Transform):
    def __init__(self, text: str, factor: float) -> None:
        super().__init__(text)
        self.factor = factor

    def apply(self, value: Any, state: Any, now: float) -> Any:
        return _number(value, "scale") * self.factor

    def inverse(self) -> Callable[[Any], Any]:
        if self.factor == 0:
            raise TransformError("no inverse (factor 0)")
        factor = self.factor
        return lambda value: _number(value, "scale") / factor


class Offset(Transform):
    def __init__(self, text: str, amount: float) -> None:
        super().__init__(text)
        self.amount = amount

    def apply(self, value: Any, state: Any, now: float) -> Any:
        return _number(value, "offset") + self.amount

    def inverse(self) -> Callable[[Any], Any]:
        amount = self.amount
        return lambda value: _number(value, "offset") - amount


class Round(Transform):
    def __init__(self, text: str, digits: int) -> None:
        super().__init__(text)
        self.digits = digits

    def apply(self, value: Any, state: Any, now: float) -> Any:
        number = _number(value, "round")
        return round(number) if self.digits == 0 else round(number, self.digits)


class Clamp(Transform):
    def __init__(self, text: str, low: float, high: float) -> None:
        super().__init__(text)
        self.low, self.high = low, high

    def apply(self, value: Any, state: Any, now: float) -> Any:
        return min(max(_number(value, "clamp"), self.low), self.high)


def _invert(value: Any) -> Any:
    if type(value) is bool:
        return not value
    return -_number(value, "invert")


class Invert(Transform):
    def apply(self, value: Any, state: Any, now: float) -> Any:
        return _invert(value)

    def inverse(self) -> Callable[[Any], Any]:
        return _invert


class Map(Transform):
    def __init__(self, text: str, table: dict[str, Any]) -> None:
        super().__init__(text)
        self.table = table

    def apply(self, value: Any, state: Any, now: float) -> Any:
        key = value_key(value)
        return self.table.get(key, value) if key is not None else value

    def inverse(self) -> Callable[[Any], Any]:
        back: dict[str, Any] = {}
        for key, mapped in self.table.items():
            mapped_key = value_key(mapped)
            if mapped_key is None:
                raise TransformError("no inverse (maps to a list or object)")
            if mapped_key in back:
                raise TransformError(f"no inverse (two keys map to '{mapped_key}')")
            back[mapped_key] = _key_value(key)

        def unmap(value: Any) -> Any:
            key = value_key(value)
            return back.get(key, value) if key is not None else value

        return unmap


class _Gate(Transform):
    """Lets a value through only when its mark is ``limit`` or more away from the mark
    of the last one let through; the first always passes. Deadband and throttle differ
    only in the mark: the value itself, or the time it arrived."""

    stateful = True

    def __init__(self, text: str, limit: float) -> None:
        super().__init__(text)
        self.limit = limit

    def new_state(self) -> list[float | None]:
        return [None]

    def mark(self, value: Any, now: float) -> float:
        raise NotImplementedError

    def apply(self, value: Any, state: list[float | None], now: float) -> Any:
        mark = self.mark(value, now)
        last = state[0]
        if last is not None and abs(mark - last) < self.limit:
            return SUPPRESS
        state[0] = mark
        return value


class Deadband(_Gate):
    def mark(self, value: Any, now: float) -> float:
        return _number(value, "deadband")


class Throttle(_Gate):
    uses_clock = True

    def mark(self, value: Any, now: float) -> float:
        return now


class _Window(Transform):
    """A step over the values of the last ``seconds`` of router clock."""

    stateful = True
    uses_clock = True

    def __init__(self, text: str, seconds: float) -> None:
        super().__init__(text)
        self.seconds = seconds


class Average(_Window):
    """Exact mean over a time window: values are summed as integers scaled by 2**1074."""

    def new_state(self) -> list[Any]:
        return [deque(), 0]  # (time, scaled value) samples, their scaled sum

    def apply(self, value: Any, state: list[Any], now: float) -> Any:
        number = _number(value, "avg")
        if type(number) is int:
            scaled = number << _EXACT_SHIFT
        else:
            numerator, denominator = number.as_integer_ratio()  # ValueError on inf/nan
            scaled = (numerator << _EXACT_SHIFT) // denominator
        samples: deque[tuple[float, int]] = state[0]
        total = state[1] + scaled
        samples.append((now, scaled))
        horizon = now - self.seconds
        while samples and (samples[0][0] <= horizon or len(samples) > WINDOW_LIMIT):
            total -= samples.popleft()[1]
        state[1] = total
        return total / (len(samples) << _EXACT_SHIFT)


class Extreme(_Window):
    """Windowed min or max with a monotonic deque: O(1) amortised per value."""

    def __init__(self, text: str, seconds: float, keep_smaller: bool) -> None:
        super().__init__(text, seconds)
        self.name = "min" if keep_smaller else "max"
        self.keep_smaller = keep_smaller

    def new_state(self) -> list[Any]:
        return [deque(), 0]  # candidates (sequence, time, value), sequence counter

    def apply(self, value: Any, state: list[Any], now: float) -> Any:
        number = _number(value, self.name)
        if math.isnan(number):
            raise ValueError(f"{self.name}() got NaN")
        candidates: deque[tuple[int, float, int | float]] = state[0]
        sequence = state[1] + 1
        state[1] = sequence
        if self.keep_smaller:
            while candidates and candidates[-1][2] >= number:
                candidates.pop()
        else:
            while candidates and candidates[-1][2] <= number:
                candidates.pop()
        candidates.append((sequence, now, number))
        horizon = now - self.seconds
        while candidates[0][1] <= horizon or candidates[0][0] <= sequence - WINDOW_LIMIT:
            candidates.popleft()
        return candidates[0][2]


def _to_bool(value: Any) -> bool:
    if type(value) is bool:
        return value
    if type(value) is int or type(value) is float:
        return value != 0
    if type(value) is str:
        word = value.strip().lower()
        if word in ("true", "on", "yes", "1"):
            return True
        if word in ("false", "off", "no", "0", ""):
            return False
    raise ValueError(f"to_bool() cannot read {value!r}")


def _to_int(value: Any) -> int:
    if type(value) is str:
        text = value.strip()
        try:
            return int(text)
        except ValueError:
            return int(float(text))
    if type(value) in (bool, int, float):
        return int(value)
    raise TypeError(f"to_int() cannot read {type(value).__name__}")


def _to_float(value: Any) -> float:
    if type(value) in (bool, int, float, str):
        return float(value)
    raise TypeError(f"to_float() cannot read {type(value).__name__}")


def _identity(value: Any) -> Any:
    return value


class Convert(Transform):
    def __init__(self, text: str, convert: Callable[[Any], Any], invertible: bool) -> None:
        super().__init__(text)
        self.convert = convert
        self.invertible = invertible

    def apply(self, value: Any, state: Any, now: float) -> Any:
        return self.convert(value)

    def inverse(self) -> Callable[[Any], Any]:
        if not self.invertible:
            raise TransformError("no inverse (many values map to one)")
        return _identity


# ---- parsing -------------------------------------------------------------------------------

_NAMED_LITERALS = {"true": True, "false": False, "null": None}


def _literal(node: ast.AST) -> Any:
    """A JSON-ish literal from the parsed argument; anything computed is refused."""
    if isinstance(node, ast.Constant) and (
        node.value is None or isinstance(node.value, bool | int | float | str)
    ):
        return node.value
    if isinstance(node, ast.Name) and node.id in _NAMED_LITERALS:
        return _NAMED_LITERALS[node.id]
    if (
        isinstance(node, ast.UnaryOp)
        and isinstance(node.op, ast.USub | ast.UAdd)
        and isinstance(node.operand, ast.Constant)
        and type(node.operand.value) in (int, float)
    ):
        return -node.operand.value if isinstance(node.op, ast.USub) else node.operand.value
    if isinstance(node, ast.Dict) and None not in node.keys:
        return _object_literal(node)
    if isinstance(node, ast.List | ast.Tuple):
        return [_literal(item) for item in node.elts]
    raise TransformError("arguments must be literals (numbers, strings, true/false/null, {...})")


def _object_literal(node: ast.Dict) -> dict[str, Any]:
    """An object literal keyed by :func:`value_key`, so ``1`` and ``"1"`` are the same key."""
    result: dict[str, Any] = {}
    for key_node, item_node in zip(node.keys, node.values, strict=True):
        key = value_key(_literal(key_node))
        if key is None:
            raise TransformError("object keys must be numbers, strings or true/false/null")
        if key in result:
            raise TransformError(f"object key '{key}' is repeated")
        result[key] = _literal(item_node)
    return result


def _real(value: Any, what: str) -> float:
    if type(value) not in (int, float) or not math.isfinite(value):
        raise TransformError(f"{what} must be a finite number, got {value!r}")
    return value


def _seconds(value: Any, what: str) -> float:
    if _real(value, what) <= 0:
        raise TransformError(f"{what} must be > 0, got {value!r}")
    return value


def _build_round(text: str, digits: Any) -> Round:
    if type(digits) is not int or not 0 <= digits <= 15:
        raise TransformError(f"round(n): n must be an integer 0..15, got {digits!r}")
    return Round(text, digits)


def _build_clamp(text: str, low: Any, high: Any) -> Clamp:
    if _real(low, "clamp(lo, hi): lo") > _real(high, "clamp(lo, hi): hi"):
        raise TransformError(f"clamp(lo, hi): lo {low!r} is greater than hi {high!r}")
    return Clamp(text, low, high)


def _build_map(text: str, table: Any) -> Map:
    if not isinstance(table, dict):
        raise TransformError('map() needs one object literal, e.g. map({"on": 1, "off": 0})')
    return Map(text, table)


def _build_deadband(text: str, band: Any) -> Deadband:
    if _real(band, "deadband(d): d") < 0:
        raise TransformError(f"deadband(d): d must be >= 0, got {band!r}")
    return Deadband(text, band)


_BUILDERS: dict[str, tuple[int, Callable[..., Transform]]] = {
    "scale": (1, lambda text, f: Scale(text, _real(f, "scale(f): f"))),
    "offset": (1, lambda text, x: Offset(text, _real(x, "offset(x): x"))),
    "round": (1, _build_round),
    "clamp": (2, _build_clamp),
    "invert": (0, Invert),
    "map": (1, _build_map),
    "deadband": (1, _build_deadband),
    "throttle": (1, lambda text, s: Throttle(text, _seconds(s, "throttle(s): s"))),
    "avg": (1, lambda text, s: Average(text, _seconds(s, "avg(s): s"))),
    "min": (1, lambda text, s: Extreme(text, _seconds(s, "min(s): s"), keep_smaller=True)),
    "max": (1, lambda text, s: Extreme(text, _seconds(s, "max(s): s"), keep_smaller=False)),
    "to_bool": (0, lambda text: Convert(text, _to_bool, invertible=False)),
    "to_int": (0, lambda text: Convert(text, _to_int, invertible=True)),
    "to_float": (0, lambda text: Convert(text, _to_float, invertible=True)),
}

TRANSFORM_NAMES = tuple(_BUILDERS)


def parse_transform(text: str) -> Transform:
    """Parse one ``name(args)`` string; TransformError says what is wrong with it."""
    try:
        tree = strict_parse(text.strip())
    except (SyntaxError, ValueError, RecursionError, MemoryError) as exc:
        raise TransformError("not of the form name(args)") from exc
    call = tree.body
    if not isinstance(call, ast.Call) or not isinstance(call.func, ast.Name):
        raise TransformError("not of the form name(args)")
    name = call.func.id
    if name not in _BUILDERS:
        raise TransformError(f"unknown transform '{name}' (known: {', '.join(TRANSFORM_NAMES)})")
    if call.keywords:
        raise TransformError(f"{name}() takes no keyword arguments")
    arity, build = _BUILDERS[name]
    if len(call.args) != arity:
        raise TransformError(f"{name}() takes {arity} argument(s), got {len(call.args)}")
    return build(text, *(_literal(arg) for arg in call.args))
