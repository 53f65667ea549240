"""The VTL engine: directives, expressions, Java methods and printing, the API Gateway variables
and AWS's recorded quirks (LS-snap = LocalStack snapshot tests recorded against AWS)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import orjson
import pytest

from bench.micro.vtl_reference import (
    CONTEXT,
    REQUEST_BODY,
    REQUEST_TEMPLATE,
    RESPONSE_BODY,
    RESPONSE_TEMPLATE,
)
from proxy.vtl import (
    API_CONFIGURATION_ERROR,
    BAD_REQUEST_BODY,
    Inputs,
    RenderResult,
    TemplateError,
    TemplateRuntimeError,
    compile_template,
)


def run(template: str, body: str = "", **kw: Any) -> RenderResult:
    return compile_template(template).render(Inputs(body=body, **kw))


def r(template: str, body: str = "", **kw: Any) -> str:
    return run(template, body, **kw).text


# ---- directives -----------------------------------------------------------------------------


@pytest.mark.parametrize(("template", "expected"), [
    ("#set($a = 'x')$a", "x"),
    ("#set($a = 1)#set($a = $a + 1)$a", "2"),
    ("#set($m = {})#set($m.k = 'v')$m.k", "v"),
    ("#set($m = {})#set($m['k'] = 'v')$m.get('k')", "v"),
    ("#set($l = [1, 2])#set($l[0] = 9)$l", "[9, 2]"),
    ("#if(true)a#elseif(true)b#{else}c#end", "a"),
    ("#if(false)a#elseif(true)b#{else}c#end", "b"),
    ("#if(false)a#elseif(false)b#{else}c#end", "c"),
    ("#if($nope)a#{else}b#end", "b"),
    # Velocity 1.7: only null and false are false
    ("#if('')a#{else}b#end", "a"),
    ("#if(0)a#{else}b#end", "a"),
    ("#if([])a#{else}b#end", "a"),
    ("#foreach($i in [1..3])$i#end", "123"),
    ("#foreach($i in [3..1])$i#end", "321"),
    ("#foreach($i in ['a', 'b'])$foreach.index$foreach.count$foreach.hasNext;#end",
     "01true;12false;"),
    ("#foreach($i in ['a', 'b'])$velocityCount#end", "12"),
    ("#foreach($i in ['a', 'b'])#if($foreach.first)F#end#if($foreach.last)L#end#end", "FL"),
    ("#foreach($i in [1..5])#if($i == 3)#break#end$i#end", "12"),
    ("#foreach($i in [])x#end", ""),
    ("#foreach($i in $nothing)x#end", ""),
    ("#foreach($i in 'abc')x#end", ""),
    # a map iterates its values (Velocity 1.7)
    ("#foreach($v in {'a': 1, 'b': 2})$v#end", "12"),
    # the loop variable gets its old value back after the loop
    ("#set($i = 'before')#foreach($i in [1])$i#end$i", "1before"),
    ("a#stop b", "a"),
    ("#macro(greet $who $n)hi $who $n;#end#greet('bob' 2)#greet('al', 3)", "hi bob 2;hi al 3;"),
    # missing macro arguments are null, extra ones ignored (velocimacro.arguments.strict=false)
    ("#macro(m $a $b)[$a|$b]#end#m('x')#m('x' 'y' 'z')", "[x|][x|y]"),
    ("#macro(rec $n)$n#if($n > 0)#set($k = $n - 1)#rec($k)#end#end#rec(3)", "3210"),
    ("#notamacro('x')", "#notamacro('x')"),
    ("a## comment\nb", "ab"),
    ("a#* block\ncomment *#b", "ab"),
    ("#[[$not #parsed]]#", "$not #parsed"),
    ("$!nope", ""),
    ("${nope}", ""),
    ("#set($a = 'x')${a}y", "xy"),
    ("\\$a", "$a"),
    ("#set($a = 'x')\\\\$a", "\\x"),
    ("#ff0000 $5 # $", "#ff0000 $5 # $"),
    ("$a.", "."),
])
def test_directives(template: str, expected: str) -> None:
    assert r(template) == expected


@pytest.mark.parametrize(("template", "expected"), [
    # #set takes the spaces before it and a directive's ")" the rest of its line
    ("a\n  #set($x = 1)\nb", "a\nb"),
    ("#if(true)\n  yes\n#end\nend", "  yes\nend"),
    ("#foreach($i in [1,2])\n$i\n#end\n", "1\n2\n"),
    ("#if(false)\nno\n#else\nyes\n#end\n", "yes\n"),
    # braced #{end} keeps its newline
    ("#if(true)x#{end}\ny", "x\ny"),
    # indentation before #if is text (Velocity 1.x)
    ("  #if(true)x#end", "  x"),
])
def test_whitespace_of_directive_lines(template: str, expected: str) -> None:
    assert r(template) == expected


# ---- expressions ----------------------------------------------------------------------------


@pytest.mark.parametrize(("template", "expected"), [
    ("#set($x = 7 / 2)$x", "3"),
    ("#set($x = -7 / 2)$x", "-3"),  # Java truncates toward zero
    ("#set($x = -7 % 3)$x", "-1"),
    ("#set($x = 7.0 / 2)$x", "3.5"),
    ("#set($x = 2 * 3 + 4)$x", "10"),
    ("#set($x = 2 * (3 + 4))$x", "14"),
    ("#set($x = 1.5 + 1)$x", "2.5"),
    ("#set($x = 10.0 * 1000000)$x", "1.0E7"),
    ("#set($x = 0.0001 * 1)$x", "1.0E-4"),
    ("#set($x = 'a' + 1)$x", "a1"),
    ("#set($x = 1 + 'a')$x", "1a"),
    ("#set($x = 'keep')#set($x = 1 / 0)$x", "keep"),  # null (x/0) assigns nothing
    ("#set($x = 'keep')#set($x = $nope)$x", "keep"),
    ("#set($x = -3)$x", "-3"),
    ("#set($n = 4)#set($x = -$n)$x", "-4"),
    ("#if(1 < 2 && 2 <= 2 && 3 > 2 && 3 >= 3)y#end", "y"),
    ("#if(1 lt 2 and 3 gt 2 and 2 le 2 and 2 ge 2 and 1 eq 1 and 1 ne 2)y#end", "y"),
    ("#if(false || true)y#end#if(false or false)n#end", "y"),
    ("#if(!false && not false)y#end", "y"),
    ("#if(1 == 1.0)y#end", "y"),
    # unrelated classes compare by toString (Velocity 1.7 ASTEQNode)
    ("#if(1 == '1')y#end", "y"),
    ("#if(true == 'true')y#end", "y"),
    # ordering is for numbers only
    ("#if('a' < 'b')y#{else}n#end", "n"),
    ("#if([1] == [1])y#end", "y"),
    ("#set($s = \"a'b\")$s", "a'b"),
    ("#set($n = 'Al')#set($s = \"hi $n!\")$s", "hi Al!"),
    ("#set($s = 'hi $n')$s", "hi $n"),  # single quotes do not interpolate
    ("#set($s = \"say \"\"hi\"\"\")$s", 'say "hi"'),
    ("#set($l = [1, 'a', true, 1.5, [2]])$l", "[1, a, true, 1.5, [2]]"),
    ("#set($m = {'a': 1, 'b': [1, 2], 'c': {'d': 'e'}, 'n': $nope})$m",
     "{a=1, b=[1, 2], c={d=e}, n=null}"),
    ("#set($l = [1..3])$l.size()", "3"),
])
def test_expressions(template: str, expected: str) -> None:
    assert r(template) == expected


def test_aws_renders_an_unset_reference_as_nothing_and_compares_it_equal_to_empty() -> None:
    # LS-snap test_input_path_template_formatting ("empty-body"): Velocity prints "$result",
    # AWS prints nothing, and null == "" holds
    assert r("[$foo][$foo.bar][$foo.bar()]") == "[][][]"
    assert r("#if($foo == '')y#end#if($foo == $null)y#end") == "yy"


# ---- Java methods ---------------------------------------------------------------------------


@pytest.mark.parametrize(("template", "expected"), [
    ("$s.length()", "11"),
    ("$s.substring(6)", "World"),
    ("$s.substring(0, 5)", "Hello"),
    ("$s.toLowerCase()$s.toUpperCase()", "hello worldHELLO WORLD"),
    ("$s.replace('l', 'L')", "HeLLo WorLd"),
    ("$s.replaceAll('o(.)', '0$1')", "Hell0 W0rld"),
    ("$s.replaceAll('[aeiou]', '')", "Hll Wrld"),
    ("$s.replaceAll('(?<v>[aeiou])', '<${v}>')", "H<e>ll<o> W<o>rld"),
    ("$s.replaceAll('\\s', '\\$')", "Hello$World"),
    ("$s.replaceFirst('l', 'L')", "HeLlo World"),
    ("$s.startsWith('Hell')$s.endsWith('x')$s.contains('o W')", "truefalsetrue"),
    ("$s.indexOf('o')$s.indexOf('o', 5)$s.lastIndexOf('o')$s.indexOf('z')", "477-1"),
    ("$s.charAt(1)", "e"),
    ("$s.equals('Hello World')$s.equalsIgnoreCase('hello world')", "truetrue"),
    ("$s.isEmpty()$s.matches('H.*d')$s.matches('ello')", "falsetruefalse"),
    ("$s.split(' ')", "[Hello, World]"),
    ("$s.split(' ').size()", "2"),
    ("#set($t = 'a,b,,c,,')$t.split(',')", "[a, b, , c]"),
    ("#set($t = '  pad \t')[$t.trim()]", "[pad]"),
    ("$s.concat('!')", "Hello World!"),
    ("$s.toString()", "Hello World"),
    ("$s.noSuchMethod()", ""),
    ("$s.substring('x')", ""),  # no such signature: null, as Velocity
    ("#set($Integer = 0)$Integer.parseInt('42')", "42"),
    ("#set($n = 0)#set($x = $n.parseInt('-7') + 1)$x", "-6"),
    ("#set($d = 0.0)$d.parseDouble('2.5')", "2.5"),
    ("#set($n = 5)$n.toString()$n.doubleValue()", "55.0"),
])
def test_string_and_number_methods(template: str, expected: str) -> None:
    assert r("#set($s = 'Hello World')" + template) == expected


@pytest.mark.parametrize(("template", "expected"), [
    ("#set($l = [])$l.add('a')$l.add('b')$l", "truetrue[a, b]"),
    ("#set($l = ['a', 'b', 'c'])$l.get(1)$l.size()$l.isEmpty()$l.contains('c')", "b3falsetrue"),
    ("#set($l = ['a', 'b', 'c'])$l.remove(0)$l.remove('c')$l", "atrue[b]"),
    ("#set($l = ['a', 'b'])$l.indexOf('b')$l.set(0, 'z')$l", "1a[z, b]"),
    ("#set($l = [1])#set($d = $l.addAll([2, 3]))$l$l.subList(1, 3)", "[1, 2, 3][2, 3]"),
    ("#set($l = [1, 2])$l[0]$l[-1] [$l['x']]", "12 []"),
    ("#set($m = {'a': 1})$m.put('b', 2)$m.put('a', 3)$m", "1{a=3, b=2}"),
    ("#set($m = {'a': 1, 'b': 2})$m.keySet()$m.values()$m.size()", "[a, b][1, 2]2"),
    ("#set($m = {'a': 1})$m.containsKey('a')$m.containsKey('z')$m.get('z')", "truefalse"),
    ("#set($m = {'a': 1, 'b': 2})#foreach($e in $m.entrySet())$e.key=$e.value;#end",
     "a=1;b=2;"),
    ("#set($m = {'a': 1})$m.entrySet()", "[a=1]"),
    ("#set($m = {'a': 1})$m.remove('a')$m.isEmpty()", "1true"),
    ("#set($m = {'a': 1})$m.a$m['a']$m.toString()", "11{a=1}"),
])
def test_list_and_map_methods(template: str, expected: str) -> None:
    assert r(template) == expected


@pytest.mark.parametrize("template", [
    "$s.substring(5, 2)",
    "$s.charAt(99)",
    "#set($l = [])$l.get(0)",
    "#set($l = [1])$l[1]",
    "#set($n = 0)$n.parseInt('abc')",
    "$s.replaceAll('(', 'x')",
    "$s.replaceAll('b', '$9')",
])
def test_java_exceptions_fail_the_render_with_a_500(template: str) -> None:
    with pytest.raises(TemplateRuntimeError) as err:
        r("#set($s = 'abc')" + template)
    assert err.value.response_type == API_CONFIGURATION_ERROR


# ---- $input.path printing, recorded from AWS ------------------------------------------------

_PATH = '#set($result = $input.path("$.json"))'
_CHECK = ('{"body": $result, "nested": $result.nested, '
          '"isNull": #if( $result == $null )"true"#else"false"#end, '
          '"isEmptyString": #if( $result == "" )"true"#else"false"#end}')


@pytest.mark.parametrize(("template", "body", "expected"), [
    # LS-snap test_input_path_template_formatting
    (_PATH + "$result", {"foo": "bar"}, "{foo=bar}"),
    (_PATH + "$result", [{"foo": "bar"}], '[{"foo":"bar"}]'),
    (_PATH + "$result.nested", {"nested": {"foo": "bar"}}, "{foo=bar}"),
    (_PATH + "$result.nested", {"nested": [{"foo": "bar"}]}, '[{"foo":"bar"}]'),
    (_PATH + "$result[0]", [{"foo": "bar"}], "{foo=bar}"),
    (_PATH + "$result[0]", [[{"foo": "bar"}]], '[{"foo":"bar"}]'),
    (_PATH + "$result", {"foo": [{"nested": "bar"}]}, '{foo=[{"nested":"bar"}]}'),
    (_PATH + "$result", {"bigger": "dict", "to": "test", "with": "separators"},
     "{bigger=dict, to=test, with=separators}"),
    (_PATH + "$result.toString()", {"foo": "bar"}, "{foo=bar}"),
    (_PATH + "$result.toString()", {"list": [{"foo": "bar"}]}, '{list=[{"foo":"bar"}]}'),
    ('#set($result = $input.path("$.json.listValue"))' + _CHECK, {"listValue": []},
     '{"body": [], "nested": , "isNull": "false", "isEmptyString": "false"}'),
    ('#set($result = $input.path("$.json.listValue"))' + _CHECK, {"listValue": None},
     '{"body": , "nested": , "isNull": "true", "isEmptyString": "true"}'),
    # and the Java printing of the scalars inside
    (_PATH + "$result", {"n": 1, "f": 1.5, "t": True, "z": None, "e": 1e20},
     "{n=1, f=1.5, t=true, z=null, e=1.0E20}"),
])
def test_input_path_prints_as_aws(template: str, body: Any, expected: str) -> None:
    assert r(template, orjson.dumps({"json": body}).decode()) == expected


def test_input_path_on_an_empty_body_is_null() -> None:
    # LS-snap test_input_path_template_formatting "empty-body"
    template = '#set($result = $input.path("$.nonExisting"))' + _CHECK
    assert r(template, "") == '{"body": , "nested": , "isNull": "true", "isEmptyString": "true"}'


@pytest.mark.parametrize(("template", "expected"), [
    # LS-snap test_input_body_formatting: an empty body reads as {}
    ("#set($result = $input.body)$result", {"": "{}", '{"some": "value"}': '{"some": "value"}',
                                           "some raw data": "some raw data"}),
    ("Action=SendMessage&MessageBody=$input.body",
     {"": "Action=SendMessage&MessageBody={}",
      "some raw data": "Action=SendMessage&MessageBody=some raw data"}),
    ("#set($result = $input.body.testAccess)$result", {"": "", "some raw data": ""}),
    ("EncodedBody=$util.urlEncode($input.body)&EncodedBodyAccess="
     "$util.urlEncode($input.body.testAccess)",
     {"": "EncodedBody=%7B%7D&EncodedBodyAccess=",
      '{"some": "value"}': "EncodedBody=%7B%22some%22%3A+%22value%22%7D&EncodedBodyAccess=",
      "some raw data": "EncodedBody=some+raw+data&EncodedBodyAccess="}),
])
def test_input_body_as_aws(template: str, expected: dict[str, str]) -> None:
    for body, out in expected.items():
        assert r(template, body) == out


@pytest.mark.parametrize(("path", "expected"), [
    ("$", '{"a":{"b":[1,2,{"c":"x"}]},"d":null,"e":"s"}'),
    ("$.a.b", "[1,2,{\"c\":\"x\"}]"),
    ("$['a']['b'][2]", '{"c":"x"}'),
    ("$.a.b[-1].c", '"x"'),
    ("a.b[0]", "1"),  # no "$": Jayway reads "$." + path
    ("$.a.b[0,1]", "[1,2]"),
    ("$.a.b[1:]", '[2,{"c":"x"}]'),
    ("$.a.b[*]", '[1,2,{"c":"x"}]'),
    ("$..c", '["x"]'),
    ("$.*", '[{"b":[1,2,{"c":"x"}]},null,"s"]'),
    ("$.missing", '""'),  # LS unit tests, from the AWS console
    ("$.d", '""'),
    ("$.missing[*]", "[]"),
    ("$.e", '"s"'),
])
def test_input_json_with_jsonpath(path: str, expected: str) -> None:
    body = '{"a": {"b": [1, 2, {"c": "x"}]}, "d": null, "e": "s"}'
    assert r(f'$input.json("{path}")', body) == expected


def test_input_json_of_an_empty_body_is_an_empty_object() -> None:
    assert r("$input.json('$')", "") == "{}"


def test_input_path_result_is_usable_in_foreach_and_methods() -> None:
    body = '{"items": [{"n": "a"}, {"n": "b"}], "m": {"k": 1}}'
    assert r("#foreach($i in $input.path('$.items'))$i.n#end"
             "$input.path('$.items').size()$input.path('$.m').keySet()", body) == "ab2[k]"


def test_a_body_that_is_not_json_fails_with_aws_400() -> None:
    template = compile_template("$input.path('$.a')")
    with pytest.raises(TemplateRuntimeError) as err:
        template.render(Inputs(body="------WebKitFormBoundary"))
    assert err.value.response_type == BAD_REQUEST_BODY
    assert err.value.message.startswith("Could not parse request body into json: ")
    # a template that never reads the body as JSON is fine with it
    assert r("$input.body", "a=b") == "a=b"


def test_a_bad_literal_jsonpath_is_a_load_error_and_a_dynamic_one_a_500() -> None:
    with pytest.raises(TemplateError) as err:
        compile_template("line one\n  $input.path('$[?(@.a)]')")
    assert (err.value.line, err.value.column) == (2, 15)
    with pytest.raises(TemplateRuntimeError):
        r("#set($p = '$[')$input.path($p)", "{}")


def test_input_params() -> None:
    inputs = {"path_params": {"id": "p", "both": "from-path"},
              "querystring": {"q": "1", "both": "from-qs"},
              "headers": {"X-Trace": "t1", "q": "header-q"}}
    assert r("$input.params('id')|$input.params('both')|$input.params('q')|"
             "$input.params('x-trace')|[$input.params('none')]", **inputs) == \
        "p|from-path|1|t1|[]"
    assert r("$input.params()", **inputs) == \
        "{path={id=p, both=from-path}, querystring={q=1, both=from-qs}, " \
        "header={X-Trace=t1, q=header-q}}"
    assert r("$input.params().header.get('x-trace')$input.params().path.id"
             "#foreach($k in $input.params().querystring.keySet())$k#end", **inputs) == \
        "t1pqboth"


# ---- $util ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "expected"), [
    # commons-lang StringEscapeUtils.escapeJavaScript; AWS documents ' -> \'
    ("it's", "it\\'s"),
    ('say "hi"', 'say \\"hi\\"'),
    ("a\\b", "a\\\\b"),
    ("a/b", "a\\/b"),
    ("\b\f\n\r\t", "\\b\\f\\n\\r\\t"),
    ("\x01\x1f", "\\u0001\\u001F"),
    ("\x7f", "\x7f"),
    ("é", "\\u00E9"),
    ("€", "\\u20AC"),
    ("😀", "\\uD83D\\uDE00"),
    ("plain text 123", "plain text 123"),
])
def test_escape_javascript_table(text: str, expected: str) -> None:
    body = orjson.dumps({"t": text}).decode()
    assert r("$util.escapeJavaScript($input.path('$.t'))", body) == expected


@pytest.mark.parametrize(("template", "expected"), [
    ("$util.urlEncode('a b&c=d/é~*')", "a+b%26c%3Dd%2F%C3%A9%7E*"),
    ("$util.urlDecode('a+b%26c%3Dd%2F%C3%A9')", "a b&c=d/é"),
    ("$util.base64Encode('héllo')", "aMOpbGxv"),
    ("$util.base64Decode('aMOpbGxv')", "héllo"),
    ("$util.base64Decode('aGk')", "hi"),  # padding optional (java.util.Base64)
    ("$util.base64Decode($util.base64Encode('round trip ✓'))", "round trip ✓"),
    ("#set($o = $util.parseJson('{\"a\": [1, {\"b\": 2}]}'))$o.a[1].b $o", 
     '2 {a=[1,{"b":2}]}'),
    ("$util.escapeJavaScript($nope)$util.urlEncode($nope)", ""),
    ("$util.escapeJavaScript(5)", "5"),
])
def test_util(template: str, expected: str) -> None:
    assert r(template) == expected


@pytest.mark.parametrize("template", [
    "$util.parseJson('{bad')",
    "$util.base64Decode('!!!')",
    "$util.urlDecode('%zz')",
])
def test_util_failures_are_500s(template: str) -> None:
    with pytest.raises(TemplateRuntimeError) as err:
        r(template)
    assert err.value.response_type == API_CONFIGURATION_ERROR


# ---- $context, $stageVariables, overrides ---------------------------------------------------


class _RecordingMapping(Mapping[str, Any]):
    """A context view that computes values on demand and records what was asked."""

    def __init__(self, values: dict[str, Any]) -> None:
        self.values = values
        self.read: list[str] = []

    def __getitem__(self, key: str) -> Any:
        self.read.append(key)
        return self.values[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self.values)

    def __len__(self) -> int:
        return len(self.values)


def test_context_is_read_lazily_and_nested_objects_print_empty() -> None:
    ctx = _RecordingMapping({"requestId": "r-1", "stage": "prod",
                             "identity": {"sourceIp": "1.2.3.4", "caller": None},
                             "expensive": "never"})
    out = r("$context.requestId $context.identity.sourceIp [$context.identity]"
            "[$context.identity.caller][$context.nope]", context=ctx)
    assert out == "r-1 1.2.3.4 [][][]"
    assert "expensive" not in ctx.read and "stage" not in ctx.read


def test_context_as_a_map() -> None:
    ctx = {"requestId": "r-1", "identity": {"sourceIp": "ip"}}
    assert r("#foreach($k in $context.identity.keySet())$k=$context.identity.get($k)#end "
             "$context['requestId'] $context.get('requestId') $context.containsKey('stage')",
             context=ctx) == "sourceIp=ip r-1 r-1 false"


def test_stage_variables() -> None:
    sv = {"env": "prod", "url": "http://x"}
    assert r("$stageVariables.env $stageVariables['url'] $stageVariables.get('env') "
             "[$stageVariables.missing]", stage_variables=sv) == "prod http://x prod []"
    # a template cannot change the caller's mapping
    r("#set($stageVariables.env = 'dev')", stage_variables=sv)
    assert sv["env"] == "prod"


def test_request_and_response_overrides() -> None:
    res = run(
        "#set($context.requestOverride.header.X-Api = 'v1')"
        "#set($context.requestOverride.header.Multi = ['a', 'b'])"
        "#set($context.requestOverride.path.id = 42)"
        "#set($context.requestOverride.querystring.q = 'x y')"
        "#set($context.responseOverride.header.Cache-Control = 'no-store')"
        "#set($context.responseOverride.status = 201)"
        "[$context.requestOverride][$context.requestOverride.header.X-Api]")
    assert res.text == "[][v1]"
    assert res.request_override == {"header": {"X-Api": "v1", "Multi": ["a", "b"]},
                                    "path": {"id": "42"}, "querystring": {"q": "x y"}}
    assert res.response_override == {"header": {"Cache-Control": "no-store"}, "status": 201}


def test_no_overrides_when_unset() -> None:
    res = run("x")
    assert res.request_override == {"header": {}, "path": {}, "querystring": {}}
    assert res.response_override == {"header": {}, "status": None}
    assert run("#set($context.responseOverride.status = '404')").response_override["status"] \
        == 404


# ---- the reference pair ---------------------------------------------------------------------


def test_reference_pair_renders_valid_json() -> None:
    req = orjson.loads(r(REQUEST_TEMPLATE, REQUEST_BODY, context=CONTEXT))
    assert req["customer"] == "Zoë Byrne" and req["sourceIp"] == "203.0.113.7"
    assert [i["qty"] for i in req["items"]] == [1, 2, 3, 4, 1, 2, 3, 4]
    resp = orjson.loads(r(RESPONSE_TEMPLATE, RESPONSE_BODY))
    assert resp["count"] == 10
    assert [x["status"] for x in resp["results"]][:4] == ["inactive", "active", "active",
                                                          "inactive"]


# ---- errors and limits ----------------------------------------------------------------------


@pytest.mark.parametrize(("template", "line", "column"), [
    ("#if(true)x", 1, 1),
    ("ok\n#end", 2, 1),
    ("a\n#else", 2, 2 - 1),
    ("#set($a = )", 1, 11),
    ("#set(a = 1)", 1, 6),
    ("#foreach($i [1])#end", 1, 13),
    ("#* never closed", 1, 1),
    ("$a.b(1", 1, 7),
    ("#if($a == )x#end", 1, 11),
    ("#macro(if)#end", 1, 8),
    ("#set($x = 'unclosed)", 1, 11),
])
def test_syntax_errors_name_line_and_column(template: str, line: int, column: int) -> None:
    with pytest.raises(TemplateError) as err:
        compile_template(template)
    assert (err.value.line, err.value.column) == (line, column)


def test_template_size_limit_is_aws_300_kb() -> None:
    compile_template("x" * 300 * 1024)
    with pytest.raises(TemplateError, match="300 KB"):
        compile_template("x" * (300 * 1024 + 1))


def test_foreach_stops_after_1000_iterations() -> None:
    # Velocity's directive.foreach.maxloops: the loop ends there, the render goes on
    assert r("#foreach($i in [1..1500])x#end") == "x" * 1000
    assert r("#foreach($i in [1..1500])#end$velocityCount done") == " done"


def test_nested_loops_are_bounded_in_total() -> None:
    with pytest.raises(TemplateRuntimeError, match="loop iterations"):
        r("#foreach($a in [1..1000])#foreach($b in [1..1000])#end#end")


def test_macro_recursion_is_bounded() -> None:
    with pytest.raises(TemplateRuntimeError, match="nest deeper"):
        r("#macro(loop)#loop()#end#loop()")


def test_output_and_string_growth_are_bounded() -> None:
    with pytest.raises(TemplateRuntimeError):
        r("#set($s = 'xxxxxxxxxxxxxxxx')"
          + "#set($s = \"$s$s\")" * 40 + "$s")
    with pytest.raises(TemplateRuntimeError):
        r("#set($s = '" + "x" * 100_000 + "')#foreach($i in [1..200])$s$s$s$s$s$s$s$s$s$s#end")
    with pytest.raises(TemplateRuntimeError):
        r("#set($s = '" + "x" * 1000 + "')$s.replace('x', $s.replace('x', $s))")


def test_a_list_holding_itself_fails_instead_of_looping() -> None:
    with pytest.raises(TemplateRuntimeError):
        r("#set($l = [])#set($d = $l.add($l))$l")


@pytest.mark.parametrize("template", [
    "$__import__('os')", "$__builtins__", "#set($__class__ = 1)$__class__",
    "$a.__class__.__bases__", "#set($type = 1)$type", "$open('/etc/passwd')",
    "#set($v = 'x')$v #set($o = 1)$o #set($n = 2)$n #set($a = 3)$a $R $I",
])
def test_template_names_never_reach_python(template: str) -> None:
    out = r(template)
    assert "class" not in out and "module" not in out and "function" not in out


def test_include_and_parse_fail_at_render() -> None:
    template = compile_template("#include('x.vm')")
    with pytest.raises(TemplateRuntimeError, match="not available"):
        template.render(Inputs())
