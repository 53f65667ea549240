"""The shapes the VTL compiler gives a template for speed, each against what Velocity does:
$foreach read inline or as an object, loops bounded without counting steps where the limit
cannot be reached, text and references written as one string (and #ifs that only choose a
text with them), short text moved into #if branches, variables as Python locals, $input read
without an Input object, a payload given as bytes, $context read by a mapping's own
``vtl_path``, and escapeJavaScript's table for short non-ASCII strings. Each case names the
output Velocity gives; a case that compiles to the other shape gives the same."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from proxy.vtl import (
    BAD_REQUEST_BODY,
    Inputs,
    Overrides,
    TemplateRuntimeError,
    compile_template,
    walk_context,
)
from proxy.vtl._javastr import _ESCAPE_ANY, _TABLE, _TABLE_MAX, _escape_one, escape_javascript
from proxy.vtl._limits import MAX_FOREACH, MAX_STEPS


def r(template: str, body: str | bytes = "", **kw: Any) -> str:
    return compile_template(template).render_text(
        body, Inputs(**kw), kw.get("context", {}), {}, Overrides())


def source(template: str) -> str:
    return compile_template(template).python_source


# ---- $foreach -------------------------------------------------------------------------------

@pytest.mark.parametrize(("template", "expected", "as_object"), [
    # read only as properties inside its loop: locals, no ForeachState
    ("#foreach($i in [1, 2, 3])$i#if($foreach.hasNext),#end#end", "1,2,3", False),
    ("#foreach($i in [1, 2])$foreach.index$foreach.count$foreach.first$foreach.last;#end",
     "01truefalse;12falsetrue;", False),
    ("#foreach($i in [])$foreach.hasNext#end", "", False),
    # read as a value, by a method, or from a macro: the object
    ("#foreach($i in [1, 2])$foreach.hasNext()#end", "truefalse", True),
    ("#foreach($i in [1, 2])#set($f = $foreach)$f.index#end", "01", True),
    ("#macro(m)$foreach.index#end#foreach($i in [1, 2])#m()#end", "01", True),
    ("$foreach.hasNext#foreach($i in [1])x#end", "x", True),
])
def test_foreach_inline_or_as_an_object(template: str, expected: str, as_object: bool) -> None:
    assert r(template) == expected
    assert ("_FE(" in source(template)) is as_object


def test_loops_stop_at_max_foreach_whether_or_not_steps_are_counted() -> None:
    over = f"[1..{MAX_FOREACH + 200}]"
    assert r(f"#foreach($i in {over})x#end") == "x" * MAX_FOREACH
    assert "R.steps" not in source(f"#foreach($i in {over})x#end")
    # with a macro the steps are counted; the loop stops at the same place
    counted = f"#macro(m)#end#foreach($i in {over})x#end"
    assert "R.steps" in source(counted)
    assert r(counted) == "x" * MAX_FOREACH


def test_more_loops_than_max_steps_allows_still_fail() -> None:
    loops = MAX_STEPS // MAX_FOREACH + 1
    template = f"#foreach($i in [1..{MAX_FOREACH}])#{{end}}" * loops
    assert "R.steps" in source(template)
    with pytest.raises(TemplateRuntimeError, match="loop iterations"):
        r(template)
    # one loop fewer fits, and nothing counts its steps
    fits = f"#foreach($i in [1..{MAX_FOREACH}])#{{end}}" * (loops - 1) + "done"
    assert "R.steps" not in source(fits)
    assert r(fits) == "done"


# ---- text, references and choices written together ------------------------------------------

@pytest.mark.parametrize(("template", "expected"), [
    ("{$s}", "{abc}"),
    # \$s is Velocity's escaped reference: printed as written
    ("{{$s}}'$s'\"$s\"\\$s\\", "{{abc}}'abc'\"abc\"$s\\"),
    ("a\nb\t$s\r\n", "a\nb\tabc\r\n"),
    ("$n|$b|$f|$x|$l|$m|$nope|$!nope.", "7|true|1.5|[1, 2]|[a, 'b']|{k=v}||."),
    ("$big", str(2 ** 70)),
    ("#if($n > 3)big#{else}small#end[$s]#if($nope)x#elseif($b)y#end", "big[abc]y"),
    ("#if($n < 3)big#{else}small#end}", "small}"),
])
def test_runs_print_as_velocity_does(template: str, expected: str) -> None:
    prelude = ("#set($s = 'abc')#set($n = 7)#set($b = true)#set($f = 1.5)#set($x = [1, 2])"
               "#set($l = ['a', \"'b'\"])#set($m = {'k': 'v'})#set($big = 1180591620717411303424)")
    assert r(prelude + template) == expected


def test_conditions_in_a_run_are_evaluated_in_order() -> None:
    assert r("#set($l = [])#if($l.add(1))x#end$l.size()#if($l.add(2))y#{else}z#end$l") == \
        "x1y[1, 2]"


def test_a_stop_inside_a_string_leaves_the_text_before_it() -> None:
    # the "string" with a directive is a function of its own: it ends the run, so what came
    # before it is written when it stops the render
    assert r("#set($s = 'a')before $s.concat(\"#stop\") after") == "before "
    assert r("#foreach($i in [1, 2])<$i$i.toString().concat(\"#break\")>#end|") == "<1"


def test_text_after_an_if_that_can_stop_or_break_stays_after_it() -> None:
    assert r("#foreach($i in [1, 2, 3])#if($i == 2)#break#end,#end") == ","
    assert r("#if(true)a#stop#end}") == "a"
    # one that cannot: the text goes into every branch, the output is the same
    assert r("#foreach($i in [1, 2])#if($i == 1)#set($x = 'one')#{else}two#end}#end") == \
        "}two}"


# ---- variables as locals or in a map --------------------------------------------------------

@pytest.mark.parametrize("macro", ["", "#macro(unused)#end"])
def test_variables_are_restored_after_a_loop_either_way(macro: str) -> None:
    template = macro + "#set($x = 1)#foreach($x in [5, 6])$x#end$x#foreach($y in [7])$y#end$y"
    assert ("v = {" in source(template)) is bool(macro)
    assert r(template) == "5617"


# ---- $input without an Input object ---------------------------------------------------------

BODY = '{"a": {"b": "x", "l": [1, {"c": 2}]}, "s": "str"}'


@pytest.mark.parametrize(("template", "expected"), [
    ("$input.path('$.a.b')", "x"),
    ("$input.path('$.a.l[1].c')", "2"),
    ("$input.path('$.s.x')|$input.path('$.a.l.c')|$input.path('$.nope.x')", "||"),
    ("$input.json('$.a.l')|$input.json('$.nope')", '[1,{"c":2}]|""'),
    ("#set($r = $input.path('$'))$r.s", "str"),
    ("$input.body", BODY),
])
def test_input_read_inline(template: str, expected: str) -> None:
    compiled = source(template)  # I is the payload itself: parsed or decoded in _render
    assert "_parse(I)" in compiled or "_text(I)" in compiled
    assert r(template, BODY) == expected
    assert r(template, BODY.encode()) == expected


@pytest.mark.parametrize("template", [
    "$input.params('q')|$input.path('$.s')", "#set($i = $input)$i.path('$.s')",
])
def test_input_as_an_object_when_read_otherwise(template: str) -> None:
    assert "_parse(I)" not in source(template)
    assert r(template, BODY, querystring={"q": "1"}).endswith("str")


def test_a_body_that_is_not_json_fails_only_where_a_path_reads_it() -> None:
    assert r("#if(false)$input.path('$.a')#end ok", "not json") == " ok"
    with pytest.raises(TemplateRuntimeError) as failed:
        r("$input.path('$.a')", b"not json")
    assert failed.value.response_type == BAD_REQUEST_BODY
    assert failed.value.message.startswith("Could not parse request body into json: ")


def test_a_payload_given_as_bytes_reads_as_utf8_with_replacement() -> None:
    raw = b'{"name": "Zo\xc3\xab \xff"}'
    assert r("$input.body", raw) == raw.decode("utf-8", "replace")
    # not UTF-8: parsed from the text with U+FFFD, as the decoded text would be
    assert r("$input.path('$.name')", raw) == "Zo\u00eb \ufffd"
    assert r("$input.path('$.name')", raw.replace(b"\xff", b"")) == "Zo\u00eb "
    assert r("$input.body", b"") == "{}"


class _CountingParams:
    """Parameters that say which of them a render asked for."""

    def __init__(self) -> None:
        self.read: list[str] = []

    @property
    def path_params(self) -> Mapping[str, str]:
        self.read.append("path")
        return {"p": "1"}

    @property
    def querystring(self) -> Mapping[str, str]:
        self.read.append("querystring")
        return {"q": "2"}

    @property
    def headers(self) -> Mapping[str, str]:
        self.read.append("headers")
        return {"H": "3"}


def test_parameters_are_read_only_when_a_template_asks() -> None:
    params = _CountingParams()
    compile_template("$input.path('$.s')").render_text(BODY, params, {}, {}, Overrides())
    assert params.read == []
    text = compile_template("$input.params('q')$input.params('h')").render_text(
        BODY, params, {}, {}, Overrides())
    assert text == "23"
    assert params.read == ["path", "querystring", "path", "querystring", "headers"]


# ---- $context by the mapping's own reading --------------------------------------------------

class _FlatContext(dict[str, Any]):
    """A $context mapping with its own ``vtl_path``: the flat reading of a few names."""

    flat = {"requestId": "rid", "identity.sourceIp": "1.2.3.4"}

    def vtl_path(self, dotted: str, names: tuple[str, ...]) -> Any:
        if dotted in self.flat:
            return self.flat[dotted]
        return walk_context(self, dotted, names)


def test_context_read_by_the_mappings_vtl_path_or_walked() -> None:
    nested = {"requestId": "rid", "identity": {"sourceIp": "1.2.3.4"}, "stage": "prod"}
    template = ("$context.requestId|$context.identity.sourceIp|$context.stage|"
                "$context.identity|$context.nope.x|$context.requestId.empty|"
                "$context.get('identity').get('sourceIp')")
    expected = "rid|1.2.3.4|prod|||false|1.2.3.4"
    assert r(template, context=nested) == expected
    assert r(template, context=_FlatContext(nested)) == expected


# ---- escapeJavaScript -----------------------------------------------------------------------

@pytest.mark.parametrize("text", [
    "Zoë Byrne", "é" * 24, "é" * 25, "a\u2028b\u0001c\x7f'\"\\/", "😀 " * 12, "Straße/" * 10,
])
def test_escape_javascript_short_or_long_the_same(text: str) -> None:
    assert escape_javascript(text) == _ESCAPE_ANY.sub(_escape_one, text)


def test_the_escape_table_keeps_a_bounded_number_of_characters() -> None:
    many = "".join(chr(c) for c in range(0x4E00, 0x4E00 + 2 * _TABLE_MAX))
    for start in range(0, len(many), 20):
        chunk = many[start:start + 20]
        assert escape_javascript(chunk) == "".join(f"\\u{ord(c):04X}" for c in chunk)
    assert len(_TABLE) <= _TABLE_MAX
