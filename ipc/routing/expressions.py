"""Route conditions: a small, safe expression language compiled to a tree of closures.

The text is parsed with :func:`ast.parse` (eval mode) and every node is checked against a
whitelist; what passes is turned into nested Python closures, so user text is never handed
to ``eval``/``exec``/``compile`` and nothing outside the whitelist can be reached.

Allowed:

- literals: numbers, strings, ``True``/``False``/``None`` and ``true``/``false``/``null``;
- names: ``value`` (the value being routed), ``old`` (the previous value of the source
  datapoint), ``ts`` (ms), ``quality`` (``good``/``uncertain``/``bad``);
- ``and``, ``or``, ``not``; comparisons ``== != < <= > >=``, chained (``0 < value < 10``);
  ``in``/``not in`` with a literal list or tuple on the right (``quality in ('good',)``);
- ``+ - * / // % **`` and unary ``-``/``+`` on numbers, ``+`` also joins two strings;
- subscripts with a constant key or index (``value['temp']``, ``value[0]``) on objects,
  lists and strings (for JSON payloads);
- calls to ``dp('<address>')`` (last value of another datapoint) and to ``abs``, ``min``,
  ``max``, ``round``, ``int``, ``float``, ``bool``, ``str``, ``len``.

Everything else (attribute access, other names, lambdas, comprehensions, ``is``, f-strings,
keyword arguments, ``**`` kwargs, walrus, slices) is refused at load, with the column.

Limits keep evaluation cheap whatever the input: text <= ``MAX_SOURCE`` characters, nesting
<= ``MAX_DEPTH``, integers <= ``MAX_INT_BITS`` bits (checked BEFORE ``**`` is computed),
strings built by ``+`` <= ``MAX_STR`` characters, ``round`` digits within +-100.
"""

from __future__ import annotations

import ast
import operator
import warnings
from collections.abc import Callable
from typing import Any

MAX_SOURCE = 2000
MAX_DEPTH = 60
MAX_INT_BITS = 1024
MAX_STR = 10_000

Context = tuple[Any, int, str, str, Callable[[str], Any]]
"""What a compiled node reads: (value, ts, quality, source address, lookup)."""

Node = Callable[[Context], Any]


class ExpressionError(ValueError):
    """Refused at load: ``message`` says why, ``column`` (1-based) says where."""

    def __init__(self, message: str, column: int) -> None:
        super().__init__(f"column {column}: {message}")
        self.message = message
        self.column = column


class EvalError(Exception):
    """The expression failed on these particular values (a route error, never fatal)."""


# ---- runtime guards --------------------------------------------------------------------------


def _checked(result: Any) -> Any:
    if type(result) is int and result.bit_length() > MAX_INT_BITS:
        raise EvalError(f"integer result exceeds {MAX_INT_BITS} bits")
    if type(result) is complex:
        raise EvalError("result is not a real number")
    return result


def _number(value: Any, what: str) -> Any:
    if type(value) in (int, float, bool):
        return value
    raise EvalError(f"{what} needs numbers, got {type(value).__name__}")


def _add(left: Any, right: Any) -> Any:
    if type(left) is str and type(right) is str:
        if len(left) + len(right) > MAX_STR:
            raise EvalError(f"string result exceeds {MAX_STR} characters")
        return left + right
    return _checked(_number(left, "+") + _number(right, "+"))


def _power(base: Any, exponent: Any) -> Any:
    base, exponent = _number(base, "**"), _number(exponent, "**")
    if type(exponent) is not float and abs(exponent) > MAX_INT_BITS:
        raise EvalError(f"exponent {exponent} is too large")
    integers = type(base) is not float and type(exponent) is not float
    if integers and exponent > 0 and (abs(base).bit_length() - 1) * exponent > MAX_INT_BITS:
        raise EvalError(f"integer result exceeds {MAX_INT_BITS} bits")
    return _checked(base**exponent)


def _arithmetic(symbol: str, function: Callable[[Any, Any], Any]) -> Callable[[Any, Any], Any]:
    def apply(left: Any, right: Any) -> Any:
        return _checked(function(_number(left, symbol), _number(right, symbol)))

    return apply


_BINARY: dict[type[ast.operator], Callable[[Any, Any], Any]] = {
    ast.Add: _add,
    ast.Sub: _arithmetic("-", operator.sub),
    ast.Mult: _arithmetic("*", operator.mul),
    ast.Div: _arithmetic("/", operator.truediv),
    ast.FloorDiv: _arithmetic("//", operator.floordiv),
    ast.Mod: _arithmetic("%", operator.mod),
    ast.Pow: _power,
}

