"""Java's string library where Python's differs: java.util.regex patterns and replacement
strings, String.split, String.trim, Integer.parseInt, Double.parseDouble, URLEncoder,
URLDecoder and commons-lang StringEscapeUtils.escapeJavaScript (what $util.escapeJavaScript
is on AWS: its documentation says it turns ' into \\').

Errors Java would throw (a bad pattern, a bad number) are raised as ValueError or IndexError,
which the render turns into AWS's 500; a wrong argument type is a TypeError, which the method
dispatch treats as Velocity does a method it cannot find (the call yields null).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from urllib.parse import quote_plus

_JAVA_CLASSES = {
    "Lower": "a-z", "Upper": "A-Z", "ASCII": "\\x00-\\x7f", "Alpha": "a-zA-Z",
    "Digit": "0-9", "Alnum": "a-zA-Z0-9", "Punct": "!-/:-@\\[-`{-~", "Graph": "!-~",
    "Print": " -~", "Blank": " \\t", "Cntrl": "\\x00-\\x1f\\x7f", "XDigit": "0-9a-fA-F",
    "Space": " \\t\\n\\x0b\\f\\r", "javaLowerCase": "a-z", "javaUpperCase": "A-Z",
    "L": "^\\W\\d_", "IsAlphabetic": "^\\W\\d_", "IsLetter": "^\\W\\d_", "N": "\\d",
    "IsDigit": "\\d",
}


@functools.lru_cache(maxsize=256)
def java_regex(pattern: str) -> re.Pattern[str]:
    """Compile a java.util.regex pattern with Python's re (the common subset, plus \\Q..\\E,
    (?<name>...), \\p{Class} and \\z)."""
    out: list[str] = []
    i, n = 0, len(pattern)
    while i < n:
        c = pattern[i]
        if c == "\\" and i + 1 < n:
            d = pattern[i + 1]
            if d == "Q":
                end = pattern.find("\\E", i + 2)
                lit = pattern[i + 2:] if end < 0 else pattern[i + 2:end]
                out.append(re.escape(lit))
                i = n if end < 0 else end + 2
                continue
            if d in "pP" and i + 2 < n and pattern[i + 2] == "{":
                end = pattern.find("}", i + 3)
                name = pattern[i + 3:end] if end > 0 else ""
                name = name[2:] if name.startswith("Is") and name[2:] in _JAVA_CLASSES else name
                body = _JAVA_CLASSES.get(name)
                if body is None:
                    raise ValueError(f"unsupported character class \\{d}{{{name}}}")
                negate = d == "P"
                if body.startswith("^"):
                    negate = not negate
                    body = body[1:]
                out.append("[" + ("^" if negate else "") + body + "]")
                i = end + 1
                continue
            if d == "z":
                out.append("\\Z")
                i += 2
                continue
            if d == "Z":
                out.append("(?=\\n?\\Z)")
                i += 2
                continue
            if d == "h":
                out.append("[ \\t\\xa0\\u1680\\u180e\\u2000-\\u200a\\u202f\\u205f\\u3000]")
                i += 2
                continue
            out.append(pattern[i:i + 2])
            i += 2
            continue
        if pattern.startswith("(?<", i) and i + 3 < n and pattern[i + 3] not in "=!":
            out.append("(?P<")
            i += 3
            continue
        out.append(c)
        i += 1
    return re.compile("".join(out))


def _group(m: re.Match[str], ref: str | int) -> str | None:
    if isinstance(ref, int):
        # Java reads as many digits as name an existing group: $12 with one group is $1 "2"
        digits = str(ref)
        while len(digits) > 1 and int(digits) > (m.re.groups or 0):
            digits = digits[:-1]
        number = int(digits)
        if number > (m.re.groups or 0):
            raise IndexError(f"No group {number}")
        g = m.group(number)
        rest = str(ref)[len(digits):]
        return (g or "") + rest
    return m.group(ref)


def replace_all(s: str, regex: str, replacement: str, count: int = 0,
                limit: int = 10 * 1024 * 1024) -> str:
    """Matcher.replaceAll (or replaceFirst with count=1); a result longer than ``limit``
    raises ValueError before it is built."""
    pattern = java_regex(regex)
    expand = _replacement(replacement)
    if (len(s) + 1) * (len(replacement) + 1) <= limit:
        return pattern.sub(expand, s, count=count)
    grown = [len(s)]

    def bounded(m: re.Match[str]) -> str:
        r = expand(m)
        grown[0] += len(r) - (m.end() - m.start())
        if grown[0] > limit:
            raise ValueError("string too large")
        return r

    return pattern.sub(bounded, s, count=count)


@functools.lru_cache(maxsize=256)
def _replacement(replacement: str) -> Callable[[re.Match[str]], str]:
    parts: list[tuple[bool, str | int]] = []  # (is_group, literal text or group ref)
    lit: list[str] = []
    i, n = 0, len(replacement)

    def push_lit() -> None:
        if lit:
            parts.append((False, "".join(lit)))
            lit.clear()

    while i < n:
        c = replacement[i]
        if c == "\\":
            i += 1
            if i >= n:
                raise ValueError("character to be escaped is missing")
            lit.append(replacement[i])
            i += 1
        elif c == "$":
            i += 1
            if i >= n:
                raise ValueError("Illegal group reference: group index is missing")
            push_lit()
            if replacement[i] == "{":
                end = replacement.find("}", i)
                if end < 0:
                    raise ValueError("named capturing group is missing trailing '}'")
                parts.append((True, replacement[i + 1:end]))
                i = end + 1
                continue
            if not replacement[i].isdigit():
                raise ValueError("Illegal group reference")
            j = i + 1
            while j < n and replacement[j].isdigit():
                j += 1
            parts.append((True, int(replacement[i:j])))
            i = j
        else:
            lit.append(c)
            i += 1
    push_lit()
    if not any(is_group for is_group, _ in parts):
        text = "".join(str(p) for _, p in parts)
        return lambda m: text

    def expand(m: re.Match[str]) -> str:
        out: list[str] = []
        for is_group, p in parts:
            if is_group:
                out.append(_group(m, p) or "")
            else:
                assert isinstance(p, str)
                out.append(p)
        return "".join(out)

    return expand


def split(s: str, regex: str, limit: int = 0) -> list[str]:
    """Pattern.split as Java 8+ does it: limit 0 drops trailing empty strings, and a
    zero-width match at the start makes no leading empty string."""
    pattern = java_regex(regex)
    out: list[str] = []
    index = 0
    for m in pattern.finditer(s):
        if limit <= 0 or len(out) < limit - 1:
            if index == 0 and m.start() == 0 and m.end() == 0:
                continue
            out.append(s[index:m.start()])
            index = m.end()
        elif len(out) == limit - 1:
            break
    if index == 0:
        return [s]
    out.append(s[index:])
    if limit == 0:
        while out and out[-1] == "":
            out.pop()
    return out


_TRIM = "".join(chr(i) for i in range(33))


def trim(s: str) -> str:
    return s.strip(_TRIM)


def parse_int(s: str, bits: int = 32) -> int:
    if not isinstance(s, str):
        raise TypeError
    body = s[1:] if s[:1] in "+-" else s
    if not body or not all(c.isdigit() for c in body):
        raise ValueError(f'For input string: "{s}"')
    value = int(s)
    if not -(2 ** (bits - 1)) <= value < 2 ** (bits - 1):
        raise ValueError(f'For input string: "{s}"')
    return value


_DOUBLE = re.compile(
    r"[+-]?(NaN|Infinity|((\d+\.?\d*|\.\d+)([eE][+-]?\d+)?)[fFdD]?)"
)


def parse_double(s: str) -> float:
    if not isinstance(s, str):
        raise TypeError
    t = trim(s)
    if not _DOUBLE.fullmatch(t):
        raise ValueError(f'For input string: "{s}"')
    t = t.rstrip("fFdD") if t[-1:] in "fFdD" and "Infinity" not in t else t
    return float(t.replace("Infinity", "inf"))


def escape_javascript(s: str) -> str:
    """commons-lang StringEscapeUtils.escapeJavaScript: ' " \\ / and \\b \\f \\n \\r \\t
    escaped with a backslash, other controls and everything above 0x7e as \\uXXXX (upper-case
    hex, UTF-16 code units)."""
    # printable ASCII, the common case, is escaped before this is called
    # (proxy.vtl._apigw.escape_javascript: a str.replace per character present)
    if len(s) <= 24:
        # a name: one translate, ~0.6k instructions a character, where the regex calls back
        # for each character to escape at ~10k a call (callgrind: 6.7k against 11.7k for
        # 'Zoë Byrne'); a longer text is scanned by the regex
        return s.translate(_TABLE)
    if s.isascii():
        return s.translate(_ASCII_ESCAPES)
    return _ESCAPE_ANY.sub(_escape_one, s)


_ESCAPE_ANY = re.compile(r"['\"\\/\x00-\x1f]|[^\x00-\x7f]")
_SHORT = {"'": "\\'", '"': '\\"', "\\": "\\\\", "/": "\\/", "\b": "\\b", "\f": "\\f",
          "\n": "\\n", "\r": "\\r", "\t": "\\t"}


_ASCII_ESCAPES = {c: f"\\u{c:04X}" for c in range(0x20)}
_ASCII_ESCAPES.update({ord(c): e for c, e in _SHORT.items()})


def _escape_one(m: re.Match[str]) -> str:
    c = m.group()
    short = _SHORT.get(c)
    if short is not None:
        return short
    return _unicode_escape(ord(c))


def _unicode_escape(code: int) -> str:
    if code > 0xFFFF:  # UTF-16 code units, as Java's chars
        code -= 0x10000
        return f"\\u{0xD800 + (code >> 10):04X}\\u{0xDC00 + (code & 0x3FF):04X}"
    return f"\\u{code:04X}"


_TABLE_MAX = 4096


class _Table(dict[int, str]):
    """Every character's escape for ``str.translate``: ASCII's filled in, each other
    character's made when first met and kept (up to ``_TABLE_MAX`` of them)."""

    __slots__ = ()

    def __missing__(self, code: int) -> str:
        escaped = _unicode_escape(code)
        if len(self) < _TABLE_MAX:
            self[code] = escaped
        return escaped


_TABLE = _Table({c: chr(c) for c in range(0x80)})
_TABLE.update(_ASCII_ESCAPES)


def url_encode(s: str) -> str:
    # java.net.URLEncoder (UTF-8): letters, digits and . - * _ stay, space is +; Python's
    # quote_plus also keeps ~, which Java encodes
    return quote_plus(s, safe="*").replace("~", "%7E")


def url_decode(s: str) -> str:
    # java.net.URLDecoder: + is space, %XX bytes are UTF-8, a malformed escape throws
    out = bytearray()
    i, n = 0, len(s)
    while i < n:
        c = s[i]
        if c == "+":
            out += b" "
            i += 1
        elif c == "%":
            while i < n and s[i] == "%":
                h = s[i + 1:i + 3]
                if len(h) < 2 or not all(ch in "0123456789abcdefABCDEF" for ch in h):
                    raise ValueError(
                        "URLDecoder: Illegal hex characters in escape (%) pattern")
                out.append(int(h, 16))
                i += 3
        else:
            out += c.encode()
            i += 1
    return out.decode("utf-8", errors="replace")
