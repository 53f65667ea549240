"""Syntax tree to the source of one Python function per template, compiled once.

The function is ``_render(I, U, C, S, R)`` ($input, $util, $context, $stageVariables and the
render's step/depth counters) and returns the output text. Safety of the generated code does
not depend on the template: template names only ever appear inside string literals made with
``repr`` (``v.get('name')``, ``_prop(t, 'name')``); generated identifiers are counters
(``_t3``, ``_m0``); the code runs with empty builtins and only the helpers in ``GLOBALS``.

Speed, on the reference pair (bench/micro/test_vtl_bench.py, this 2-core machine): 38 us
median for both templates, body parsing included, against 229-242 us for airspeed-ext
compiled once (47 us before loop variables and $foreach moved into Python locals and truth
tests were inlined). What buys it: a dict member read inline (``t.get(k) if type(t) is
dict``) instead of a helper call, $input.path with a literal path compiled to a JsonPath
once, $util functions called directly, the loop variable and $foreach read from Python
locals when nothing in the loop body can rebind them (nor stored by name each iteration),
and nothing built for $input, $context or $stageVariables when the template does not name
them. Since then (escapeJavaScript by str.replace, $context read inline, no
Inputs/RenderResult for the gateway's renders through Template.render_text, ints printed in
one call): 29 us (timeit median) and 333k instructions for the pair (callgrind), against
285k for a whole proxied GET; hand-written Python for the same output is about 20 us.

Output accounting: ``n`` counts characters appended (static text once per block run), and is
checked against MAX_OUTPUT on every loop iteration and at the end; each helper that builds a
string checks MAX_STRING, so no step can allocate without bound.
"""

from __future__ import annotations

from typing import Any

from proxy.vtl import _nodes as n
from proxy.vtl._apigw import body_text, escape_javascript, found_json, parse_body
from proxy.vtl._jsonpath import compile_path
from proxy.vtl._limits import MAX_FOREACH, MAX_MACRO_DEPTH, MAX_OUTPUT, MAX_STEPS
from proxy.vtl._methods import call, index, iterate, prop, set_index, set_prop
from proxy.vtl._values import (
    ForeachState,
    JList,
    JMap,
    add,
    arith,
    checked_string,
    compare,
    eq,
    interp,
    make_range,
    negate,
    render,
    truth,
)
from proxy.vtl.errors import TemplateError, TemplateRuntimeError

_ROOTS = {"input": "I", "util": "U", "context": "C", "stageVariables": "S"}
_LOOP_NAMES = frozenset({"foreach", "velocityCount", "velocityHasNext"})
_FOREACH_PROPS = {"hasNext": "({i} < {last})", "index": "{i}", "count": "({i} + 1)",
                  "first": "({i} == 0)", "last": "({i} >= {last})"}
_FOREACH_BOOLS = frozenset({"hasNext", "first", "last"})
_BOOL_OPS = frozenset({"==", "!=", "<", ">", "<=", ">=", "&&", "||"})


class Stop(Exception):
    pass


class BreakOut(Exception):
    pass


class _Missing:
    __slots__ = ()


MISSING = _Missing()
UNPARSED = _Missing()  # the payload of an inline $input, not parsed yet


def _limit(steps: int, depth: int, out: int) -> TemplateRuntimeError:
    if out > MAX_OUTPUT:
        return TemplateRuntimeError(f"template output exceeds {MAX_OUTPUT} characters")
    if depth > MAX_MACRO_DEPTH:
        return TemplateRuntimeError(f"macro calls nest deeper than {MAX_MACRO_DEPTH}")
    return TemplateRuntimeError(f"template runs more than {MAX_STEPS} loop iterations "
                                "and macro calls")


def _unsupported(name: str) -> TemplateRuntimeError:
    return TemplateRuntimeError(f"#{name} is not available in API Gateway mapping templates")


GLOBALS: dict[str, Any] = {
    "__builtins__": {},
    "type": type, "len": len, "zip": zip, "str": str, "int": int, "dict": dict, "list": list,
    "_tostr": render, "_truth": truth, "_eq": eq, "_cmp": compare, "_add": add,
    "_arith": arith, "_neg": negate, "_range": make_range, "_interp": interp,
    "_checked": checked_string, "_JList": JList, "_JMap": JMap, "_prop": prop, "_call": call,
    "_idx": index, "_setprop": set_prop, "_setidx": set_index, "_iter": iterate,
    "_FE": ForeachState, "_Stop": Stop, "_Break": BreakOut, "_MISSING": MISSING,
    "_esc": escape_javascript, "_parse": parse_body, "_text": body_text,
    "_found_json": found_json, "_UNPARSED": UNPARSED,
    "_limit": _limit, "_unsupported": _unsupported,
    "_MAXOUT": MAX_OUTPUT, "_LOOPS": range(MAX_FOREACH), "_MAXSTEPS": MAX_STEPS,
    "_MAXDEPTH": MAX_MACRO_DEPTH,
}