_COMPARE: dict[type[ast.cmpop], Callable[[Any, Any], Any]] = {
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
    ast.In: lambda item, options: item in options,
    ast.NotIn: lambda item, options: item not in options,
}


def _round(number: Any, digits: Any = None) -> Any:
    _number(number, "round()")
    if digits is None:
        return round(number)
    if type(digits) is not int or abs(digits) > 100:
        raise EvalError("round(x, n): n must be an integer within -100..100")
    return round(number, digits)


def _to_int(value: Any) -> int:
    if type(value) not in (int, float, bool, str):
        raise EvalError(f"int() cannot read {type(value).__name__}")
    return _checked(int(value))


def _to_float(value: Any) -> float:
    if type(value) not in (int, float, bool, str):
        raise EvalError(f"float() cannot read {type(value).__name__}")
    return float(value)


def _length(value: Any) -> int:
    if type(value) not in (str, list, tuple, dict, bytes):
        raise EvalError(f"len() cannot measure {type(value).__name__}")
    return len(value)


def _extreme(function: Callable[..., Any]) -> Callable[..., Any]:
    def pick(*values: Any) -> Any:
        for item in values:
            if type(item) not in (int, float, bool, str):
                raise EvalError(f"{function.__name__}() compares numbers or strings")
        return function(*values)

    return pick


# name -> (function, least arguments, most arguments)
_FUNCTIONS: dict[str, tuple[Callable[..., Any], int, int]] = {
    "abs": (lambda value: abs(_number(value, "abs()")), 1, 1),
    "min": (_extreme(min), 2, 16),
    "max": (_extreme(max), 2, 16),
    "round": (_round, 1, 2),
    "int": (_to_int, 1, 1),
    "float": (_to_float, 1, 1),
    "bool": (bool, 1, 1),
    "str": (str, 1, 1),
    "len": (_length, 1, 1),
}

_NAMES: dict[str, Node] = {
    "value": operator.itemgetter(0),
    "ts": operator.itemgetter(1),
    "quality": operator.itemgetter(2),
    "old": lambda context: context[4](context[3]),
}

_LITERAL_NAMES = {"true": True, "false": False, "null": None}

_REFUSED: dict[type[ast.AST], str] = {
    ast.Attribute: "attribute access is not allowed",
    ast.Lambda: "lambda is not allowed",
    ast.ListComp: "comprehensions are not allowed",
    ast.SetComp: "comprehensions are not allowed",
    ast.DictComp: "comprehensions are not allowed",
    ast.GeneratorExp: "comprehensions are not allowed",
    ast.IfExp: "'x if c else y' is not allowed; combine conditions with and/or",
    ast.NamedExpr: "':=' is not allowed",
    ast.JoinedStr: "f-strings are not allowed",
    ast.Starred: "'*' unpacking is not allowed",
    ast.Dict: "object literals are not allowed",
    ast.Set: "set literals are not allowed",
    ast.Slice: "slices are not allowed",
}


class Expression:
    """A compiled condition. ``dp_addresses`` lists the addresses it reads with ``dp()``."""

    __slots__ = ("_root", "dp_addresses", "text")

    def __init__(self, text: str, root: Node, dp_addresses: tuple[str, ...]) -> None:
        self.text = text
        self._root = root
        self.dp_addresses = dp_addresses

    def evaluate(
        self, value: Any, ts: int, quality: str, address: str, lookup: Callable[[str], Any]
    ) -> Any:
        """The expression's result for one datapoint; EvalError if it cannot be computed."""
        try:
            return self._root((value, ts, quality, address, lookup))
        except EvalError:
            raise
        except (TypeError, ValueError, ArithmeticError, LookupError, RecursionError) as exc:
            raise EvalError(f"{type(exc).__name__}: {exc}") from exc


