"""Velocity (1.7, as API Gateway runs it) source to a syntax tree.

A hand-written recursive-descent parser over the source string: text mode finds ``$``
references and ``#`` directives, directive mode parses expressions. Whitespace follows
Velocity 1.7's lexer: ``#set`` takes the spaces and tabs before it, a directive's closing
``)`` and an unbraced ``#else``/``#end`` take the rest of their line (spaces, tabs and one
newline), and ``##`` comments take their newline. Text that is not a directive or a reference
(``#ff0000``, ``$5``) stays text, as in Velocity.
"""

from __future__ import annotations

import re

from proxy.vtl import _nodes as n
from proxy.vtl.errors import TemplateError

_SPECIAL = re.compile(r"[$#\\]")
_IDENT = re.compile(r"[a-zA-Z_][a-zA-Z0-9_-]*")
_WORD = re.compile(r"[a-zA-Z][a-zA-Z0-9_]*")
_DIRECTIVE = re.compile(r"#(?:\{([a-zA-Z][a-zA-Z0-9_-]*)\}|([a-zA-Z][a-zA-Z0-9_-]*))")
_MACRO_NAME = re.compile(r"[a-zA-Z][a-zA-Z0-9_-]*")
_MACRO_DEF = re.compile(r"#\{?macro\}?[ \t]*\([ \t\r\n]*([a-zA-Z][a-zA-Z0-9_-]*)")
_NUMBER = re.compile(r"\d+(\.\d+)?")
_WS = re.compile(r"[ \t\r\n]*")
_LINE_END = re.compile(r"[ \t]*(?:\r\n|\n|\r)")
_BACKSLASHES = re.compile(r"\\+")
_RESERVED = frozenset({
    "if", "else", "elseif", "end", "set", "foreach", "macro", "break", "stop", "include",
    "parse", "evaluate", "define",
})
_WORD_OPS = {"and": "&&", "or": "||", "eq": "==", "ne": "!=", "lt": "<", "gt": ">",
             "le": "<=", "ge": ">="}


def parse(source: str) -> tuple[n.Stmt, ...]:
    macros = {m.group(1) for m in _MACRO_DEF.finditer(source)}
    parser = _Parser(source, 0, len(source), macros)
    body, term, pos = parser.block()
    if term is not None:
        raise parser.error(f"#{term} without a matching #if, #foreach or #macro", pos)
    return body


