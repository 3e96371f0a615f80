"""Conditions: every allowed feature, every refusal (with column), limits, and fuzzing."""

from __future__ import annotations

import ast
import builtins
import contextlib
from typing import Any
from unittest import mock

import pytest
from edgeos.ipc.routing.expressions import (
    MAX_SOURCE,
    EvalError,
    ExpressionError,
    compile_expression,
)
from hypothesis import given, settings
from hypothesis import strategies as st

LAST_VALUES = {"plc_001.MAIN.bManual": False, "src.x": 20.5, "plc_001.MAIN.s": "auto"}


def evaluate(text: str, value: Any = 5, **context: Any) -> Any:
    return compile_expression(text).evaluate(
        value,
        context.get("ts", 1_700_000_000_000),
        context.get("quality", "good"),
        context.get("address", "src.x"),
        LAST_VALUES.get,
    )


@pytest.mark.parametrize(
    ("text", "value", "expected"),
    [
        ("value == true", True, True),
        ("value == true", False, False),
        ("value == True", True, True),
        ("value != null", None, False),
        ("value == None", None, True),
        ("value > 10", 11, True),
        ("value >= 10.5", 10.5, True),
        ("value < -1", -2, True),
        ("0 <= value < 10", 5, True),
        ("0 <= value < 10", 10, False),
        ("1 < 2 < value < 4", 3, True),
        ("value > 1 and value < 3", 2, True),
        ("value < 1 or value > 3", 2, False),
        ("not value", 0, True),
        ("not (value > 1)", 0, True),
        ("value + 1 == 6", 5, True),
        ("value - 1", 5, 4),
        ("value * 2", 5, 10),
        ("value / 2", 5, 2.5),
        ("value // 2", 5, 2),
        ("value % 2", 5, 1),
        ("value ** 2", 5, 25),
        ("2 ** -1", 5, 0.5),
        ("-value", 5, -5),
        ("+value", 5, 5),
        ("'a' + value", "b", "ab"),
        ("value in (1, 2, 3)", 2, True),
        ("value in [1, 2, 3]", 4, False),
        ("value not in ('x', 'y')", "z", True),
        ("value in (old, 1)", 20.5, True),
        ("value['temp'] > 20", {"temp": 21}, True),
        ("value[0] == 'a'", ["a", "b"], True),
        ("value[-1]", "xyz", "z"),
        ("abs(value) == 3", -3, True),
        ("min(value, 10)", 12, 10),
        ("max(value, 1, 2)", 0, 2),
        ("round(value, 1)", 2.345, 2.3),
        ("round(value)", 2.6, 3),
        ("int(value)", "42", 42),
        ("float(value)", "2.5", 2.5),
        ("bool(value)", 0, False),
        ("str(value) == '5'", 5, True),
        ("len(value) == 3", "abc", True),
        ("len(value)", [1, 2], 2),
        ("true", 0, True),
        ("null", 0, None),
        ("'Störung' == value", "Störung", True),
    ],
)
def test_allowed(text: str, value: Any, expected: Any) -> None:
    assert evaluate(text, value) == expected


def test_context_names() -> None:
    assert evaluate("old", address="src.x") == 20.5
    assert evaluate("old == null", address="unknown.x") is True
    assert evaluate("value > old", 21, address="src.x") is True
    assert evaluate("ts", ts=123) == 123
    assert evaluate("quality == 'good'") is True
    assert evaluate("quality in ('good', 'uncertain')", quality="bad") is False


def test_dp_reads_other_datapoints() -> None:
    assert evaluate("dp('plc_001.MAIN.bManual') == false") is True
    assert evaluate("dp('plc_001.MAIN.s') == 'auto' and value > 1") is True
    assert evaluate("dp('nothing.here') == null") is True
    expression = compile_expression("dp('a.b') or dp('c.d')")
    assert expression.dp_addresses == ("a.b", "c.d")


def test_old_is_looked_up_only_when_used() -> None:
    calls: list[str] = []

    def lookup(address: str) -> Any:
        calls.append(address)
        return 1

    compile_expression("value > 1").evaluate(2, 0, "good", "src.x", lookup)
    assert calls == []
    compile_expression("value > 1 or old > 1").evaluate(2, 0, "good", "src.x", lookup)
    assert calls == []  # short-circuit
    compile_expression("value != old").evaluate(2, 0, "good", "src.x", lookup)
    assert calls == ["src.x"]


