"""Request validators and request models in an OpenAPI or Swagger definition (spec 9, 12.1).

Reads, as AWS's importer does:

- ``x-amazon-apigateway-request-validators``: ``{name: {validateRequestBody,
  validateRequestParameters}}`` (both default to false, as in the API's RequestValidator);
- ``x-amazon-apigateway-request-validator``: the API's default (root) and a method's own
  (operation), each naming an entry of that map;
- models: every ``components.schemas`` (OpenAPI 3) or ``definitions`` (Swagger 2) entry is a
  model of that name. Model names must be alphanumeric (DG known issues);
- a method's request models (``Method.requestModels``, content type -> model name): OpenAPI 3
  ``requestBody.content.{type}.schema``, Swagger 2 ``parameters[in=body].schema`` under each
  of the operation's ``consumes`` (else the document's, else ``application/json``). A schema
  that is a ``$ref`` to a model names that model; an inline schema becomes a model of its own,
  named ``MODEL`` + 6 hex digits as AWS's importer names the models it makes up (a hash of
  the schema here, so the name is stable). The content type ``$default`` (AWS's key for "any
  content type"), and ``*/*`` taken to mean it, match any request.

Model schemas are JSON Schema draft 4 and are normalised at load, so the validator compiles
them as they are:

- every ``$ref`` is resolved now: ``#/components/schemas/NAME``, ``#/definitions/NAME`` (each
  in its own kind of document, optionally followed by a path inside the model) and AWS's own
  model URLs (``https://apigateway.amazonaws.com/restapis/ID/models/NAME``, as exports and
  ``CreateModel`` write them) become ``#/definitions/NAME[/...]``; any other reference is an
  error naming the field. Models may refer to each other and to themselves: AWS imports
  and validates circular models (LocalStack's AWS-validated
  ``test_import_with_circular_models_and_request_validation``), and so does Sluice;
- what AWS does not support is removed: ``exclusiveMinimum`` ("not supported by API
  Gateway", DG known issues), and ``format`` values other than the draft 4 formats of AWS's
  validator (date-time, email, hostname, ipv4, ipv6, regex, uri; ``format: byte`` is accepted
  and not checked, recorded in the same test). ``oneOf`` in a Swagger 2.0 model is an error
  ("oneOf is not supported for OpenAPI 2.0", DG known issues);
- the result must be a valid draft 4 schema (AWS: "Invalid model schema specified"); a
  model without a schema is AWS's "Model schema must have at least 1 property or array items
  defined" (recorded for an empty schema; a schema such as ``{type: object}`` without
  properties is accepted, also recorded).
"""

from __future__ import annotations

import datetime
import hashlib
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any
from urllib.parse import unquote

import jsonschema_rs
import orjson

from proxy.config._check import (
    INVALID,
    Checker,
    Field,
    Invalid,
    PathT,
    boolean,
    describe,
    key_label,
    map_of,
    record,
    show,
)
from proxy.config._refs import escape, pointer, resolve_local, unescape
from proxy.encoding import media_type

__all__ = [
    "DEFAULT_MODEL_KEY",
    "MethodValidation",
    "ModelDef",
    "RequestValidatorDef",
    "ValidationReader",
    "model_closure",
]

DEFAULT_MODEL_KEY = "$default"
DRAFT4 = "http://json-schema.org/draft-04/schema#"
# The format attributes of the draft 4 library of AWS's validator (java-json-tools
# json-schema-validator): the only ones it checks; others it ignores with a warning.
CHECKED_FORMATS = frozenset({"date-time", "email", "hostname", "ipv4", "ipv6", "regex", "uri"})
EMPTY_SCHEMA = "Model schema must have at least 1 property or array items defined"

_MODEL_NAME = re.compile(r"[A-Za-z0-9]+")
_AWS_MODEL_URL = re.compile(r"https?://apigateway\.[^/]+/restapis/[^/]+/models/([^/#]+)(.*)")
_MAX_DEPTH = 128

# Draft 4 keywords whose value is a schema, a list of schemas, or a map of schemas.
_ONE = ("additionalItems", "additionalProperties", "items", "not")
_MANY = ("allOf", "anyOf", "oneOf", "items")
_NAMED = ("properties", "patternProperties", "definitions", "dependencies")
_REMOVED = frozenset({"exclusiveMinimum", "$schema", "id"})


@dataclass(frozen=True, slots=True)
class RequestValidatorDef:
    name: str
    validate_request_body: bool = False
    validate_request_parameters: bool = False


@dataclass(frozen=True, slots=True)
class ModelDef:
    """A model: its draft 4 schema with every ``$ref`` as ``#/definitions/NAME[/...]``, and
    the names of the models it refers to directly."""

    name: str
    schema: Any
    references: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class MethodValidation:
    """What a method's validation needs: its validator (None: not validated), its request
    models (content type, lower case without parameters, or ``$default`` -> model name) and
    the API's models, which the request models' references are resolved in."""

    validator: RequestValidatorDef | None
    request_models: Mapping[str, str]
    models: Mapping[str, ModelDef]