class _Parser:
    def __init__(self, src: str, pos: int, end: int, macros: set[str],
                 origin: str | None = None, shift: int = 0) -> None:
        self.src = src
        self.pos = pos
        self.end = end
        self.macros = macros
        # an interpolated string parsed from a rewritten copy reports positions in the
        # original source: origin is that source and shift maps copy offsets onto it
        self.origin = origin if origin is not None else src
        self.shift = shift

    # ---- errors ---------------------------------------------------------------------------

    def error(self, message: str, pos: int | None = None) -> TemplateError:
        at = min((self.pos if pos is None else pos) + self.shift, len(self.origin))
        line = self.origin.count("\n", 0, at) + 1
        column = at - (self.origin.rfind("\n", 0, at) + 1) + 1
        return TemplateError(message, line, column)

    # ---- text mode ------------------------------------------------------------------------

    def block(self) -> tuple[tuple[n.Stmt, ...], str | None, int]:
        """Statements up to #end/#else/#elseif (returned as the terminator) or the end."""
        out: list[n.Stmt] = []
        buf: list[str] = []
        buf_pos = self.pos
        src, end = self.src, self.end

        def flush() -> None:
            text = "".join(buf)
            if text:
                out.append(n.Text(buf_pos, text))
            buf.clear()

        while self.pos < end:
            m = _SPECIAL.search(src, self.pos, end)
            if m is None:
                buf.append(src[self.pos:end])
                self.pos = end
                break
            i = m.start()
            if not buf:
                buf_pos = self.pos
            buf.append(src[self.pos:i])
            self.pos = i
            c = src[i]
            if c == "\\":
                self._backslashes(buf)
                continue
            if c == "$":
                start = self.pos
                ref = self._text_reference()
                if ref is None:
                    buf.append("$")
                    self.pos = start + 1
                else:
                    flush()
                    out.append(n.Output(start, ref))
                continue
            # "#"
            if src.startswith("##", i):
                nl = src.find("\n", i, end)
                self.pos = end if nl < 0 else nl + 1
                continue
            if src.startswith("#*", i):
                close = src.find("*#", i + 2, end)
                if close < 0:
                    raise self.error("unclosed #* comment", i)
                self.pos = close + 2
                continue
            if src.startswith("#[[", i):
                close = src.find("]]#", i + 3, end)
                if close < 0:
                    raise self.error("unclosed #[[ block", i)
                buf.append(src[i + 3:close])
                self.pos = close + 3
                continue
            dm = _DIRECTIVE.match(src, i, end)
            if dm is None:
                buf.append("#")
                self.pos = i + 1
                continue
            name = dm.group(1) or dm.group(2)
            braced = dm.group(1) is not None
            after = dm.end()
            if name in ("end", "else", "elseif"):
                if name == "elseif":
                    self.pos = after
                else:
                    self.pos = after
                    if not braced:
                        self._eat_line_end()
                flush()
                return tuple(out), name, i
            if name == "set":
                lp = self._lparen_at(after)
                if lp is None:
                    buf.append(src[i:after])
                    self.pos = after
                    continue
                # Velocity 1.7's #set token takes the spaces and tabs before it
                if buf:
                    buf[-1] = buf[-1].rstrip(" \t")
                flush()
                self.pos = lp + 1
                out.append(self._set(i))
                continue
            if name in ("if", "foreach", "macro", "include", "parse", "evaluate", "define"):
                lp = self._lparen_at(after)
                if lp is None:
                    raise self.error(f"#{name} needs ( after it", after)
                flush()
                self.pos = lp + 1
                out.append(self._directive(name, i))
                continue
            if name in ("break", "stop"):
                flush()
                self.pos = after
                out.append(n.Break(i) if name == "break" else n.Stop(i))
                continue
            if name in self.macros:
                lp = self._lparen_at(after)
                if lp is not None:
                    flush()
                    self.pos = lp + 1
                    out.append(self._macro_call(name, i))
                    continue
            buf.append(src[i:after])
            self.pos = after
        flush()
        return tuple(out), None, self.pos

    def _backslashes(self, buf: list[str]) -> None:
        # Velocity: a run of backslashes before a reference or directive is halved; an odd
        # one left over makes the $ or # literal
        m = _BACKSLASHES.match(self.src, self.pos, self.end)
        assert m is not None
        count = len(m.group())
        nxt = m.end()
        if nxt < self.end and self.src[nxt] in "$#":
            buf.append("\\" * (count // 2))
            if count % 2:
                buf.append(self.src[nxt])
                nxt += 1
            self.pos = nxt
        else:
            buf.append(m.group())
            self.pos = nxt

    def _eat_line_end(self) -> None:
        m = _LINE_END.match(self.src, self.pos, self.end)
        if m is not None:
            self.pos = m.end()

    def _lparen_at(self, pos: int) -> int | None:
        while pos < self.end and self.src[pos] in " \t":
            pos += 1
        return pos if pos < self.end and self.src[pos] == "(" else None

    def _rparen(self, what: str) -> None:
        self._ws()
        if not self._peek(")"):
            raise self.error(f"expected ) to close {what}")
        self.pos += 1
        self._eat_line_end()

    # ---- directives -----------------------------------------------------------------------

    def _set(self, start: int) -> n.Set:
        self._ws()
        if not self._peek("$"):
            raise self.error("#set needs a $reference on the left of =")
        target = self._reference(in_text=False)
        if not isinstance(target, n.Var | n.Prop | n.Index):
            raise self.error("#set needs a $reference (not a method call) on the left of =")
        self._ws()
        if not self._peek("=") or self._peek("=="):
            raise self.error("expected = in #set")
        self.pos += 1
        value = self.expr()
        self._rparen("#set")
        return n.Set(start, target, value)

    def _directive(self, name: str, start: int) -> n.Stmt:
        if name == "if":
            return self._if(start)
        if name == "foreach":
            return self._foreach(start)
        if name == "macro":
            return self._macro_def(start)
        if name == "define":
            self._ws()
            if self._reference(in_text=False) is None:
                raise self.error("#define needs a $reference")
            self._rparen("#define")
            self._body_to_end("#define", start)
            return n.Unsupported(start, name)
        # include, parse, evaluate
        self._ws()
        self.expr()
        self._rparen(f"#{name}")
        return n.Unsupported(start, name)

    def _body_to_end(self, what: str, start: int) -> tuple[n.Stmt, ...]:
        body, term, pos = self.block()
        if term is None:
            raise self.error(f"{what} has no #end", start)
        if term != "end":
            raise self.error(f"#{term} inside {what}", pos)
        return body

    def _if(self, start: int) -> n.If:
        branches: list[tuple[n.Expr, tuple[n.Stmt, ...]]] = []
        orelse: tuple[n.Stmt, ...] | None = None
        cond = self.expr()
        self._rparen("#if")
        while True:
            body, term, pos = self.block()
            if term is None:
                raise self.error("#if has no #end", start)
            branches.append((cond, body))
            if term == "end":
                break
            if term == "else":
                orelse = self._body_to_end("#else", pos)
                break
            lp = self._lparen_at(self.pos)
            if lp is None:
                raise self.error("#elseif needs ( after it", self.pos)
            self.pos = lp + 1
            cond = self.expr()
            self._rparen("#elseif")
        return n.If(start, tuple(branches), orelse)

    def _foreach(self, start: int) -> n.Foreach:
        self._ws()
        m = _IDENT.match(self.src, self.pos + 1, self.end) if self._peek("$") else None
        if m is None:
            raise self.error("#foreach needs a $variable")
        var = m.group()
        self.pos = m.end()
        ws = self._ws()
        if not (ws and self._word() == "in"):
            raise self.error("expected 'in' in #foreach")
        self.pos += 2
        iterable = self.expr()
        self._rparen("#foreach")
        return n.Foreach(start, var, iterable, self._body_to_end("#foreach", start))

    def _macro_def(self, start: int) -> n.MacroDef:
        self._ws()
        m = _MACRO_NAME.match(self.src, self.pos, self.end)
        if m is None:
            raise self.error("#macro needs a name")
        name = m.group()
        if name in _RESERVED:
            raise self.error(f"#{name} is a directive and cannot be a macro name")
        self.pos = m.end()
        params: list[str] = []
        while True:
            self._skip(" \t\r\n,")
            if not self._peek("$"):
                break
            pm = _IDENT.match(self.src, self.pos + 1, self.end)
            if pm is None:
                raise self.error("expected a $parameter name")
            params.append(pm.group())
            self.pos = pm.end()
        self._rparen("#macro")
        body = self._body_to_end(f"#macro {name}", start)
        return n.MacroDef(start, name, tuple(params), body)

    def _macro_call(self, name: str, start: int) -> n.MacroCall:
        args: list[n.Expr] = []
        while True:
            self._skip(" \t\r\n,")
            if self._peek(")") or self.pos >= self.end:
                break
            args.append(self._unary())
        self._rparen(f"the call of #{name}")
        return n.MacroCall(start, name, tuple(args), self.src[start:self.pos])

    # ---- references -----------------------------------------------------------------------

    def _text_reference(self) -> n.Expr | None:
        start = self.pos
        ref = self._reference(in_text=True)
        if ref is None:
            self.pos = start
        return ref

    def _reference(self, *, in_text: bool) -> n.Expr | None:
        """``$name`` with its ``.prop``, ``.method(args)`` and ``[index]`` tail; None (position
        unchanged) when the text is not a reference."""
        src, end = self.src, self.end
        start = self.pos
        i = start + 1
        if i < end and src[i] == "!":
            i += 1
        formal = i < end and src[i] == "{"
        if formal:
            i += 1
        m = _IDENT.match(src, i, end)
        if m is None:
            return None
        expr: n.Expr = n.Var(start, m.group())
        i = m.end()
        while i < end:
            c = src[i]
            if c == "." and (pm := _IDENT.match(src, i + 1, end)) is not None:
                j = pm.end()
                if j < end and src[j] == "(":
                    self.pos = j + 1
                    args = self._args()
                    expr = n.Call(i, expr, pm.group(), args)
                    i = self.pos
                else:
                    expr = n.Prop(i, expr, pm.group())
                    i = j
            elif c == "[":
                self.pos = i + 1
                try:
                    key = self.expr()
                    self._ws()
                    closed = self._peek("]")
                except TemplateError:
                    if not in_text:
                        raise
                    closed = False
                if not closed:
                    if not in_text:
                        raise self.error("expected ] after the index")
                    break
                expr = n.Index(i, expr, key)
                i = self.pos + 1
            else:
                break
        if formal:
            if i < end and src[i] == "}":
                i += 1
            elif in_text:
                return None
            else:
                self.pos = i
                raise self.error("expected } to close ${")
        self.pos = i
        return expr

    def _args(self) -> tuple[n.Expr, ...]:
        args: list[n.Expr] = []
        self._ws()
        if self._peek(")"):
            self.pos += 1
            return ()
        while True:
            args.append(self.expr())
            self._ws()
            if self._peek(","):
                self.pos += 1
                continue
            if self._peek(")"):
                self.pos += 1
                return tuple(args)
            raise self.error("expected , or ) in the argument list")

    # ---- expressions ----------------------------------------------------------------------

    def _peek(self, s: str) -> bool:
        return self.src.startswith(s, self.pos, self.end)

    def _ws(self) -> bool:
        m = _WS.match(self.src, self.pos, self.end)
        assert m is not None
        self.pos = m.end()
        return bool(m.group())

    def _skip(self, chars: str) -> None:
        while self.pos < self.end and self.src[self.pos] in chars:
            self.pos += 1

    def _word(self) -> str | None:
        m = _WORD.match(self.src, self.pos, self.end)
        return m.group() if m else None

    def _op(self, symbols: tuple[str, ...], words: tuple[str, ...]) -> str | None:
        self._ws()
        for s in symbols:
            if self._peek(s):
                # "!=" is not "!" and "==" is not "=": symbols are listed longest first
                self.pos += len(s)
                return s
        w = self._word()
        if w in words:
            self.pos += len(w)
            return _WORD_OPS[w]
        return None

    def expr(self) -> n.Expr:
        self._ws()
        return self._or()

    def _or(self) -> n.Expr:
        left = self._and()
        while (op := self._op(("||",), ("or",))) is not None:
            left = n.Binary(self.pos, op, left, self._and())
        return left

    def _and(self) -> n.Expr:
        left = self._eq()
        while (op := self._op(("&&",), ("and",))) is not None:
            left = n.Binary(self.pos, op, left, self._eq())
        return left

    def _eq(self) -> n.Expr:
        left = self._rel()
        while (op := self._op(("==", "!="), ("eq", "ne"))) is not None:
            left = n.Binary(self.pos, op, left, self._rel())
        return left

    def _rel(self) -> n.Expr:
        left = self._add()
        while (op := self._op(("<=", ">=", "<", ">"), ("le", "ge", "lt", "gt"))) is not None:
            left = n.Binary(self.pos, op, left, self._add())
        return left

    def _add(self) -> n.Expr:
        left = self._mul()
        while (op := self._op(("+", "-"), ())) is not None:
            left = n.Binary(self.pos, op, left, self._mul())
        return left

    def _mul(self) -> n.Expr:
        left = self._unary()
        while (op := self._op(("*", "/", "%"), ())) is not None:
            left = n.Binary(self.pos, op, left, self._unary())
        return left

    def _unary(self) -> n.Expr:
        self._ws()
        start = self.pos
        if self._peek("!") and not self._peek("!="):
            self.pos += 1
            return n.Unary(start, "!", self._unary())
        if self._word() == "not":
            self.pos += 3
            return n.Unary(start, "!", self._unary())
        if self._peek("-"):
            self.pos += 1
            self._ws()
            m = _NUMBER.match(self.src, self.pos, self.end)
            if m is not None:
                return self._number(start, m, negative=True)
            return n.Unary(start, "-", self._unary())
        return self._primary()

    def _number(self, start: int, m: re.Match[str], *, negative: bool = False) -> n.Literal:
        self.pos = m.end()
        text = ("-" if negative else "") + m.group()
        if m.group(1) is not None:
            return n.Literal(start, float(text))
        if len(text) > 400:
            raise self.error("integer literal too long", start)
        return n.Literal(start, int(text))

    def _primary(self) -> n.Expr:
        self._ws()
        start = self.pos
        if self.pos >= self.end:
            raise self.error("expected a value, found the end of the template")
        c = self.src[self.pos]
        if c == "$":
            ref = self._reference(in_text=False)
            if ref is None:
                raise self.error("expected a reference name after $")
            return ref
        if c == "(":
            self.pos += 1
            inner = self.expr()
            self._ws()
            if not self._peek(")"):
                raise self.error("expected )")
            self.pos += 1
            return inner
        if c == "'":
            close = self.src.find("'", self.pos + 1, self.end)
            if close < 0:
                raise self.error("unclosed ' string")
            self.pos = close + 1
            # no escapes in Velocity 1.7 literals: "\\'" stays two backslashes and a quote,
            # which is why AWS's documented .replaceAll("\\'", "'") works
            return n.Literal(start, self.src[start + 1:close])
        if c == '"':
            return self._interpolated()
        if c == "[":
            return self._list()
        if c == "{":
            return self._map()
        m = _NUMBER.match(self.src, self.pos, self.end)
        if m is not None:
            return self._number(start, m)
        w = self._word()
        if w in ("true", "false"):
            self.pos += len(w)
            return n.Literal(start, w == "true")
        if w == "null":
            self.pos += 4
            return n.Literal(start, None)
        raise self.error("expected a value")

    def _interpolated(self) -> n.Expr:
        start = self.pos
        i = start + 1
        src, end = self.src, self.end
        while True:
            j = src.find('"', i, end)
            if j < 0:
                raise self.error('unclosed " string', start)
            if src.startswith('""', j, end):
                i = j + 2
                continue
            # a backslash escapes the quote for the lexer; the backslash stays in the text
            k = j
            while k > start + 1 and src[k - 1] == "\\":
                k -= 1
            if (j - k) % 2:
                i = j + 1
                continue
            break
        self.pos = j + 1
        content = src[start + 1:j]
        if "$" not in content and "#" not in content and "\\" not in content:
            return n.Literal(start, content.replace('""', '"'))
        if '""' in content:
            sub = _Parser(content.replace('""', '"'), 0, len(content.replace('""', '"')),
                          self.macros, self.origin, self.shift + start + 1)
        else:
            sub = _Parser(src, start + 1, j, self.macros, self.origin, self.shift)
        body, term, pos = sub.block()
        if term is not None:
            raise sub.error(f"#{term} without a matching #if, #foreach or #macro", pos)
        if len(body) == 1 and isinstance(body[0], n.Text):
            return n.Literal(start, body[0].text)
        return n.Interpolated(start, body)

    def _list(self) -> n.Expr:
        start = self.pos
        self.pos += 1
        self._ws()
        if self._peek("]"):
            self.pos += 1
            return n.ListLit(start, ())
        first = self.expr()
        self._ws()
        if self._peek(".."):
            self.pos += 2
            high = self.expr()
            self._ws()
            if not self._peek("]"):
                raise self.error("expected ] to close the range")
            self.pos += 1
            return n.RangeLit(start, first, high)
        items = [first]
        while True:
            self._ws()
            if self._peek("]"):
                self.pos += 1
                return n.ListLit(start, tuple(items))
            if not self._peek(","):
                raise self.error("expected , or ] in the list")
            self.pos += 1
            items.append(self.expr())

    def _map(self) -> n.Expr:
        start = self.pos
        self.pos += 1
        pairs: list[tuple[n.Expr, n.Expr]] = []
        self._ws()
        if self._peek("}"):
            self.pos += 1
            return n.MapLit(start, ())
        while True:
            key = self.expr()
            self._ws()
            if not self._peek(":"):
                raise self.error("expected : in the map")
            self.pos += 1
            pairs.append((key, self.expr()))
            self._ws()
            if self._peek("}"):
                self.pos += 1
                return n.MapLit(start, tuple(pairs))
            if not self._peek(","):
                raise self.error("expected , or } in the map")
            self.pos += 1