def _walk(stmts: tuple[n.Stmt, ...]) -> list[n.Stmt | n.Expr]:
    out: list[n.Stmt | n.Expr] = []
    todo: list[Any] = list(stmts)
    while todo:
        node = todo.pop()
        out.append(node)
        if isinstance(node, n.Output):
            todo.append(node.expr)
        elif isinstance(node, n.Set):
            todo += [node.target, node.value]
        elif isinstance(node, n.If):
            for cond, body in node.branches:
                todo.append(cond)
                todo += body
            todo += node.orelse or ()
        elif isinstance(node, n.Foreach):
            todo.append(node.iterable)
            todo += node.body
        elif isinstance(node, n.MacroDef):
            todo += node.body
        elif isinstance(node, n.MacroCall):
            todo += node.args
        elif isinstance(node, n.Interpolated):
            todo += node.body
        elif isinstance(node, n.ListLit):
            todo += node.items
        elif isinstance(node, n.MapLit):
            for k, val in node.pairs:
                todo += [k, val]
        elif isinstance(node, n.RangeLit):
            todo += [node.low, node.high]
        elif isinstance(node, n.Prop):
            todo.append(node.obj)
        elif isinstance(node, n.Call):
            todo.append(node.obj)
            todo += node.args
        elif isinstance(node, n.Index):
            todo += [node.obj, node.key]
        elif isinstance(node, n.Unary):
            todo.append(node.operand)
        elif isinstance(node, n.Binary):
            todo += [node.left, node.right]
    return out


_Piece = n.Text | n.Output | n.If


def _runs(stmts: tuple[n.Stmt, ...]) -> list[n.Stmt | list[_Piece]]:
    """The statements of a block, with each run of text, references and #ifs that only
    choose a text (two or more pieces, one not plain text) gathered in a list to write at
    once. A piece whose evaluation may run #stop or #break (a directive inside a "string")
    ends a run: the text before it must be out when it stops the render."""
    out: list[n.Stmt | list[_Piece]] = []
    run: list[_Piece] = []

    def flush() -> None:
        if len(run) > 1 and any(not isinstance(s, n.Text) for s in run):
            out.append(list(run))
        else:
            out.extend(run)
        run.clear()

    for s in stmts:
        if isinstance(s, n.Text) or (isinstance(s, n.Output) and _quiet(s.expr)) \
                or (isinstance(s, n.If) and _text_if(s)):
            run.append(s)
        else:
            flush()
            out.append(s)
    flush()
    return out


def _text_if(s: n.If) -> bool:
    """An #if whose branches only write text, under conditions that run no directive: a
    choice of text, written with the text around it (``#if($foreach.hasNext),#end``)."""
    return all(_quiet(cond) and all(isinstance(b, n.Text) for b in body)
               for cond, body in s.branches) \
        and all(isinstance(b, n.Text) for b in s.orelse or ())


def _fold(stmts: tuple[n.Stmt, ...]) -> tuple[n.Stmt, ...]:
    """The block with short text that follows an #if (and no reference after it) written by
    each of its branches, with their last text: one append fewer (``#if($a)"x"#{else}"y"#end}``
    in a loop: ~0.3k instructions an iteration). Only for an #if that cannot stop or break:
    the text then always follows what a branch wrote."""
    out: list[n.Stmt] = []
    i = 0
    while i < len(stmts):
        s = stmts[i]
        after = stmts[i + 1] if i + 1 < len(stmts) else None
        later = stmts[i + 2] if i + 2 < len(stmts) else None
        if (isinstance(s, n.If) and isinstance(after, n.Text) and len(after.text) <= 64
                and not isinstance(later, n.Output) and _plain(s)):
            tail = (after,)
            out.append(n.If(s.pos, tuple((cond, _joined_text(body + tail))
                                         for cond, body in s.branches),
                            _joined_text((s.orelse or ()) + tail)))
            i += 2
            continue
        out.append(s)
        i += 1
    return tuple(out)


def _plain(s: n.If) -> bool:
    return not any(isinstance(node, n.Break | n.Stop | n.MacroCall | n.Unsupported)
                   or (isinstance(node, n.Interpolated) and not _simple_string(node))
                   for node in _walk((s,)))