def compile_expression(text: str) -> Expression:
    """Parse and compile ``text``; ExpressionError (with column) if it is not allowed."""
    if len(text) > MAX_SOURCE:
        raise ExpressionError(f"longer than {MAX_SOURCE} characters", MAX_SOURCE + 1)
    body = text.lstrip()
    indent = len(text) - len(body)
    try:
        tree = strict_parse(body)
    except SyntaxError as exc:
        if exc.offset:
            column = _char_column(body, exc.lineno or 1, exc.offset - 1, in_bytes=False)
        else:  # the parser ran out of input
            column = len(body) + 1
        raise ExpressionError(f"syntax error: {exc.msg}", indent + column) from exc
    except (ValueError, RecursionError, MemoryError) as exc:
        raise ExpressionError(f"cannot parse: {exc}", indent + 1) from exc
    compiler = _Compiler(body, indent)
    root = compiler.compile(tree.body, 1)
    return Expression(text, root, tuple(compiler.dp_addresses))


def strict_parse(text: str) -> ast.Expression:
    """``ast.parse`` in eval mode with the parser's warnings (e.g. invalid escape sequences)
    raised as SyntaxError, so what loads does not depend on the process's warning filters."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return ast.parse(text, mode="eval")


def _char_column(text: str, lineno: int, offset: int, *, in_bytes: bool) -> int:
    """1-based position in the whole text of (line, offset); ast offsets count UTF-8 bytes."""
    lines = text.split("\n")
    lineno = min(max(lineno, 1), len(lines))
    line = lines[lineno - 1]
    if in_bytes:
        offset = len(line.encode()[:offset].decode(errors="ignore"))
    before = sum(len(previous) + 1 for previous in lines[: lineno - 1])
    return before + max(offset, 0) + 1


class _Compiler:
    def __init__(self, text: str, indent: int) -> None:
        self.text = text
        self.indent = indent
        self.dp_addresses: list[str] = []

    def fail(self, node: ast.AST, message: str) -> ExpressionError:
        if isinstance(node, ast.Attribute):  # point at the dot, not at the object before it
            lineno, offset = node.value.end_lineno or 1, node.value.end_col_offset or 0
        else:
            lineno, offset = getattr(node, "lineno", 1), getattr(node, "col_offset", 0)
        column = _char_column(self.text, lineno, offset, in_bytes=True)
        return ExpressionError(message, self.indent + column)

    def compile(self, node: ast.AST, depth: int) -> Node:
        if depth > MAX_DEPTH:
            raise self.fail(node, f"nested deeper than {MAX_DEPTH} levels")
        handler = _HANDLERS.get(type(node))
        if handler is None:
            reason = _REFUSED.get(type(node), f"{type(node).__name__} is not allowed")
            raise self.fail(node, reason)
        return handler(self, node, depth + 1)

    def constant(self, node: ast.Constant, depth: int) -> Node:
        constant = node.value
        if constant is not None and not isinstance(constant, bool | int | float | str):
            raise self.fail(node, f"{type(constant).__name__} literals are not allowed")
        if type(constant) is int and constant.bit_length() > MAX_INT_BITS:
            raise self.fail(node, f"integer literal exceeds {MAX_INT_BITS} bits")
        return lambda context: constant

    def name(self, node: ast.Name, depth: int) -> Node:
        if node.id in _NAMES:
            return _NAMES[node.id]
        if node.id in _LITERAL_NAMES:
            constant = _LITERAL_NAMES[node.id]
            return lambda context: constant
        if node.id in _FUNCTIONS or node.id == "dp":
            raise self.fail(node, f"'{node.id}' can only be called")
        raise self.fail(
            node, f"unknown name '{node.id}' (use value, old, ts, quality, true, false, null)"
        )

    def bool_op(self, node: ast.BoolOp, depth: int) -> Node:
        parts = tuple(self.compile(part, depth) for part in node.values)
        if isinstance(node.op, ast.And):

            def every(context: Context) -> Any:
                result: Any = True
                for part in parts:
                    result = part(context)
                    if not result:
                        return result
                return result

            return every

        def some(context: Context) -> Any:
            result: Any = False
            for part in parts:
                result = part(context)
                if result:
                    return result
            return result

        return some

    def unary_op(self, node: ast.UnaryOp, depth: int) -> Node:
        operand = self.compile(node.operand, depth)
        if isinstance(node.op, ast.Not):
            return lambda context: not operand(context)
        if isinstance(node.op, ast.USub):
            return lambda context: -_number(operand(context), "-")
        if isinstance(node.op, ast.UAdd):
            return lambda context: +_number(operand(context), "+")
        raise self.fail(node, "operator '~' is not allowed")

    def bin_op(self, node: ast.BinOp, depth: int) -> Node:
        function = _BINARY.get(type(node.op))
        if function is None:
            raise self.fail(node, f"operator {type(node.op).__name__} is not allowed")
        left, right = self.compile(node.left, depth), self.compile(node.right, depth)
        return lambda context: function(left(context), right(context))

    def compare(self, node: ast.Compare, depth: int) -> Node:
        functions = []
        operands = [self.compile(node.left, depth)]
        for op, right in zip(node.ops, node.comparators, strict=True):
            if isinstance(op, ast.Is | ast.IsNot):
                raise self.fail(node, "'is' is not allowed; use == null or != null")
            if isinstance(op, ast.In | ast.NotIn):
                operands.append(self.options(right, depth))
            else:
                operands.append(self.compile(right, depth))
            functions.append(_COMPARE[type(op)])
        if len(functions) == 1:
            function, left, right_node = functions[0], operands[0], operands[1]
            return lambda context: function(left(context), right_node(context))
        steps = tuple(zip(functions, operands[1:], strict=True))
        first = operands[0]

        def chain(context: Context) -> bool:
            left_value = first(context)
            for function, right_node in steps:
                right_value = right_node(context)
                if not function(left_value, right_value):
                    return False
                left_value = right_value
            return True

        return chain

    def options(self, node: ast.AST, depth: int) -> Node:
        """The right side of ``in``: a literal list or tuple only."""
        if not isinstance(node, ast.List | ast.Tuple):
            raise self.fail(node, "'in' needs a literal list or tuple on the right")
        elements = tuple(self.compile(element, depth) for element in node.elts)
        return lambda context: tuple(element(context) for element in elements)

    def subscript(self, node: ast.Subscript, depth: int) -> Node:
        key = _constant_key(node.slice)
        if isinstance(node.slice, ast.Slice):
            raise self.fail(node.slice, _REFUSED[ast.Slice])
        if key is None:
            raise self.fail(node.slice, "only a constant string or integer may be used as index")
        container = self.compile(node.value, depth)

        def item(context: Context) -> Any:
            data = container(context)
            if type(data) not in (dict, list, tuple, str):
                raise EvalError(f"cannot index {type(data).__name__}")
            return data[key]

        return item

    def call(self, node: ast.Call, depth: int) -> Node:
        if not isinstance(node.func, ast.Name):
            self.compile(node.func, depth)  # refuses lambdas and attributes with their reason
            raise self.fail(node.func, "only dp() and built-in functions may be called")
        name = node.func.id
        if node.keywords:
            raise self.fail(node.keywords[0].value, "keyword arguments are not allowed")
        if name == "dp":
            return self.dp(node)
        if name not in _FUNCTIONS:
            raise self.fail(
                node.func, f"unknown function '{name}' (use dp, {', '.join(_FUNCTIONS)})"
            )
        function, least, most = _FUNCTIONS[name]
        if not least <= len(node.args) <= most:
            raise self.fail(node, f"{name}() takes {least}..{most} arguments")
        arguments = tuple(self.compile(argument, depth) for argument in node.args)
        if len(arguments) == 1:
            (only,) = arguments
            return lambda context: _checked(function(only(context)))
        return lambda context: _checked(function(*(argument(context) for argument in arguments)))

    def dp(self, node: ast.Call) -> Node:
        if (
            len(node.args) != 1
            or not isinstance(node.args[0], ast.Constant)
            or type(node.args[0].value) is not str
        ):
            raise self.fail(node, "dp() takes one address string, e.g. dp('plc_001.MAIN.x')")
        address = node.args[0].value
        self.dp_addresses.append(address)
        return lambda context: context[4](address)


_HANDLERS: dict[type[ast.AST], Callable[[_Compiler, Any, int], Node]] = {
    ast.Constant: _Compiler.constant,
    ast.Name: _Compiler.name,
    ast.BoolOp: _Compiler.bool_op,
    ast.UnaryOp: _Compiler.unary_op,
    ast.BinOp: _Compiler.bin_op,
    ast.Compare: _Compiler.compare,
    ast.Subscript: _Compiler.subscript,
    ast.Call: _Compiler.call,
}
"""The whitelist: every node type that may appear, and how it compiles."""


def _constant_key(node: ast.AST) -> int | str | None:
    if isinstance(node, ast.Constant) and type(node.value) in (int, str):
        return node.value
    if (
        isinstance(node, ast.UnaryOp)
        and isinstance(node.op, ast.USub)
        and isinstance(node.operand, ast.Constant)
        and type(node.operand.value) is int
    ):
        return -node.operand.value
    return None