@pytest.mark.parametrize(
    ("text", "reason", "column"),
    [
        ("value.__class__", "attribute access is not allowed", 6),
        ("value.real > 1", "attribute access is not allowed", 6),
        ("().__class__.__bases__", "attribute access is not allowed", 13),
        ("(1)(2)", "only dp() and built-in functions may be called", 2),
        ("__import__('os')", "unknown function '__import__'", 1),
        ("open('/etc/passwd')", "unknown function 'open'", 1),
        ("eval('1')", "unknown function 'eval'", 1),
        ("getattr(value, 'x')", "unknown function 'getattr'", 1),
        ("value > 1 and __builtins__", "unknown name '__builtins__'", 15),
        ("__name__", "unknown name '__name__'", 1),
        ("x > 1", "unknown name 'x'", 1),
        ("lambda: 1", "lambda is not allowed", 1),
        ("value > 1 and (lambda x: x)(1)", "lambda is not allowed", 16),
        ("[x for x in (1, 2)]", "comprehensions are not allowed", 1),
        ("(x for x in (1, 2))", "comprehensions are not allowed", 1),
        ("{1: 2}", "object literals are not allowed", 1),
        ("{1, 2}", "set literals are not allowed", 1),
        ("[1, 2]", "List is not allowed", 1),
        ("value[1:2]", "slices are not allowed", 7),
        ("value[old]", "constant string or integer", 7),
        ("1 if value else 2", "'x if c else y' is not allowed", 1),
        ("(y := 1)", "':=' is not allowed", 2),
        ("f'{value}'", "f-strings are not allowed", 1),
        ("value is None", "'is' is not allowed", 1),
        ("value in 'abc'", "literal list or tuple", 10),
        ("value in old", "literal list or tuple", 10),
        ("value << 2", "operator LShift is not allowed", 1),
        ("value & 1", "operator BitAnd is not allowed", 1),
        ("~value", "operator '~' is not allowed", 1),
        ("abs(x=1)", "keyword arguments are not allowed", 7),
        ("abs(*value)", "'*' unpacking is not allowed", 5),
        ("value.attr()", "attribute access is not allowed", 6),
        ("dp(value)", "dp() takes one address string", 1),
        ("dp('a', 'b')", "dp() takes one address string", 1),
        ("dp", "'dp' can only be called", 1),
        ("abs", "'abs' can only be called", 1),
        ("min(1)", "min() takes 2..16 arguments", 1),
        ("len()", "len() takes 1..1 arguments", 1),
        ("b'x' == value", "bytes literals are not allowed", 1),
        ("1j", "complex literals are not allowed", 1),
        ("...", "ellipsis literals are not allowed", 1),
        ("value ==", "syntax error", 9),
        ("value = 1", "syntax error", 7),
        ("import os", "syntax error", 1),
        ("", "syntax error", 1),
        ("  value.x", "attribute access is not allowed", 8),
    ],
)
def test_refused_with_column(text: str, reason: str, column: int) -> None:
    with pytest.raises(ExpressionError) as caught:
        compile_expression(text)
    assert reason in caught.value.message
    assert caught.value.column == column
    assert str(caught.value).startswith(f"column {column}: ")


def test_limits_on_size_and_nesting() -> None:
    with pytest.raises(ExpressionError, match="longer than"):
        compile_expression("1 + " * MAX_SOURCE + "1")
    with pytest.raises(ExpressionError, match="nested deeper"):
        compile_expression("-" * 500 + "1")
    with pytest.raises(ExpressionError):
        compile_expression("(" * 300 + "1" + ")" * 300)
    with pytest.raises(ExpressionError, match="integer literal exceeds"):
        compile_expression("1" * 400)


