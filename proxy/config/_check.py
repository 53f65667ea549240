"""Checking a parsed YAML/JSON tree against declarative field tables.

A *kind* is a function ``(checker, path, value) -> parsed value``. On a bad value it records a
``Problem`` (file, path, what is allowed) and raises ``Invalid`` so the caller drops the value
and carries on: every problem in a document is reported, not just the first. Adding a field is
one line in a table: ``"cacheTtlInSeconds": Field(integer(0, 3600))``.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, NoReturn

from proxy.errors import Problem

PathT = tuple[str | int, ...]
Kind = Callable[["Checker", PathT, Any], Any]

_PLAIN_KEY = re.compile(r"[A-Za-z0-9_-]+")
_CAMEL = re.compile(r"(?<!^)(?=[A-Z])")


class Invalid(Exception):
    """A kind has reported a problem; the caller drops the value."""


def format_path(path: PathT) -> str:
    """``("apis", 0, "stages", "prod", "methodSettings", "*/*")`` -> ``apis[0]...."*/*"``."""
    out: list[str] = []
    for seg in path:
        if isinstance(seg, int):
            out.append(f"[{seg}]")
            continue
        text = seg if _PLAIN_KEY.fullmatch(seg) else json.dumps(seg)
        out.append(f".{text}" if out else text)
    return "".join(out)


def describe(value: object) -> str:
    """The type of a value in YAML words, never the value itself (it may be huge)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return f"a {type(value).__name__}"


