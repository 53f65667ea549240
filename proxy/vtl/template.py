"""Compile a mapping template once; render it per request.

    template = compile_template(source)        # TemplateError at load
    result = template.render(Inputs(...))      # TemplateRuntimeError at request time
    result.text, result.request_override, result.response_override

A request's renders share their overrides through ``Inputs.overrides``: give the request
template and the response template one ``Overrides`` and the second sees what the first set,
and its result reports both.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from proxy.vtl._apigw import (
    Carry,
    Context,
    Input,
    Params,
    Util,
    override_result,
    override_status,
)
from proxy.vtl._codegen import GLOBALS, Generator
from proxy.vtl._limits import MAX_TEMPLATE_BYTES
from proxy.vtl._parser import parse
from proxy.vtl._values import JMap
from proxy.vtl.errors import TemplateError, TemplateRuntimeError

_UTIL = Util()


class Overrides(Carry):
    """$context.requestOverride and responseOverride across the renders of one request."""

    __slots__ = ()


@dataclass(frozen=True, slots=True)
class Inputs:
    """What one render reads. ``context`` is read key by key, only for the variables the
    template names, so a view that computes values on demand costs nothing for the rest."""

    body: str = ""
    path_params: Mapping[str, str] = field(default_factory=dict)
    querystring: Mapping[str, str] = field(default_factory=dict)  # last value wins, as AWS
    headers: Mapping[str, str] = field(default_factory=dict)  # last value wins
    context: Mapping[str, Any] = field(default_factory=dict)
    stage_variables: Mapping[str, str] = field(default_factory=dict)
    # shared by the renders of one request (None: this render's own)
    overrides: Overrides | None = None


@dataclass(frozen=True, slots=True)
class RenderResult:
    text: str
    # {"header": {...}, "path": {...}, "querystring": {...}}; a value set to a list (a
    # multi-value header) stays a list of strings
    request_override: dict[str, dict[str, Any]]
    # {"header": {...}, "status": int | None}
    response_override: dict[str, Any]


class _Counters:
    __slots__ = ("depth", "steps")

    def __init__(self) -> None:
        self.steps = 0
        self.depth = 0


class Template:
    """A compiled mapping template. Immutable and safe to share across requests."""

    __slots__ = ("_counts_steps", "_fn", "_inline_input", "_uses_context",
                 "_uses_stage_variables", "python_source", "source", "uses_input")

    def __init__(self, source: str) -> None:
        if len(source.encode("utf-8", "surrogatepass")) > MAX_TEMPLATE_BYTES:
            raise TemplateError(
                f"mapping template is larger than {MAX_TEMPLATE_BYTES // 1024} KB", 1, 1)
        try:
            tree = parse(source)
            gen = Generator(tree, source)
            self.python_source = gen.module()
            code = compile(self.python_source, "<mapping template>", "exec")
        except TemplateError:
            raise
        except (RecursionError, MemoryError, SyntaxError, ValueError) as err:
            # Python's own limits on nesting (20 nested loops, deep parentheses)
            raise TemplateError(f"template nests too deeply ({type(err).__name__})",
                                1, 1) from None
        namespace = dict(GLOBALS)
        namespace.update(gen.consts)
        exec(code, namespace)
        self._fn = namespace["_render"]
        self.source = source
        # False when the template never names $input: the caller may skip reading the body
        self.uses_input = gen.uses_input
        self._uses_context = "context" in gen.names
        self._uses_stage_variables = "stageVariables" in gen.names
        self._counts_steps = gen.counts_steps
        # the payload itself for a render that reads $input only by path, json and body
        self._inline_input = gen.inline_input

    def render(self, inputs: Inputs) -> RenderResult:
        carry = inputs.overrides
        context = Context(inputs.context, carry) if self._uses_context else None
        try:
            text: str = self._fn(
                (inputs.body if self._inline_input else Input(inputs.body, inputs))
                if self.uses_input else None, _UTIL, context,
                JMap(inputs.stage_variables) if self._uses_stage_variables else None,
                _Counters() if self._counts_steps else None)
        except TemplateRuntimeError:
            raise
        except Exception as err:
            raise _runtime_error(err) from err
        if carry is None and context is not None:
            req, resp = context.request_override, context.response_override
        else:
            req, resp = (carry.request, carry.response) if carry is not None else (None, None)
        return RenderResult(text, request_overrides(req), response_overrides(resp))

    def render_text(self, body: str | bytes, params: Params, context: Mapping[str, Any],
                    stage_variables: Mapping[str, str], overrides: Overrides) -> str:
        """``render`` for a caller that keeps the overrides itself (its own ``Overrides``):
        the text only, in one call, without an ``Inputs`` or a ``RenderResult`` to build
        (2.2 of the 4 us a render of a one-line template costs, timeit). ``params`` is read
        only when the template asks for a parameter. ``body`` may be the payload's bytes:
        read as UTF-8, U+FFFD for what is not (as ``decode(..., "replace")`` gives), and
        parsed as JSON without a text made first."""
        # only what the template names is built (3 us of the 6 an empty render cost)
        try:
            text: str = self._fn(
                (body if self._inline_input else Input(body, params))
                if self.uses_input else None,
                _UTIL, Context(context, overrides) if self._uses_context else None,
                JMap(stage_variables) if self._uses_stage_variables else None,
                _Counters() if self._counts_steps else None)
        except TemplateRuntimeError:
            raise
        except Exception as err:
            raise _runtime_error(err) from err
        return text


def _runtime_error(err: Exception) -> TemplateRuntimeError:
    if isinstance(err, RecursionError):
        return TemplateRuntimeError("template recursion too deep")
    if isinstance(err, MemoryError):
        return TemplateRuntimeError("template needs too much memory")
    # a Java exception in AWS's Velocity (bad index, bad number, bad regex): 500
    return TemplateRuntimeError(f"{type(err).__name__}: {err}")


def request_overrides(req: Any) -> dict[str, dict[str, Any]]:
    """``{"header": ..., "path": ..., "querystring": ...}`` of a requestOverride map."""
    if req is None:  # most renders: no override written
        return {"header": {}, "path": {}, "querystring": {}}
    return {k: override_result(req[k]) if isinstance(req.get(k), dict) else {}
            for k in ("header", "path", "querystring")}


def response_overrides(resp: Any) -> dict[str, Any]:
    """``{"header": ..., "status": int | None}`` of a responseOverride map."""
    if resp is None:
        return {"header": {}, "status": None}
    return {"header": override_result(resp["header"])
            if isinstance(resp.get("header"), dict) else {},
            "status": override_status(resp.get("status"))}


def compile_template(source: str) -> Template:
    """Parse and compile ``source``; TemplateError (with line and column) when it is not a
    valid template or is larger than AWS's 300 KB.

    The last templates compiled are remembered by their text: a config check at load and
    every deployment of the same template share one ``Template`` (immutable, safe to share),
    and a reload compiles only what changed."""
    if not isinstance(source, str):
        raise TemplateError("a mapping template is a string", 1, 1)
    return _compile(source)


@lru_cache(maxsize=512)
def _compile(source: str) -> Template:
    return Template(source)