@pytest.mark.parametrize(
    "text",
    [
        "2 ** 10000",
        "9 ** 9 ** 9",
        "value ** value",
        "10 ** 1000",
        "2 ** 1024 * 2 ** 1024",
        "(2 ** 1000) * (2 ** 1000) * (2 ** 1000)",
        "10.0 ** 400",
        "(-8) ** 0.5",
        "'a' + str(10 ** 300) + str(10 ** 300) * 2",
        "round(5, -100000)",
        "round(5, 10 ** 6)",
        "int('9' * 5000)",
    ],
)
def test_blowups_fail_fast_as_eval_errors(text: str) -> None:
    try:
        expression = compile_expression(text)
    except ExpressionError:
        return  # refused at load is fine too
    with pytest.raises(EvalError):
        expression.evaluate(10**100, 0, "good", "src.x", LAST_VALUES.get)


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("value > 1", None),
        ("value < 'a'", 1),
        ("value + 1", "x"),
        ("value * 'a'", 3),
        ("'a' * value", 3),
        ("'%s' % value", 1),
        ("value / 0", 1),
        ("value % 0", 1),
        ("value['missing']", {"a": 1}),
        ("value[5]", [1]),
        ("value['a']", 5),
        ("len(value)", 5),
        ("abs(value)", "x"),
        ("int(value)", None),
        ("float(value)", "x"),
        ("min(value, 'a')", 1),
        ("min(value, 1)", [1]),
        ("round(value)", float("inf")),
        ("-value", "x"),
    ],
)
def test_runtime_errors_are_eval_errors(text: str, value: Any) -> None:
    with pytest.raises(EvalError):
        evaluate(text, value)


# ---- fuzzing -----------------------------------------------------------------------------

ALLOWED_NODES = (
    ast.Expression, ast.Constant, ast.Name, ast.Load, ast.BoolOp, ast.And, ast.Or,
    ast.UnaryOp, ast.Not, ast.USub, ast.UAdd, ast.BinOp, ast.Add, ast.Sub, ast.Mult, ast.Div,
    ast.FloorDiv, ast.Mod, ast.Pow, ast.Compare, ast.Eq, ast.NotEq, ast.Lt, ast.LtE, ast.Gt,
    ast.GtE, ast.In, ast.NotIn, ast.Call, ast.List, ast.Tuple, ast.Subscript,
)  # fmt: skip
ALLOWED_NAMES = {
    "value", "old", "ts", "quality", "true", "false", "null", "dp",
    "abs", "min", "max", "round", "int", "float", "bool", "str", "len",
}  # fmt: skip

TOKENS = st.sampled_from(
    [
        "value", "old", "ts", "quality", "dp('plc_001.x')", "dp", "true", "null", "None",
        "__class__", "__import__", "__builtins__", "os", "x", "1", "0", "2.5", "-1", "10",
        "1000", "'a'", "'good'", "(", ")", "[", "]", ",", ".", ":", "+", "-", "*", "**",
        "/", "//", "%", "==", "!=", "<", ">=", "and", "or", "not", "in", "is", "lambda",
        "for", "if", "else", "abs", "len", "str", "min", "max", "round", "int", "float",
        "{", "}", "=", ":=", "@", "~", "<<", "'", '"', "\\", "\n", "yield", "await",
    ]
)  # fmt: skip
SAMPLE_VALUES = [None, 0, 1, -1, 2.5, "abc", "", True, [1, 2], {"a": 1}, 10**30, float("nan")]


def _within_whitelist(text: str) -> bool:
    tree = ast.parse(text.lstrip(), mode="eval")
    for node in ast.walk(tree):
        if not isinstance(node, ALLOWED_NODES):
            return False
        if isinstance(node, ast.Name) and node.id not in ALLOWED_NAMES:
            return False
    return True


def _forbidden(*args: Any, **kwargs: Any) -> Any:
    raise AssertionError("the evaluator reached a forbidden builtin")


def _check(text: str) -> None:
    try:
        expression = compile_expression(text)
    except ExpressionError:
        return
    assert _within_whitelist(text), f"compiled outside the whitelist: {text!r}"
    with (
        mock.patch.object(builtins, "eval", _forbidden),
        mock.patch.object(builtins, "exec", _forbidden),
        mock.patch.object(builtins, "open", _forbidden),
    ):
        for value in SAMPLE_VALUES:
            with contextlib.suppress(EvalError):
                expression.evaluate(value, 0, "good", "plc_001.x", {"plc_001.x": value}.get)


@settings(max_examples=600, deadline=None)
@given(st.lists(TOKENS, min_size=1, max_size=12).map(" ".join))
def test_token_soup_is_refused_or_evaluates_safely(text: str) -> None:
    _check(text)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=40))
def test_random_text_is_refused_or_evaluates_safely(text: str) -> None:
    _check(text)


def test_parser_warnings_are_refusals_whatever_the_warning_filters() -> None:
    with pytest.raises(ExpressionError, match="invalid escape sequence"):
        compile_expression(r"value == '\d'")