def model_closure(name: str, models: Mapping[str, ModelDef]) -> dict[str, Any]:
    """The model's schema and every model it reaches, as one self-contained draft 4 schema:
    ``{"$ref": "#/definitions/NAME", "definitions": {...}}``."""
    seen: dict[str, Any] = {}
    todo = [name]
    while todo:
        current = todo.pop()
        if current in seen:
            continue
        model = models[current]
        seen[current] = model.schema
        todo.extend(model.references - seen.keys())
    return {"$ref": f"#/definitions/{escape(name)}", "definitions": seen}


_VALIDATOR = record(
    {
        "validateRequestBody": Field(boolean),
        "validateRequestParameters": Field(boolean),
    }
)


class ValidationReader:
    """The validation settings of one document: read once (validators, the default, the
    models), then asked for each method. Problems go to the ``Checker`` given to each call."""

    __slots__ = ("_container", "_doc", "_models", "_swagger", "default", "models", "validators")

    def __init__(self, ck: Checker, doc: dict[Any, Any], swagger: bool) -> None:
        self._doc = doc
        self._swagger = swagger
        self._container: PathT = ("definitions",) if swagger else ("components", "schemas")
        self.validators: Mapping[str, RequestValidatorDef] = MappingProxyType({})
        self.default: RequestValidatorDef | None = None
        self._models: dict[str, ModelDef] = {}
        # read-only, and still complete after methods add their inline models
        self.models: Mapping[str, ModelDef] = MappingProxyType(self._models)
        self._read_validators(ck)
        self._read_models(ck)

    # --- validators ----------------------------------------------------------------------

    def _read_validators(self, ck: Checker) -> None:
        key = "x-amazon-apigateway-request-validators"
        if key in self._doc:
            got = ck.attempt(map_of(_VALIDATOR), (key,), self._doc[key])
            if isinstance(got, Mapping):
                self.validators = MappingProxyType(
                    {name: RequestValidatorDef(name, **v) for name, v in got.items()}
                )
        self.default = self._named_validator(ck, ("x-amazon-apigateway-request-validator",),
                                             self._doc)

    def _named_validator(
        self, ck: Checker, path: PathT, holder: Mapping[Any, Any]
    ) -> RequestValidatorDef | None:
        key = path[-1]
        if key not in holder:
            return None
        name = holder[key]
        if not isinstance(name, str):
            ck.report(path, f"must be the name of a request validator, got {describe(name)}")
            return None
        found = self.validators.get(name)
        if found is None:
            defined = ", ".join(self.validators) or "none"
            ck.report(
                path,
                f"{show(name)} is not defined in x-amazon-apigateway-request-validators "
                f"(defined: {defined})",
            )
        return found

    # --- models --------------------------------------------------------------------------

    def _schemas(self) -> Mapping[Any, Any]:
        holder: Any = self._doc
        for part in self._container:
            holder = holder.get(part) if isinstance(holder, dict) else None
        return holder if isinstance(holder, dict) else {}

    def _read_models(self, ck: Checker) -> None:
        for name, schema in self._schemas().items():
            path = (*self._container, key_label(name))
            if not isinstance(name, str) or not _MODEL_NAME.fullmatch(name):
                ck.report(path, "a model name may contain only A-Z a-z 0-9 (AWS model names "
                                "are alphanumeric)")
                continue
            model = self._model(ck, path, name, schema)
            if model is not None:
                self._models[name] = model

    def _model(self, ck: Checker, path: PathT, name: str, schema: Any) -> ModelDef | None:
        if schema is None or schema == "":
            ck.report(path, EMPTY_SCHEMA)
            return None
        if not isinstance(schema, dict):
            ck.report(path, f"must be a mapping (a JSON schema), got {describe(schema)}")
            return None
        before = len(ck.problems)
        refs: set[str] = set()
        try:
            normal = self._normalise(ck, path, schema, refs, 0)
        except Invalid:
            return None
        if len(ck.problems) > before:
            return None
        try:
            jsonschema_rs.meta.validate({"$schema": DRAFT4, **normal})
        except jsonschema_rs.ValidationError as e:
            where = (*path, *(str(p) for p in e.instance_path))
            ck.report(where, f"is not a valid JSON Schema draft 4 model: {e.message}")
            return None
        return ModelDef(name, normal, frozenset(refs))

    def _normalise(self, ck: Checker, path: PathT, schema: Any, refs: set[str], depth: int) -> Any:
        """A schema position: a copy with references resolved and unsupported parts removed."""
        if depth > _MAX_DEPTH:
            ck.fail(path, f"is nested more than {_MAX_DEPTH} levels deep")
        if not isinstance(schema, dict):
            # the metaschema check names what is wrong with a non-schema here
            return _json(ck, path, schema, depth)
        if "$ref" in schema:
            try:
                return {"$ref": self._reference(ck, (*path, "$ref"), schema["$ref"], refs)}
            except Invalid:
                return {}  # reported; the model is dropped
        out: dict[str, Any] = {}
        for raw_key, value in schema.items():
            try:
                self._keyword(ck, path, raw_key, value, out, refs, depth)
            except Invalid:
                continue  # reported; carry on to report the rest of the model
        return out

    def _keyword(self, ck: Checker, path: PathT, raw_key: Any, value: Any, out: dict[str, Any],
                 refs: set[str], depth: int) -> None:
        key = _key(ck, path, raw_key)
        where = (*path, key)
        if key in _REMOVED or (key == "format" and value not in CHECKED_FORMATS):
            return
        if key == "oneOf" and self._swagger:
            ck.report(where, "oneOf is not supported in a Swagger 2.0 model (AWS: "
                             "\"oneOf is not supported for OpenAPI 2.0\"); use OpenAPI 3.0")
        elif key in _ONE and isinstance(value, dict):
            out[key] = self._normalise(ck, where, value, refs, depth + 1)
        elif key in _MANY and isinstance(value, list):
            out[key] = [self._normalise(ck, (*where, i), v, refs, depth + 1)
                        for i, v in enumerate(value)]
        elif key in _NAMED and isinstance(value, dict):
            named: dict[str, Any] = {}
            for sub, v in value.items():
                k = _key(ck, where, sub)
                named[k] = (self._normalise(ck, (*where, k), v, refs, depth + 1)
                            if isinstance(v, dict) else _json(ck, (*where, k), v, depth + 1))
            out[key] = named
        else:
            out[key] = _json(ck, where, value, depth + 1)

    def _reference(self, ck: Checker, path: PathT, ref: Any, refs: set[str]) -> str:
        """``#/definitions/NAME[/...]`` for a reference to a model (or a part of one)."""
        allowed = (f"only references to models are supported "
                   f"(#/{'/'.join(str(p) for p in self._container)}/NAME)")
        if not isinstance(ref, str):
            ck.fail(path, f"must be a string, got {describe(ref)}")
        aws = _AWS_MODEL_URL.fullmatch(ref)
        if aws is not None:
            tokens = [unquote(aws[1]), *pointer(aws[2].lstrip("#"))]
        elif ref.startswith("#/"):
            tokens = pointer(ref[1:])
            n = len(self._container)
            if tuple(tokens[:n]) != self._container or len(tokens) == n:
                ck.fail(path, f"{show(ref)}: {allowed}")
            tokens = tokens[n:]
        else:
            ck.fail(path, f"{show(ref)}: {allowed}")
        name, rest = tokens[0], tokens[1:]
        target: Any = self._schemas().get(name)
        for token in rest:
            if isinstance(target, list) and token.isdigit() and int(token) < len(target):
                target = target[int(token)]
            elif isinstance(target, dict) and token in target:
                target = target[token]
            else:
                target = None
                break
        if target is None or not isinstance(target, dict):
            ck.fail(path, f"{show(ref)} points to no model in this document")
        refs.add(name)
        return "#/definitions/" + "/".join(escape(t) for t in tokens)

    def _inline(self, ck: Checker, path: PathT, schema: Any) -> str | None:
        """The name of a request schema's model: the model a bare ``$ref`` names, or a new
        model for any other schema (None when the schema was rejected, and reported)."""
        if isinstance(schema, dict) and set(schema) == {"$ref"}:
            refs: set[str] = set()
            target = ck.attempt(
                lambda c, p, v: self._reference(c, p, v, refs), (*path, "$ref"), schema["$ref"]
            )
            if target is INVALID:
                return None
            tail = target.removeprefix("#/definitions/")
            if "/" not in tail:  # the whole model, not a part of one
                name = unescape(tail)
                return name if name in self._models else None
        try:
            canonical = orjson.dumps(schema, option=orjson.OPT_SORT_KEYS)
        except TypeError:  # YAML values JSON has not (dates, number keys)
            canonical = repr(schema).encode()
        name = f"MODEL{hashlib.sha256(canonical).hexdigest()[:6]}"
        if name not in self._models:
            model = self._model(ck, path, name, schema)
            if model is None:
                return None
            self._models[name] = model
        return name

    # --- methods -------------------------------------------------------------------------

    def method(self, ck: Checker, path: PathT, operation: Any, path_item: Any) -> MethodValidation:
        """A method's validation: ``path`` is the operation's (``paths./pets.post``);
        ``operation`` and ``path_item`` are the raw mappings."""
        op = operation if isinstance(operation, dict) else {}
        validator = self.default
        key = "x-amazon-apigateway-request-validator"
        if key in op:
            validator = self._named_validator(ck, (*path, key), op)
        if self._swagger:
            models = self._swagger_models(ck, path, op, path_item)
        else:
            models = self._oas3_models(ck, path, op)
        return MethodValidation(validator, MappingProxyType(models), self.models)

    def _oas3_models(self, ck: Checker, path: PathT, op: Mapping[Any, Any]) -> dict[str, str]:
        if "requestBody" not in op:
            return {}
        where: PathT = (*path, "requestBody")
        body = ck.attempt(self._resolve, where, op["requestBody"])
        if body is INVALID:
            return {}
        if not isinstance(body, dict):
            ck.report(where, f"must be a mapping (a request body), got {describe(body)}")
            return {}
        content = body.get("content", {})
        if not isinstance(content, dict):
            ck.report((*where, "content"), f"must be a mapping, got {describe(content)}")
            return {}
        models: dict[str, str] = {}
        for ctype, media in content.items():
            at = (*where, "content", key_label(ctype))
            if not isinstance(ctype, str):
                ck.report(at, f"keys must be media types, got {describe(ctype)}")
                continue
            if not isinstance(media, dict):
                ck.report(at, f"must be a mapping (a media type object), got {describe(media)}")
                continue
            if "schema" not in media:
                continue  # no model for this content type
            name = self._inline(ck, (*at, "schema"), media["schema"])
            if name is not None:
                models[_content_key(ctype)] = name
        return models

    def _swagger_models(
        self, ck: Checker, path: PathT, op: Mapping[Any, Any], path_item: Any
    ) -> dict[str, str]:
        found = self._body_parameter(ck, (*path, "parameters"), op.get("parameters"))
        if found is None and isinstance(path_item, dict):
            found = self._body_parameter(ck, (*path[:-1], "parameters"),
                                         path_item.get("parameters"))
        if found is None:
            return {}
        at, param = found
        if "schema" not in param:
            ck.report(at, "a body parameter must have a schema (AWS: \"Request/response bodies "
                          "in API Gateway require a schema\")")
            return {}
        name = self._inline(ck, (*at, "schema"), param["schema"])
        if name is None:
            return {}
        consumes = op.get("consumes", self._doc.get("consumes"))
        where = (*path, "consumes") if "consumes" in op else ("consumes",)
        if consumes is None or consumes == []:
            consumes = ["application/json"]
        if not isinstance(consumes, list) or not all(isinstance(c, str) for c in consumes):
            ck.report(where, "must be a list of media types")
            return {}
        return {_content_key(c): name for c in consumes}

    def _body_parameter(
        self, ck: Checker, path: PathT, params: Any
    ) -> tuple[PathT, dict[Any, Any]] | None:
        if not isinstance(params, list):
            return None  # openapi.py reports a malformed parameters list
        for i, param in enumerate(params):
            at: PathT = (*path, i)
            # openapi.py reports a bad reference in parameters: resolved quietly here
            param = Checker(ck.file).attempt(self._resolve, at, param)
            if isinstance(param, dict) and param.get("in") == "body":
                return at, param
        return None

    def _resolve(self, ck: Checker, path: PathT, value: Any) -> Any:
        """A non-model object (a request body, a parameter), through its local ``$ref``."""
        return resolve_local(ck, path, self._doc, value)


