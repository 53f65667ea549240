"""A method's request validator, compiled once per deployment (spec 9).

``RequestValidator.check`` is the request phase: it returns None, or raises
``BadRequestParameters`` / ``BadRequestBody`` with AWS's message and
``validationErrorString``. Parameters are checked first (recorded: a request missing
parameters *and* with a bad body gets the parameters message).

- Required parameters (``method.request.{header|path|querystring}.NAME: true``) must be
  present and not blank (DG: ``?q1=`` fails; whitespace only counts as blank, as Java's
  ``isBlank``). Missing ones are listed as ``Missing required request parameters: [a, b]`` in
  the order of their full names sorted, which puts headers, then path, then query string
  parameters (recorded from AWS: ``[x-header-param, issuer, qs1]`` for parameters declared
  path, query string, header). Header names compare case-insensitively.
- The body model is the request model keyed by the request's media type (a missing
  Content-Type is ``application/json``, recorded), else the ``$default`` one; a content type
  with neither is not validated. ``BodyModel`` says why a body fails.
"""

from __future__ import annotations

from collections.abc import Mapping

from proxy.config.validators import (
    DEFAULT_MODEL_KEY,
    MethodValidation,
    ModelDef,
    model_closure,
)
from proxy.encoding import media_type
from proxy.validation.body import BodyModel
from proxy.validation.errors import BadRequestBody, BadRequestParameters

__all__ = ["CompiledModels", "RequestValidator", "compile_request_validator"]

_MISSING_CONTENT_TYPE = "application/json"
_INVALID_BODY = "Invalid request body"
_LOCATIONS = ("header", "path", "querystring")


class CompiledModels:
    """An API's models, each compiled on first use and shared by the methods that use it."""

    __slots__ = ("_compiled", "_models")

    def __init__(self, models: Mapping[str, ModelDef]) -> None:
        self._models = models
        self._compiled: dict[str, BodyModel] = {}

    def get(self, name: str) -> BodyModel:
        model = self._compiled.get(name)
        if model is None:
            model = self._compiled[name] = BodyModel(name, model_closure(name, self._models))
        return model


class RequestValidator:
    """The checks of one method. ``reads_query`` says whether ``check`` looks at the query
    string, so a caller can skip parsing it (pass an empty mapping) when it does not."""

    __slots__ = ("_bodies", "_default", "_headers", "_paths", "_queries", "reads_query")

    def __init__(
        self,
        required: tuple[tuple[str, str], ...],
        bodies: Mapping[str, BodyModel],
        default: BodyModel | None,
    ) -> None:
        # kept apart so the loop needs no per-parameter dispatch; the message order is
        # header, path, querystring, each sorted, which is the full names' sorted order
        ordered = sorted(required, key=lambda lp: (_LOCATIONS.index(lp[0]), lp[1]))
        self._headers = tuple(n for loc, n in ordered if loc == "header")
        self._paths = tuple(n for loc, n in ordered if loc == "path")
        self._queries = tuple(n for loc, n in ordered if loc == "querystring")
        self._bodies = dict(bodies)
        self._default = default
        self.reads_query = bool(self._queries)

    @property
    def checks_body(self) -> bool:
        return bool(self._bodies) or self._default is not None

    def check(
        self,
        headers: Mapping[str, str],
        path_params: Mapping[str, str],
        query: Mapping[str, str],
        body: bytes | None,
        content_type: str | None,
    ) -> None:
        """Raise ``BadRequestParameters`` or ``BadRequestBody`` as AWS would; else None.

        ``headers`` must look names up case-insensitively (aiohttp's ``CIMultiDictProxy``);
        ``body`` is the decoded body (after ``Content-Encoding``)."""
        missing: list[str] | None = None
        for names, source in ((self._headers, headers), (self._paths, path_params),
                              (self._queries, query)):
            for name in names:
                value = source.get(name)
                if not value or value.isspace():
                    if missing is None:
                        missing = []
                    missing.append(name)
        if missing is not None:
            message = f"Missing required request parameters: [{', '.join(missing)}]"
            raise BadRequestParameters(message, message)
        if self._default is None and not self._bodies:
            return
        ctype = content_type or _MISSING_CONTENT_TYPE
        model = self._bodies.get(ctype)  # keys are lower case without parameters
        if model is None:
            model = self._bodies.get(media_type(ctype) or "", self._default)
        if model is None:
            return
        errors = model.errors(body)
        if errors is not None:
            raise BadRequestBody(_INVALID_BODY, errors)


def compile_request_validator(
    validation: MethodValidation | None,
    request_parameters: Mapping[str, bool],
    models: CompiledModels,
) -> RequestValidator | None:
    """The validator of a method, or None when it has none or it would check nothing.

    ``request_parameters`` is ``Method.request_parameters``
    (``"method.request.querystring.q1" -> required``); ``models`` holds the API's models
    (``CompiledModels(validation.models)``, made once per API)."""
    if validation is None or validation.validator is None:
        return None
    settings = validation.validator
    required: list[tuple[str, str]] = []
    if settings.validate_request_parameters:
        for key, is_required in request_parameters.items():
            location, _, name = key.removeprefix("method.request.").partition(".")
            if is_required and location in _LOCATIONS:
                required.append((location, name))
    bodies: dict[str, BodyModel] = {}
    default: BodyModel | None = None
    if settings.validate_request_body:
        for ctype, name in validation.request_models.items():
            if ctype == DEFAULT_MODEL_KEY:
                default = models.get(name)
            else:
                bodies[ctype] = models.get(name)
    if not required and not bodies and default is None:
        return None
    return RequestValidator(tuple(required), bodies, default)
