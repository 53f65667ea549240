"""The state one translation of an expanded template shares between its parts (APIs,
functions, stages and plans): the resources, the evaluator, where each came from, and what
the generated config's fields came from."""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from proxy.config._check import Checker, Invalid, PathT, describe
from proxy.templates.intrinsics import NO_VALUE, Evaluator, scalar_text
from proxy.templates.origins import Origins, Sources

__all__ = ["MISSING", "Context", "as_bool", "as_number", "as_text"]

MISSING: Any = object()


@dataclass
class Context:
    ck: Checker
    ev: Evaluator
    resources: dict[str, dict[str, Any]]
    sources: Sources
    template_dir: str  # the template's folder on this machine
    config_dir: str  # the folder config paths are relative to
    origins: Origins = field(default_factory=Origins)
    ignored: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def file(self) -> str:
        return self.ck.file

    def where(self, logical_id: str, *rest: str | int) -> PathT:
        return self.sources.where(logical_id, *rest)

    def type_of(self, logical_id: str) -> str:
        kind = self.resources[logical_id].get("Type")
        return kind if isinstance(kind, str) else ""

    def of_type(self, kind: str) -> Iterator[str]:
        return (lid for lid, r in self.resources.items() if r.get("Type") == kind)

    def raw(self, logical_id: str) -> dict[str, Any]:
        props = self.resources[logical_id].get("Properties")
        return props if isinstance(props, dict) else {}

    def report(self, logical_id: str, rest: tuple[str | int, ...], message: str) -> None:
        self.ck.report(self.where(logical_id, *rest), message)

    def prop(self, logical_id: str, *keys: str | int, default: Any = MISSING) -> Any:
        """The evaluated value of ``Properties.<keys...>``; ``default`` when absent (or
        ``AWS::NoValue``); raises ``Invalid`` after reporting a problem."""
        node: Any = self.raw(logical_id)
        for key in keys:
            if not isinstance(node, dict | list):
                self.report(logical_id, ("Properties", *keys[: keys.index(key)]),
                            f"must be a mapping, got {describe(node)}")
                raise Invalid
            if isinstance(node, list):
                if not isinstance(key, int) or key >= len(node):
                    return self._missing(default, logical_id, keys)
                node = node[key]
            elif key not in node:
                return self._missing(default, logical_id, keys)
            else:
                node = node[key]
        value = self.ev.value(node, self.where(logical_id, "Properties", *keys))
        if value is NO_VALUE:
            return self._missing(default, logical_id, keys)
        return value

    def _missing(self, default: Any, logical_id: str, keys: tuple[str | int, ...]) -> Any:
        if default is MISSING:
            self.report(logical_id, ("Properties", *keys), "is required")
            raise Invalid
        return default

    def attempt(self, logical_id: str, *keys: str | int, default: Any = None) -> Any:
        """``prop``, or ``default`` when it reported a problem."""
        try:
            return self.prop(logical_id, *keys, default=default)
        except Invalid:
            return default

    def origin(self, config_path: PathT, logical_id: str, *rest: str | int,
               exact: bool = False) -> None:
        self.origins.add(config_path, self.file, self.where(logical_id, *rest), exact=exact)


def as_text(value: Any) -> Any:
    """A scalar as CloudFormation passes it to a string property; other values unchanged (so
    the loader names what is wrong with them)."""
    text = scalar_text(value)
    return value if text is None else text


def as_number(value: Any) -> Any:
    """A number given as a string (a parameter's value) as a number; other values unchanged."""
    if isinstance(value, str):
        try:
            return int(value)
        except ValueError:
            try:
                number = float(value)
            except ValueError:
                return value
            return number if math.isfinite(number) else value
    return value


def as_bool(value: Any) -> Any:
    """``"true"``/``"false"`` (a parameter's value) as booleans, as CloudFormation reads them."""
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    return value