def _joined_text(stmts: tuple[n.Stmt, ...]) -> tuple[n.Stmt, ...]:
    """``stmts`` with its last two statements made one when both are text."""
    if len(stmts) > 1 and isinstance(stmts[-1], n.Text) and isinstance(stmts[-2], n.Text):
        return (*stmts[:-2], n.Text(stmts[-2].pos, stmts[-2].text + stmts[-1].text))
    return stmts


def _texts(stmts: tuple[n.Stmt, ...]) -> str:
    return "".join(s.text for s in stmts if isinstance(s, n.Text))


def _quiet(e: n.Expr) -> bool:
    """Whether evaluating ``e`` runs no directive (only a "string" with directives does)."""
    return not any(isinstance(node, n.Interpolated) and not _simple_string(node)
                   for node in _walk((n.Output(0, e),)))


def _simple_string(e: n.Interpolated) -> bool:
    """A "string" of text and references only: evaluated inline, not by a function."""
    return all(isinstance(b, n.Text | n.Output) for b in e.body)


def _fstring_text(text: str) -> str:
    """``text`` as the literal part of a single-quoted f-string."""
    body = repr(text)[1:-1]
    if repr(text)[0] == '"':  # repr chose double quotes: the text has ' and no "
        body = body.replace("'", "\\'")
    return body.replace("{", "{{").replace("}", "}}")


def _context_chain(e: n.Prop, fixed_roots: dict[str, str]) -> tuple[str, ...] | None:
    """The names of ``$context.a.b...`` (``$context`` not rebound, ``a`` not one of the
    override maps the template writes), else None: read by ``Context.path``."""
    names = [e.name]
    obj = e.obj
    while isinstance(obj, n.Prop):
        names.append(obj.name)
        obj = obj.obj
    if not (isinstance(obj, n.Var) and fixed_roots.get(obj.name) == "C"):
        return None
    names.reverse()
    if names[0] in ("requestOverride", "responseOverride"):
        return None
    return tuple(names)


def _root(target: n.Expr) -> n.Expr:
    while isinstance(target, n.Prop | n.Call | n.Index):
        target = target.obj
    return target


