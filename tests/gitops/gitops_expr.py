"""GitHub Actions expressions (`${{ … }}` and `if:`), the subset the shipped workflows may use.

Test-only. Follows GitHub's documented rules where the workflows depend on them: loose equality (strings
compare case-insensitively, other mixes compare as numbers), `&&`/`||` return an operand, `!` negates
truthiness, property dereference of a missing key is null, `*` object filters (`labels.*.name`), and the
functions `always()`, `success()`, `failure()`, `cancelled()`, `contains`, `startsWith`, `endsWith`,
`format`, `join`, `toJSON`, `fromJSON`. Anything else raises `ExpressionError`, so a workflow that starts using
a construct this evaluator does not know fails the test instead of being misread.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["ExpressionError", "JobStatus", "evaluate", "interpolate", "truthy"]


class ExpressionError(ValueError):
    pass


@dataclass
class JobStatus:
    """What the status functions read: did an earlier step fail, was the run cancelled."""

    failed: bool = False
    cancelled: bool = False


_TOKEN = re.compile(
    r"\s*(?:(?P<num>-?\d+(?:\.\d+)?)|(?P<str>'(?:[^']|'')*')|(?P<op>==|!=|&&|\|\||<=|>=|[<>!().,\[\]*])"
    r"|(?P<name>[A-Za-z_][A-Za-z0-9_-]*))"
)


def _tokens(text: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    pos = 0
    text = text.strip()
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None or match.end() == pos:
            raise ExpressionError(f"cannot read expression at {text[pos:]!r}")
        kind = match.lastgroup
        assert kind is not None
        out.append((kind, match.group(kind)))
        pos = match.end()
        while pos < len(text) and text[pos].isspace():
            pos += 1
    return out


def truthy(value: Any) -> bool:
    if value is None or value is False:
        return False
    if isinstance(value, int | float) and not isinstance(value, bool):
        return value != 0
    if isinstance(value, str):
        return value != ""
    return True


def _number(value: Any) -> float:
    if value is None:
        return 0.0
    if isinstance(value, bool):
        return 1.0 if value else 0.0
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.strip()) if value.strip() else 0.0
        except ValueError:
            return float("nan")
    return float("nan")


def _equal(left: Any, right: Any) -> bool:
    if isinstance(left, str) and isinstance(right, str):
        return left.lower() == right.lower()
    if isinstance(left, dict | list) or isinstance(right, dict | list):
        return left is right
    if type(left) is type(right):
        return bool(left == right)
    return _number(left) == _number(right)


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, dict | list):
        return json.dumps(value, indent=2)
    return str(value)


class _Parser:
    def __init__(self, text: str, context: Mapping[str, Any], status: JobStatus) -> None:
        self.tokens = _tokens(text)
        self.pos = 0
        self.context = context
        self.status = status
        self.text = text

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self, value: str | None = None) -> tuple[str, str]:
        token = self.peek()
        if token is None or (value is not None and token[1] != value):
            raise ExpressionError(f"expected {value or 'more'} in {self.text!r}")
        self.pos += 1
        return token

    def parse(self) -> Any:
        value = self.or_()
        if self.peek() is not None:
            raise ExpressionError(f"unexpected {self.peek()} in {self.text!r}")
        return value

    def or_(self) -> Any:
        value = self.and_()
        while self.peek() == ("op", "||"):
            self.take()
            right = self.and_()
            value = value if truthy(value) else right
        return value

    def and_(self) -> Any:
        value = self.compare()
        while self.peek() == ("op", "&&"):
            self.take()
            right = self.compare()
            value = right if truthy(value) else value
        return value

    def compare(self) -> Any:
        value = self.unary()
        while self.peek() in (("op", "=="), ("op", "!=")):
            op = self.take()[1]
            right = self.unary()
            value = _equal(value, right) if op == "==" else not _equal(value, right)
        return value

    def unary(self) -> Any:
        if self.peek() == ("op", "!"):
            self.take()
            return not truthy(self.unary())
        return self.postfix(self.primary())

    def primary(self) -> Any:
        kind, value = self.take()
        if kind == "num":
            return float(value) if "." in value else int(value)
        if kind == "str":
            return value[1:-1].replace("''", "'")
        if kind == "op" and value == "(":
            inner = self.or_()
            self.take(")")
            return inner
        if kind != "name":
            raise ExpressionError(f"unexpected {value!r} in {self.text!r}")
        if value in ("true", "false"):
            return value == "true"
        if value == "null":
            return None
        if self.peek() == ("op", "("):
            return self.call(value)
        if value not in self.context:
            raise ExpressionError(f"unknown context {value!r} in {self.text!r}")
        return self.context[value]

    def call(self, name: str) -> Any:
        self.take("(")
        args: list[Any] = []
        while self.peek() != ("op", ")"):
            args.append(self.or_())
            if self.peek() == ("op", ","):
                self.take()
        self.take(")")
        functions: dict[str, Callable[..., Any]] = {
            "always": lambda: True,
            "success": lambda: not self.status.failed and not self.status.cancelled,
            "failure": lambda: self.status.failed,
            "cancelled": lambda: self.status.cancelled,
            "contains": _contains,
            "startsWith": lambda a, b: _text(a).lower().startswith(_text(b).lower()),
            "endsWith": lambda a, b: _text(a).lower().endswith(_text(b).lower()),
            "format": lambda fmt, *rest: re.sub(r"\{(\d+)\}", lambda m: _text(rest[int(m.group(1))]), fmt),
            "join": lambda items, sep=",": sep.join(_text(i) for i in items) if isinstance(items, list) else items,
            "toJSON": lambda v: json.dumps(v, indent=2),
            "fromJSON": lambda v: json.loads(v),
        }
        if name not in functions:
            raise ExpressionError(f"unknown function {name}() in {self.text!r}")
        return functions[name](*args)

    def postfix(self, value: Any) -> Any:
        while True:
            token = self.peek()
            if token == ("op", "."):
                self.take()
                kind, key = self.take()
                if kind == "op" and key == "*":
                    value = _star(value)
                    continue
                if kind != "name":
                    raise ExpressionError(f"expected a property name in {self.text!r}")
                value = _get(value, key)
            elif token == ("op", "["):
                self.take()
                key = self.or_()
                self.take("]")
                value = _get(value, key)
            else:
                return value


def _get(value: Any, key: Any) -> Any:
    if isinstance(value, list) and _is_star(value):
        return _StarList(_get(item, key) for item in value)
    if isinstance(value, Mapping):
        for k, v in value.items():  # property names are case-insensitive
            if isinstance(k, str) and isinstance(key, str) and k.lower() == key.lower():
                return v
        return None
    if isinstance(value, list) and isinstance(key, int | float):
        index = int(key)
        return value[index] if 0 <= index < len(value) else None
    return None


class _StarList(list[Any]):
    """The result of a `*` filter: further dereferences apply to every element."""


def _is_star(value: Any) -> bool:
    return isinstance(value, _StarList)


def _star(value: Any) -> _StarList:
    if isinstance(value, Mapping):
        return _StarList(value.values())
    if isinstance(value, list):
        return _StarList(value)
    return _StarList()


def _contains(search: Any, item: Any) -> bool:
    if isinstance(search, list):
        return any(_equal(element, item) for element in search)
    return _text(item).lower() in _text(search).lower()


def evaluate(text: str, context: Mapping[str, Any], status: JobStatus | None = None) -> Any:
    """The value of one expression (without the `${{ }}` wrapper)."""
    return _Parser(text, context, status or JobStatus()).parse()


_PLACEHOLDER = re.compile(r"\$\{\{(.*?)\}\}", re.DOTALL)


def interpolate(text: str, context: Mapping[str, Any], status: JobStatus | None = None) -> str:
    """`text` with every `${{ expr }}` replaced by the expression's string form, as the runner does before a
    step's shell sees the script."""
    return _PLACEHOLDER.sub(lambda m: _text(evaluate(m.group(1), context, status)), text)