def show(value: object) -> str:
    """A short rendering of a user value for a message."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        # str() of an int over 4300 digits raises ValueError (CPython's DoS guard).
        return str(value) if abs(value) < 10**30 else "a very large integer"
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, str):
        return repr(value if len(value) <= 60 else value[:57] + "...")
    return describe(value)


def key_label(key: object) -> str:
    """A mapping key as a path segment, whatever its YAML type."""
    return key if isinstance(key, str) else show(key)


class Checker:
    """Collects the problems of one file."""

    __slots__ = ("file", "problems")

    def __init__(self, file: str) -> None:
        self.file = file
        self.problems: list[Problem] = []

    def report(self, path: PathT, message: str) -> None:
        self.problems.append(Problem(self.file, format_path(path), message))

    def fail(self, path: PathT, message: str) -> NoReturn:
        self.report(path, message)
        raise Invalid

    def attempt(self, kind: Kind, path: PathT, value: Any) -> Any:
        """Run ``kind``; ``INVALID`` if it reported a problem."""
        try:
            return kind(self, path, value)
        except Invalid:
            return INVALID


class _Invalid:
    __slots__ = ()

    def __repr__(self) -> str:
        return "INVALID"


INVALID: Any = _Invalid()


# --- scalar kinds ------------------------------------------------------------------------


def _bounds(lo: float | None, hi: float | None) -> str:
    if lo is not None and hi is not None:
        return f" between {lo} and {hi}"
    if lo is not None:
        return f" >= {lo}"
    if hi is not None:
        return f" <= {hi}"
    return ""


def number(lo: float | None = None, hi: float | None = None) -> Kind:
    """An int or float (not a bool), returned as float."""
    allowed = f"must be a number{_bounds(lo, hi)}"

    def kind(ck: Checker, path: PathT, value: Any) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            ck.fail(path, f"{allowed}, got {describe(value)}")
        try:
            result = float(value)
        except OverflowError:
            ck.fail(path, f"{allowed}, got {show(value)}")
        if (
            not math.isfinite(result)
            or (lo is not None and result < lo)
            or (hi is not None and result > hi)
        ):
            ck.fail(path, f"{allowed}, got {show(value)}")
        return result

    return kind


def integer(lo: int | None = None, hi: int | None = None) -> Kind:
    allowed = f"must be an integer{_bounds(lo, hi)}"

    def kind(ck: Checker, path: PathT, value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            got = show(value) if isinstance(value, float) else describe(value)
            ck.fail(path, f"{allowed}, got {got}")
        if (lo is not None and value < lo) or (hi is not None and value > hi):
            ck.fail(path, f"{allowed}, got {show(value)}")
        return int(value)  # an int already: int() tells mypy, which keeps Any here

    return kind


def boolean(ck: Checker, path: PathT, value: Any) -> bool:
    if not isinstance(value, bool):
        ck.fail(path, f"must be true or false, got {describe(value)}")
    return value


def string(
    pattern: str | None = None,
    *,
    min_len: int = 0,
    max_len: int | None = None,
    what: str | None = None,
) -> Kind:
    """A string, optionally matching ``pattern`` (whole string) and of bounded length;
    ``what`` names the allowed form in messages instead of the raw pattern."""
    compiled = re.compile(pattern) if pattern else None
    if what:
        allowed = f"must be {what}"
    else:
        allowed = f"must be a string matching {pattern}" if pattern else "must be a string"
    if min_len and max_len:
        sized = f"must be {min_len} to {max_len} characters long"
    elif min_len:
        sized = "must not be empty" if min_len == 1 else f"must be >= {min_len} characters long"
    else:
        sized = f"must be at most {max_len} characters long"

    def kind(ck: Checker, path: PathT, value: Any) -> str:
        if not isinstance(value, str):
            ck.fail(path, f"{allowed}, got {describe(value)}")
        if len(value) < min_len or (max_len is not None and len(value) > max_len):
            ck.fail(path, f"{sized}, got {len(value)}")
        if compiled is not None and not compiled.fullmatch(value):
            ck.fail(path, f"{allowed}, got {show(value)}")
        return value

    return kind


def one_of(*values: str, fold: bool = False) -> Kind:
    """One of ``values``; with ``fold`` any letter case is accepted and upper-cased."""
    allowed = f"must be one of {', '.join(values)}"

    def kind(ck: Checker, path: PathT, value: Any) -> str:
        if not isinstance(value, str):
            ck.fail(path, f"{allowed}, got {describe(value)}")
        result = value.upper() if fold else value
        if result not in values:
            ck.fail(path, f"{allowed}, got {show(value)}")
        return result

    return kind


def nullable(inner: Kind) -> Kind:
    """``null`` means "not set"."""

    def kind(ck: Checker, path: PathT, value: Any) -> Any:
        return None if value is None else inner(ck, path, value)

    return kind


def then(first: Kind, check: Callable[[Checker, PathT, Any], Any]) -> Kind:
    """``first``, then a further check or conversion of its result."""

    def kind(ck: Checker, path: PathT, value: Any) -> Any:
        return check(ck, path, first(ck, path, value))

    return kind


# --- containers --------------------------------------------------------------------------


def list_of(item: Kind, *, unique: Mapping[str, Callable[[Any], Hashable]] | None = None) -> Kind:
    """A list, returned as a tuple. ``unique`` maps a field name (or ``""`` for the item itself)
    to the value that must not repeat across items."""

    def kind(ck: Checker, path: PathT, value: Any) -> tuple[Any, ...]:
        if not isinstance(value, list):
            ck.fail(path, f"must be a list, got {describe(value)}")
        before = len(ck.problems)
        results = [ck.attempt(item, (*path, i), v) for i, v in enumerate(value)]
        for name, get in (unique or {}).items():
            first: dict[Hashable, int] = {}
            for i, r in enumerate(results):
                if r is INVALID:
                    continue
                k = get(r)
                if k in first:
                    where = (*path, i, name) if name else (*path, i)
                    also = format_path((*path, first[k]))
                    ck.report(where, f"duplicate {show(k)} (also at {also})")
                else:
                    first[k] = i
        if any(r is INVALID for r in results) or len(ck.problems) > before:
            raise Invalid
        return tuple(results)

    return kind


def map_of(
    value_kind: Kind,
    *,
    key: Callable[[Checker, PathT, str], str] | None = None,
    number_keys: bool = False,
) -> Kind:
    """A mapping with string keys (checked by ``key``), returned read-only.
    ``number_keys`` accepts YAML integer keys (``200:``) as their text."""

    def kind(ck: Checker, path: PathT, value: Any) -> Mapping[str, Any]:
        if not isinstance(value, dict):
            ck.fail(path, f"must be a mapping, got {describe(value)}")
        before = len(ck.problems)
        out: dict[str, Any] = {}
        failed = False
        for k, v in value.items():
            if number_keys and isinstance(k, int) and not isinstance(k, bool):
                k = show(k)
            where = (*path, key_label(k))
            if not isinstance(k, str):
                ck.report(where, f"keys must be strings, got {describe(k)}")
                continue
            if key is not None and ck.attempt(key, where, k) is INVALID:
                continue
            parsed = ck.attempt(value_kind, where, v)
            if parsed is INVALID:
                failed = True
            else:
                out[k] = parsed
        if failed or len(ck.problems) > before:
            raise Invalid
        return MappingProxyType(out)

    return kind


@dataclass(frozen=True, slots=True)
class Field:
    """One entry of a field table. ``to`` is the dataclass attribute: ``""`` derives the
    snake_case of the YAML name, ``None`` accepts and checks the field but drops it."""

    kind: Kind
    required: bool = False
    to: str | None = ""


def ignored(kind: Kind) -> Field:
    """Accepted (and checked) for compatibility with AWS output, then dropped."""
    return Field(kind, to=None)


def snake(name: str) -> str:
    return _CAMEL.sub("_", name).lower()


Post = Callable[[Checker, PathT, dict[str, Any]], Any]


def record(
    table: Mapping[str, Field],
    build: Callable[..., Any] | None = None,
    *,
    strict: bool = True,
    post: Post | None = None,
) -> Kind:
    """A mapping read through a field table, in the table's order (so later fields may rely
    on earlier ones). ``strict`` rejects unknown keys. ``post`` checks the parsed fields
    together (only when each was valid); ``build`` makes the result from them."""
    fields = [(name, f, snake(name) if f.to == "" else f.to) for name, f in table.items()]
    allowed = ", ".join(table)

    def kind(ck: Checker, path: PathT, value: Any) -> Any:
        if not isinstance(value, dict):
            ck.fail(path, f"must be a mapping, got {describe(value)}")
        before = len(ck.problems)
        if strict:
            for k in value:
                if not isinstance(k, str) or k not in table:
                    name = show(k) if isinstance(k, str) else key_label(k)
                    ck.report((*path, key_label(k)), f"unknown field {name} (allowed: {allowed})")
        out: dict[str, Any] = {}
        failed = False  # a kind may raise Invalid for a problem reported elsewhere
        for name, f, attr in fields:
            if name not in value:
                if f.required:
                    ck.report((*path, name), "is required")
                continue
            parsed = ck.attempt(f.kind, (*path, name), value[name])
            if parsed is INVALID:
                failed = True
            elif attr is not None:
                out[attr] = parsed
        if failed or len(ck.problems) > before:
            raise Invalid
        if post is not None:
            out = post(ck, path, out)
        return build(**out) if build is not None else out

    return kind