def _content_key(ctype: str) -> str:
    if ctype == "*/*":  # taken to mean AWS's $default (any content type)
        return DEFAULT_MODEL_KEY
    return media_type(ctype) or ""


def _key(ck: Checker, path: PathT, key: Any) -> str:
    if isinstance(key, str):
        return key
    if isinstance(key, int) and not isinstance(key, bool):
        return str(key)  # YAML reads `200:` as a number; JSON has only string keys
    ck.fail((*path, key_label(key)), f"keys must be strings, got {describe(key)}")


def _json(ck: Checker, path: PathT, value: Any, depth: int) -> Any:
    """A copy of a YAML value as JSON: YAML dates become ISO strings (as they are in JSON)."""
    if depth > _MAX_DEPTH:
        ck.fail(path, f"is nested more than {_MAX_DEPTH} levels deep")
    if value is None or isinstance(value, str | bool | int):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            ck.fail(path, f"must be a finite number, got {show(value)}")
        return value
    if isinstance(value, datetime.date):
        return value.isoformat()
    if isinstance(value, list):
        return [_json(ck, (*path, i), v, depth + 1) for i, v in enumerate(value)]
    if isinstance(value, dict):
        return {_key(ck, path, k): _json(ck, (*path, key_label(k)), v, depth + 1)
                for k, v in value.items()}
    ck.fail(path, f"must be a JSON value, got {describe(value)}")

