"""Random and garbage templates and bodies never crash or hang the engine: compiling raises
only TemplateError, rendering returns text or raises only TemplateRuntimeError, and both
finish fast because every loop, recursion and string is bounded."""

from __future__ import annotations

import json
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from proxy.vtl import Inputs, TemplateError, TemplateRuntimeError, compile_template

TOKENS = [
    "#set(", "#if(", "#elseif(", "#else", "#end", "#{end}", "#foreach(", " in ", "#break",
    "#stop", "#macro(m $a)", "#m(", "#m($a)", "##", "#*", "*#", "#[[", "]]#", "$a", "$!a",
    "${a}", "$a.b", "$a.b()", "$a[0]", "$a['k']", "$input.path('$.a')", "$input.json('$')",
    "$input.path('$..b')", "$input.body", "$input.params()", "$input.params('a')",
    "$util.escapeJavaScript(", "$util.parseJson(", "$util.base64Decode(", "$context.a",
    "$context.requestOverride.header.x", "$stageVariables.a", "$foreach.hasNext",
    "$velocityCount", "$a.substring(", "$a.replaceAll(", "$a.split(", "$a.add($a)",
    "$a.put('k', $a)", "[1..1000]", "[", "]", "{", "}", "(", ")", "'", '"', "=", "==", "!=",
    "<", "&&", "||", "!", "+", "-", "*", "/", "%", ",", ":", "..", "0", "7", "1.5", "true",
    "null", "\\", "\n", " ", "x", "$", "#",
]

garbage_templates = st.one_of(
    st.lists(st.sampled_from(TOKENS), max_size=40).map("".join),
    st.text(max_size=200),
)
bodies = st.one_of(
    st.just(""),
    st.text(max_size=100),
    st.recursive(
        st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats(allow_nan=False)
        | st.text(max_size=10),
        lambda inner: st.lists(inner, max_size=4)
        | st.dictionaries(st.sampled_from(["a", "b", "k"]), inner, max_size=3),
        max_leaves=12,
    ).map(lambda v: json.dumps(v)),
)


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(garbage_templates, bodies)
def test_garbage_never_crashes_or_hangs(source: str, body: str) -> None:
    started = time.perf_counter()
    try:
        template = compile_template(source)
    except TemplateError:
        return
    inputs = Inputs(body=body, path_params={"a": "p"}, querystring={"a": "q"},
                    headers={"A": "h"}, context={"a": "c", "requestId": "r"},
                    stage_variables={"a": "s"})
    try:
        result = template.render(inputs)
    except TemplateRuntimeError:
        pass
    else:
        assert isinstance(result.text, str)
    assert time.perf_counter() - started < 5.0, source


def test_deep_nesting_is_a_template_error_not_a_crash() -> None:
    # Python compiles at most 20 nested loops and a few hundred nested parentheses; deeper
    # templates are refused at load rather than crashing
    assert compile_template("#foreach($i in [1])" * 15 + "x" + "#end" * 15).render(
        Inputs()).text == "x"
    for source in ("#foreach($i in [1])" * 25 + "#end" * 25,
                   "#set($x = " + "(" * 2000 + "1" + ")" * 2000 + ")$x",
                   "#if(true)" * 400 + "#end" * 400):
        with pytest.raises(TemplateError, match="nests too deeply"):
            compile_template(source)