class _Fn:
    """Per generated function: its lines and whether a Python loop encloses the spot."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.loops = 0
        # inside a loop body: template variables held in Python locals (the loop variable,
        # when nothing in the body can rebind it) and the innermost loop's $foreach
        self.local_vars: dict[str, str] = {}
        self.foreach: list[tuple[str, str]] = []  # (last index local, index local)
        self.dict_flags: dict[str, str] = {}  # loop variable local -> "is a dict" local


class Generator:
    def __init__(self, tree: tuple[n.Stmt, ...], source: str) -> None:
        self.tree = tree
        self.source = source
        self.consts: dict[str, Any] = {}
        self.counter = 0
        self.helpers: list[list[str]] = []  # nested function definitions
        nodes = _walk(tree)
        assigned: set[str] = set()
        names: set[str] = set()
        self.macros: dict[str, tuple[str, n.MacroDef]] = {}
        for node in nodes:
            if isinstance(node, n.Set):
                root = _root(node.target)
                if isinstance(root, n.Var) and root is node.target:
                    assigned.add(root.name)
            elif isinstance(node, n.Foreach):
                assigned.add(node.var)
            elif isinstance(node, n.MacroDef):
                assigned.update(node.params)
                self.macros[node.name] = (self._name("_m"), node)
            elif isinstance(node, n.Var):
                names.add(node.name)
        # $input and friends are locals unless the template rebinds the name somewhere
        self.fixed_roots = {k: v for k, v in _ROOTS.items() if k not in assigned}
        self.loop_names = names & _LOOP_NAMES
        self.assigned = assigned
        self.names = names
        self.uses_input = "input" in names
        # $foreach as an object (ForeachState, kept in v) only when something reads it other
        # than as $foreach.hasNext (and the other properties) inside its loop: the first
        # generation assumes nothing does and notes whether that held (~0.5k instructions a
        # loop iteration of the reference pair)
        self.foreach_objects = "foreach" in assigned
        self.needs_foreach_objects = False
        # loop iterations and macro calls are counted (R.steps) only where MAX_STEPS can be
        # reached: with macros, directives inside strings (functions of their own), nested
        # loops, or more loops than MAX_STEPS / MAX_FOREACH (~0.3k instructions a loop
        # iteration, and no counters to make per render)
        loops = [node for node in nodes if isinstance(node, n.Foreach)]
        # functions of their own: macros and strings with directives, which read and write
        # the template's variables by name (v)
        functions = bool(self.macros) or any(
            isinstance(node, n.MacroCall)
            or (isinstance(node, n.Interpolated) and not _simple_string(node))
            for node in nodes)
        self.counts_steps = (
            functions or len(loops) * MAX_FOREACH > MAX_STEPS
            or any(isinstance(inner, n.Foreach) for loop in loops for inner in _walk(loop.body)))
        # without them the variables are Python locals of _render, not entries of a dict
        # (~0.3k instructions a read or a #set)
        self.var_locals: dict[str, str] | None = None if functions else {}
        # $input read only as $input.path/json/body, in _render itself: I is the payload,
        # parsed into a local when first read, with no Input object made or called (~2.5k
        # instructions a render); the first generation assumes so and notes whether it held
        self.inline_input = not functions and "input" in self.fixed_roots
        self.needs_input_object = False

    def _get(self, name: str) -> str:
        """The code that reads the template variable ``name`` (null when unset)."""
        if self.var_locals is None:
            return f"v.get({name!r})"
        return self._local(name)

    def _put(self, name: str, value: str) -> str:
        """The statement that sets ``name`` to a value known not to be null."""
        if self.var_locals is None:
            return f"v[{name!r}] = {value}"
        return f"{self._local(name)} = {value}"

    def _saved(self, name: str) -> str:
        """What to keep of ``name`` to put it back with ``_restore``."""
        if self.var_locals is None:
            return f"v.get({name!r}, _MISSING)"
        return self._local(name)

    def _restore(self, name: str, saved: str, ind: str) -> list[str]:
        if self.var_locals is None:
            return [f"{ind}if {saved} is _MISSING:", f"{ind}    v.pop({name!r}, None)",
                    f"{ind}else:", f"{ind}    v[{name!r}] = {saved}"]
        return [f"{ind}{self._local(name)} = {saved}"]

    def _local(self, name: str) -> str:
        assert self.var_locals is not None
        local = self.var_locals.get(name)
        if local is None:
            local = self.var_locals[name] = self._name("_v")
        return local

    def _name(self, prefix: str) -> str:
        self.counter += 1
        return f"{prefix}{self.counter}"

    def _const(self, prefix: str, value: Any) -> str:
        name = self._name(prefix)
        self.consts[name] = value
        return name

    def error(self, message: str, pos: int) -> TemplateError:
        line = self.source.count("\n", 0, pos) + 1
        column = pos - (self.source.rfind("\n", 0, pos) + 1) + 1
        return TemplateError(message, line, column)

    # ---- module ---------------------------------------------------------------------------

    def module(self) -> str:
        source = self._module()
        if (self.needs_foreach_objects and not self.foreach_objects) or (
                self.needs_input_object and self.inline_input):
            self.foreach_objects = self.foreach_objects or self.needs_foreach_objects
            self.inline_input = self.inline_input and not self.needs_input_object
            source = self._module()
        return source

    def _module(self) -> str:
        self.helpers = []
        if self.var_locals is not None:
            self.var_locals = {}
        body = _Fn()
        self.block(self.tree, body, 2)
        for label, macro in self.macros.values():
            self.macro_def(label, macro)
        lines = ["def _render(I, U, C, S, R):"]
        if self.var_locals is None:
            roots = [f"{k!r}: {v}" for k, v in _ROOTS.items() if k not in self.fixed_roots]
            lines.append(f"    v = {{{', '.join(roots)}}}")
        else:  # a variable not set yet reads as null, a rebound root starts as itself
            lines += [f"    {local} = {_ROOTS.get(name, 'None')}"
                      for name, local in self.var_locals.items()]
        if self.inline_input and self.uses_input:
            lines.append("    _r = _UNPARSED")
        lines += ["    o = []", "    a = o.append", "    n = 0"]
        for helper in self.helpers:
            lines += ["    " + line for line in helper]
        lines.append("    try:")
        lines += body.lines or ["        pass"]
        lines += ["    except (_Stop, _Break):", "        pass",
                  "    if n > _MAXOUT:", "        raise _limit(0, 0, n)",
                  "    return ''.join(o)"]
        return "\n".join(lines) + "\n"

    def macro_def(self, label: str, macro: n.MacroDef) -> None:
        fn = _Fn()
        params = [f"p{i}=None" for i in range(len(macro.params))]
        lines = [f"def {label}(a, {', '.join(params)}):" if params else f"def {label}(a):",
                 "    R.depth += 1", "    R.steps += 1",
                 "    if R.depth > _MAXDEPTH or R.steps > _MAXSTEPS:",
                 "        raise _limit(R.steps, R.depth, 0)"]
        for i, p in enumerate(macro.params):
            lines += [f"    s{i} = v.get({p!r}, _MISSING)",
                      f"    if p{i} is None:", f"        v.pop({p!r}, None)",
                      "    else:", f"        v[{p!r}] = p{i}"]
        lines += ["    n = 0", "    try:"]
        self.block(macro.body, fn, 2)
        lines += fn.lines or ["        pass"]
        lines += ["    except _Break:", "        pass", "    finally:", "        R.depth -= 1"]
        for i, p in enumerate(macro.params):
            lines += [f"        if s{i} is _MISSING:", f"            v.pop({p!r}, None)",
                      "        else:", f"            v[{p!r}] = s{i}"]
        lines += ["    if n > _MAXOUT:", "        raise _limit(0, 0, n)", "    return n"]
        self.helpers.append(lines)

    # ---- statements -----------------------------------------------------------------------

    def block(self, stmts: tuple[n.Stmt, ...], fn: _Fn, depth: int) -> None:
        ind = "    " * depth
        items = _runs(_fold(stmts))
        # the text written once per run of the block, counted at once (with the first run's
        # length when the block starts with one: nothing runs in between)
        static = sum(len(s.text) for s in items if isinstance(s, n.Text))
        start = len(fn.lines)
        first_run = bool(items) and isinstance(items[0], list)
        if static and not first_run:
            fn.lines.append(f"{ind}n += {static}")
        for i, item in enumerate(items):
            if isinstance(item, list):
                self.joined(item, fn, depth, static if i == 0 else 0)
            else:
                self.stmt(item, fn, depth)
        if len(fn.lines) == start:
            fn.lines.append(f"{ind}pass")

    def joined(self, run: list[_Piece], fn: _Fn, depth: int, static: int) -> None:
        """Text, references and choices of text next to each other, written as one
        f-string: one append and one count instead of one of each per piece (~1k
        instructions a loop iteration of the reference pair). Each reference and condition
        is still evaluated in order, before the next; none can stop the render (``_runs``),
        so the output is the same."""
        ind = "    " * depth
        parts: list[str] = []
        for s in run:
            if isinstance(s, n.Text):
                parts.append(_fstring_text(s.text))
                continue
            t = self._name("_t")
            if isinstance(s, n.If):
                choice = "".join(f"{_texts(body)!r} if {self.cond(cond, fn)} else "
                                 for cond, body in s.branches)
                fn.lines.append(f"{ind}{t} = ({choice}{_texts(s.orelse or ())!r})")
                parts.append("{" + t + "}")
                continue
            fn.lines.append(f"{ind}{t} = {self.expr(s.expr, fn)}")
            if self._text_or_null(s.expr):
                fn.lines += [f"{ind}if {t} is None:", f"{ind}    {t} = ''"]
            else:  # the f-string prints an int as str() does
                fn.lines += [f"{ind}if type({t}) is not str and type({t}) is not int:",
                             f"{ind}    {t} = _tostr({t})"]
            parts.append("{" + t + "}")
        j = self._name("_j")
        fn.lines += [f"{ind}{j} = f'{''.join(parts)}'",
                     f"{ind}n += len({j}) + {static}" if static else f"{ind}n += len({j})",
                     f"{ind}a({j})"]

    def stmt(self, s: n.Stmt, fn: _Fn, depth: int) -> None:
        ind = "    " * depth
        out = fn.lines
        if isinstance(s, n.Text):
            out.append(f"{ind}a({s.text!r})")
        elif isinstance(s, n.Output):
            t = self._name("_t")
            out += [f"{ind}{t} = {self.expr(s.expr, fn)}",
                    f"{ind}if type({t}) is not str:",
                    f"{ind}    {t} = str({t}) if type({t}) is int else _tostr({t})",
                    f"{ind}n += len({t})",
                    f"{ind}a({t})"]
        elif isinstance(s, n.Set):
            self.set(s, fn, depth)
        elif isinstance(s, n.If):
            for i, (cond, body) in enumerate(s.branches):
                out.append(f"{ind}{'if' if i == 0 else 'elif'} {self.cond(cond, fn)}:")
                self.block(body, fn, depth + 1)
            if s.orelse is not None:
                out.append(f"{ind}else:")
                self.block(s.orelse, fn, depth + 1)
        elif isinstance(s, n.Foreach):
            self.foreach(s, fn, depth)
        elif isinstance(s, n.Break):
            out.append(f"{ind}break" if fn.loops else f"{ind}raise _Break()")
        elif isinstance(s, n.Stop):
            out.append(f"{ind}raise _Stop()")
        elif isinstance(s, n.MacroDef):
            pass  # compiled once, as a nested function
        elif isinstance(s, n.MacroCall):
            macro = self.macros.get(s.name)
            if macro is None:
                # Velocity prints a call of an unknown macro as it was written
                out += [f"{ind}n += {len(s.text)}", f"{ind}a({s.text!r})"]
            else:
                label, definition = macro
                args = [self.expr(e, fn) for e in s.args[:len(definition.params)]]
                out.append(f"{ind}n += {label}({', '.join(['a', *args])})")
        elif isinstance(s, n.Unsupported):
            out.append(f"{ind}raise _unsupported({s.name!r})")
        else:  # pragma: no cover - the parser makes no other statement
            raise self.error("unknown statement", 0)

    def set(self, s: n.Set, fn: _Fn, depth: int) -> None:
        ind = "    " * depth
        t = self._name("_t")
        # Velocity 1.7 (directive.set.null.allowed=false): a null right side assigns nothing
        fn.lines += [f"{ind}{t} = {self.expr(s.value, fn)}", f"{ind}if {t} is not None:"]
        target = s.target
        if isinstance(target, n.Var):
            if target.name in self.fixed_roots:
                raise self.error(f"${target.name} cannot be assigned", s.pos)
            fn.lines.append(f"{ind}    {self._put(target.name, t)}")
        elif isinstance(target, n.Prop):
            fn.lines.append(f"{ind}    _setprop({self.expr(target.obj, fn)}, {target.name!r}, {t})")
        elif isinstance(target, n.Index):
            fn.lines.append(
                f"{ind}    _setidx({self.expr(target.obj, fn)}, {self.expr(target.key, fn)}, {t})")
        else:  # pragma: no cover - the parser rejects other targets
            raise self.error("#set needs a reference on the left", s.pos)

    def foreach(self, s: n.Foreach, fn: _Fn, depth: int) -> None:
        ind = "    " * depth
        k = self._name("")
        it, i, x, fe = f"_it{k}", f"_i{k}", f"_x{k}", f"_fe{k}"
        out = fn.lines
        out += [f"{ind}{it} = {self.expr(s.iterable, fn)}",
                f"{ind}if type({it}) is not list:",  # a JSON array walks as it is
                f"{ind}    {it} = _iter({it})",
                f"{ind}if {it} is not None:"]
        ind2 = ind + "    "
        # the loop variable lives in a Python local while nothing in the body can rebind it
        # (no #set of it, no macro call, no inner loop over the same name); then nothing reads
        # it by name either, so it is neither stored in v each iteration nor saved and put
        # back (Velocity's restore after the loop leaves v as it was: the same) -- ~1 us of
        # the reference pair's loops
        rebinds = any(
            (isinstance(node, n.Set) and isinstance(node.target, n.Var)
             and node.target.name == s.var)
            or isinstance(node, n.MacroCall)
            or (isinstance(node, n.Interpolated)
                and not all(isinstance(b, n.Text | n.Output) for b in node.body))
            or (isinstance(node, n.Foreach) and node.var == s.var)
            for node in _walk(s.body))
        loop_names = self.loop_names if self.foreach_objects else self.loop_names - {"foreach"}
        saved = [s.var, *sorted(loop_names)] if rebinds else sorted(loop_names)
        last = f"_l{k}"  # the last index: $foreach.hasNext is i < last
        for j, name in enumerate(saved):
            out.append(f"{ind2}_s{k}_{j} = {self._saved(name)}")
        out.append(f"{ind2}{last} = len({it}) - 1")
        if self.foreach_objects:
            out.append(f"{ind2}{fe} = _FE({last} + 1)")
            if "foreach" in self.loop_names:
                out.append(f"{ind2}{self._put('foreach', fe)}")
        # zip with a range of MAX_FOREACH stops the loop there without a test per iteration
        out.append(f"{ind2}for {i}, {x} in zip(_LOOPS, {it}):")
        if self.counts_steps:
            out += [f"{ind2}    R.steps += 1",
                    f"{ind2}    if R.steps > _MAXSTEPS or n > _MAXOUT:",
                    f"{ind2}        raise _limit(R.steps, 0, n)"]
        else:
            # the limit as a literal: a constant load, not a global one, each iteration
            out += [f"{ind2}    if n > {MAX_OUTPUT}:", f"{ind2}        raise _limit(0, 0, n)"]
        if rebinds:
            out.append(f"{ind2}    {self._put(s.var, x)}")
        if self.foreach_objects:
            out.append(f"{ind2}    {fe}.i = {i}")
        if "velocityCount" in self.loop_names:
            out.append(f"{ind2}    {self._put('velocityCount', f'{i} + 1')}")
        if "velocityHasNext" in self.loop_names:
            out.append(f"{ind2}    {self._put('velocityHasNext', f'{i} + 1 < len({it})')}")
        reads = sum(1 for node in _walk(s.body) if isinstance(node, n.Prop)
                    and isinstance(node.obj, n.Var) and node.obj.name == s.var)
        if not rebinds and reads > 1:  # $item.a, $item.b: whether $item is a map, asked once
            out.append(f"{ind2}    _d{k} = type({x}) is dict")
            fn.dict_flags[x] = f"_d{k}"
        fn.loops += 1
        fn.foreach.append((last, i))
        outer = fn.local_vars.get(s.var)
        if rebinds:
            fn.local_vars.pop(s.var, None)
        else:
            fn.local_vars[s.var] = x
        self.block(s.body, fn, depth + 2)
        if outer is None:
            fn.local_vars.pop(s.var, None)
        else:
            fn.local_vars[s.var] = outer
        fn.foreach.pop()
        fn.loops -= 1
        # Velocity puts back what the loop variables held before the loop
        for j, name in enumerate(saved):
            out += self._restore(name, f"_s{k}_{j}", ind2)

    # ---- expressions ----------------------------------------------------------------------

    def cond(self, e: n.Expr, fn: _Fn) -> str:
        code = self.expr(e, fn)
        if self._is_bool(e) or (isinstance(e, n.Prop) and e.name in _FOREACH_BOOLS
                                and self._foreach_inline(e, fn)):
            return code
        t = self._name("_t")
        return f"(({t} := {code}) is not None and {t} is not False)"

    def _foreach_inline(self, e: n.Prop, fn: _Fn) -> bool:
        """Whether ``$foreach.name`` reads the innermost loop's Python locals."""
        return (isinstance(e.obj, n.Var) and e.obj.name == "foreach" and bool(fn.foreach)
                and "foreach" not in self.assigned and e.name in _FOREACH_PROPS)

    def _is_bool(self, e: n.Expr) -> bool:
        return (isinstance(e, n.Binary) and e.op in _BOOL_OPS) or (
            isinstance(e, n.Unary) and e.op == "!") or (
            isinstance(e, n.Literal) and type(e.value) is bool)

    def expr(self, e: n.Expr, fn: _Fn) -> str:
        if isinstance(e, n.Literal):
            if type(e.value) is float:
                return self._const("_F", e.value)
            return repr(e.value)
        if isinstance(e, n.Var):
            fixed = self.fixed_roots.get(e.name) or fn.local_vars.get(e.name)
            if fixed is not None:
                if fixed == "I":  # $input as a value: the Input object
                    self.needs_input_object = True
                return fixed
            if e.name == "velocityCount" and fn.foreach and e.name not in self.assigned:
                return f"({fn.foreach[-1][1]} + 1)"
            if e.name == "foreach":
                self.needs_foreach_objects = True
            return self._get(e.name)
        if isinstance(e, n.Prop):
            if self._foreach_inline(e, fn):
                return _FOREACH_PROPS[e.name].format(last=fn.foreach[-1][0],
                                                     i=fn.foreach[-1][1])
            if isinstance(e.obj, n.Var) and self.fixed_roots.get(e.obj.name) == "I" \
                    and e.name == "body":
                return "_text(I)" if self.inline_input else "I.body()"
            names = _context_chain(e, self.fixed_roots)
            if names is not None:
                return f"C.path({'.'.join(names)!r}, {names!r})"
            obj = self.expr(e.obj, fn)
            if obj.isidentifier():  # a local: read twice rather than held (~0.1k a read)
                is_dict = fn.dict_flags.get(obj) or f"type({obj}) is dict"
                return f"({obj}.get({e.name!r}) if {is_dict} else _prop({obj}, {e.name!r}))"
            t = self._name("_t")
            return (f"({t}.get({e.name!r}) if type({t} := {obj}) is dict "
                    f"else _prop({t}, {e.name!r}))")
        if isinstance(e, n.Call):
            return self.call(e, fn)
        if isinstance(e, n.Index):
            return f"_idx({self.expr(e.obj, fn)}, {self.expr(e.key, fn)})"
        if isinstance(e, n.Unary):
            if e.op == "!":
                return f"(not {self.cond(e.operand, fn)})"
            return f"_neg({self.expr(e.operand, fn)})"
        if isinstance(e, n.Binary):
            return self.binary(e, fn)
        if isinstance(e, n.ListLit):
            return f"_JList([{', '.join(self.expr(i, fn) for i in e.items)}])"
        if isinstance(e, n.MapLit):
            pairs = ", ".join(f"({self.expr(k, fn)}, {self.expr(v, fn)})" for k, v in e.pairs)
            return f"_JMap(({pairs}{',' if len(e.pairs) == 1 else ''}))"
        if isinstance(e, n.RangeLit):
            return f"_range({self.expr(e.low, fn)}, {self.expr(e.high, fn)})"
        if isinstance(e, n.Interpolated):
            return self.interpolated(e, fn)
        raise self.error("unknown expression", 0)  # pragma: no cover

    def binary(self, e: n.Binary, fn: _Fn) -> str:
        left, right = self.expr(e.left, fn), self.expr(e.right, fn)
        op = e.op
        if op == "&&":
            return f"({self.cond(e.left, fn)} and {self.cond(e.right, fn)})"
        if op == "||":
            return f"({self.cond(e.left, fn)} or {self.cond(e.right, fn)})"
        if op == "==":
            return f"_eq({left}, {right})"
        if op == "!=":
            return f"(not _eq({left}, {right}))"
        if op in ("<", ">", "<=", ">="):
            return f"_cmp({op!r}, {left}, {right})"
        if op == "+":
            return f"_add({left}, {right})"
        return f"_arith({op!r}, {left}, {right})"

    def _text_or_null(self, e: n.Expr) -> bool:
        """Whether ``e`` is a $util call that yields a string or null."""
        return (isinstance(e, n.Call) and isinstance(e.obj, n.Var) and len(e.args) == 1
                and self.fixed_roots.get(e.obj.name) == "U"
                and e.name in ("escapeJavaScript", "urlEncode", "urlDecode", "base64Encode",
                               "base64Decode"))

    def call(self, e: n.Call, fn: _Fn) -> str:
        root = self.fixed_roots.get(e.obj.name) if isinstance(e.obj, n.Var) else None
        args = e.args
        if root == "I" and e.name in ("path", "json") and len(args) == 1 \
                and isinstance(args[0], n.Literal) and isinstance(args[0].value, str):
            try:
                path = compile_path(args[0].value)
            except ValueError as err:
                raise self.error(str(err), args[0].pos) from None
            if not self.inline_input:
                if e.name == "path" and path.simple == ():  # $input.path('$'): the body
                    return "I.root()"
                method = "path_c" if e.name == "path" else "json_c"
                return f"I.{method}({self._const('_P', path)})"
            body = "(_r if _r is not _UNPARSED else (_r := _parse(I)))"
            if e.name == "json":
                return f"_found_json({self._const('_P', path)}.find({body}))"
            if path.simple is None or not all(type(k) is str for k in path.simple):
                return f"{self._const('_P', path)}.find({body})"
            # names only: JsonPath.find's walk written out (parsed JSON has plain dicts)
            code = body
            for key in path.simple:
                t = self._name("_t")
                code = f"({t}.get({key!r}) if type({t} := {code}) is dict else None)"
            return code
        if root == "I" and e.name == "params" and len(args) <= 1:
            self.needs_input_object = True
            return f"I.param({self.expr(args[0], fn)})" if args else "I.params()"
        if root == "U" and len(args) == 1 and e.name == "escapeJavaScript":
            return f"_esc({self.expr(args[0], fn)})"  # the most called: no Util in between
        if root == "U" and len(args) == 1 and e.name in (
                "escapeJavaScript", "parseJson", "urlEncode", "urlDecode", "base64Encode",
                "base64Decode"):
            return f"U.{e.name}({self.expr(args[0], fn)})"
        if e.name == "size" and not args:  # $list.size(): the length, no method lookup
            t = self._name("_t")
            return f"(len({t}) if type({t} := {self.expr(e.obj, fn)}) is list " \
                   f"else _call({t}, 'size', ()))"
        arglist = ", ".join(self.expr(a, fn) for a in args)
        if len(args) == 1:
            arglist += ","
        return f"_call({self.expr(e.obj, fn)}, {e.name!r}, ({arglist}))"

    def interpolated(self, e: n.Interpolated, fn: _Fn) -> str:
        if _simple_string(e):
            parts = [repr(s.text) if isinstance(s, n.Text) else self.expr(s.expr, fn)
                     for s in e.body if isinstance(s, n.Text | n.Output)]
            return f"_interp(({', '.join(parts)},))"
        # directives inside a string: render it with a function of its own
        label = self._name("_c")
        fn = _Fn()
        self.block(e.body, fn, 1)
        self.helpers.append([f"def {label}():", "    o = []", "    a = o.append",
                             "    n = 0", *fn.lines, "    return _checked(''.join(o))"])
        return f"{label}()"
