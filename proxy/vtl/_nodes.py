"""The syntax tree of a template: statements (what a block does) and expressions (values).

Every node records ``pos``, its offset in the source, so a compile error can name the line.
"""

from __future__ import annotations

from dataclasses import dataclass

# ---- expressions ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Literal:
    pos: int
    value: str | int | float | bool | None


@dataclass(frozen=True, slots=True)
class Interpolated:
    """A "double-quoted" string: a template of its own, rendered to a string."""

    pos: int
    body: tuple[Stmt, ...]


@dataclass(frozen=True, slots=True)
class ListLit:
    pos: int
    items: tuple[Expr, ...]


@dataclass(frozen=True, slots=True)
class MapLit:
    pos: int
    pairs: tuple[tuple[Expr, Expr], ...]


@dataclass(frozen=True, slots=True)
class RangeLit:
    pos: int
    low: Expr
    high: Expr


@dataclass(frozen=True, slots=True)
class Var:
    pos: int
    name: str


@dataclass(frozen=True, slots=True)
class Prop:
    pos: int
    obj: Expr
    name: str


@dataclass(frozen=True, slots=True)
class Call:
    pos: int
    obj: Expr
    name: str
    args: tuple[Expr, ...]


@dataclass(frozen=True, slots=True)
class Index:
    pos: int
    obj: Expr
    key: Expr


@dataclass(frozen=True, slots=True)
class Unary:
    pos: int
    op: str  # "!" or "-"
    operand: Expr


@dataclass(frozen=True, slots=True)
class Binary:
    pos: int
    op: str  # normalised: || && == != < > <= >= + - * / %
    left: Expr
    right: Expr


Expr = (Literal | Interpolated | ListLit | MapLit | RangeLit | Var | Prop | Call | Index | Unary
        | Binary)
Ref = Var | Prop | Call | Index

# ---- statements -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Text:
    pos: int
    text: str


@dataclass(frozen=True, slots=True)
class Output:
    """A reference in the text: ``$a.b``, ``$!a``, ``${a}``."""

    pos: int
    expr: Expr


@dataclass(frozen=True, slots=True)
class Set:
    pos: int
    target: Ref  # Var, Prop or Index
    value: Expr


@dataclass(frozen=True, slots=True)
class If:
    pos: int
    branches: tuple[tuple[Expr, tuple[Stmt, ...]], ...]
    orelse: tuple[Stmt, ...] | None


@dataclass(frozen=True, slots=True)
class Foreach:
    pos: int
    var: str
    iterable: Expr
    body: tuple[Stmt, ...]


@dataclass(frozen=True, slots=True)
class Break:
    pos: int


@dataclass(frozen=True, slots=True)
class Stop:
    pos: int


@dataclass(frozen=True, slots=True)
class MacroDef:
    pos: int
    name: str
    params: tuple[str, ...]
    body: tuple[Stmt, ...]


@dataclass(frozen=True, slots=True)
class MacroCall:
    pos: int
    name: str
    args: tuple[Expr, ...]
    text: str  # the call as written: rendered as text when no #macro defines the name


@dataclass(frozen=True, slots=True)
class Unsupported:
    """#include / #parse / #evaluate: parsed, but they fail when reached, as AWS has no
    resource loader for them."""

    pos: int
    name: str


Stmt = Text | Output | Set | If | Foreach | Break | Stop | MacroDef | MacroCall | Unsupported
