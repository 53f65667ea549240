"""IAM policy documents as API Gateway evaluates them, and how its two policies combine.

Two kinds of document: a Lambda authorizer's ``policyDocument`` (an identity policy, no
``Principal``) and an API's resource policy (``x-amazon-apigateway-policy``, ``Principal``
required). ``parse_policy`` checks a document once and names every bad field; ``compile`` turns
it into a ``Policy`` for one API (``execute-api:/...`` expanded, statements that cannot grant
``execute-api:Invoke`` dropped, resources made one regex); ``Policy.evaluate`` answers ALLOW,
DENY or NO_DECISION for a request ARN, remembering the answer per ARN when nothing else matters.

``authorize`` combines the authorizer's answer with the resource policy's as DG
``apigateway-authorization-flow.md`` Tables A (same account) and B (cross-account) say, and
raises ``AccessDenied`` with AWS's message.
"""

from __future__ import annotations

import calendar
import ipaddress
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final, Literal

import orjson

from proxy.auth._types import ANONYMOUS, IamIdentity, RequestFacts
from proxy.auth.arn import mask_account
from proxy.errors import AccessDenied

__all__ = [
    "ALLOW",
    "DENY",
    "NO_DECISION",
    "AuthKind",
    "Decision",
    "Policy",
    "PolicyDocument",
    "PolicyError",
    "Statement",
    "authorize",
    "parse_policy",
]

Decision = Literal["ALLOW", "DENY", "NO_DECISION"]
ALLOW: Final = "ALLOW"
DENY: Final = "DENY"
NO_DECISION: Final = "NO_DECISION"

INVOKE = "execute-api:Invoke"
MAX_RESOURCE_POLICY_CHARS = 8192  # RestApi.policy (spec 11.4)

PathT = tuple[str | int, ...]


class PolicyError(ValueError):
    """A document that is not a policy; ``problems`` are (path inside it, what is wrong)."""

    def __init__(self, problems: list[tuple[PathT, str]]) -> None:
        self.problems = problems
        super().__init__("; ".join(f"{_where(p)}{m}" for p, m in problems))


def _where(path: PathT) -> str:
    text = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path).lstrip(".")
    return f"{text}: " if text else ""


# --- the parsed document -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Condition:
    operator: str  # the base operator, e.g. StringLike
    key: str  # lower case: condition keys are case-insensitive
    values: tuple[str, ...]
    if_exists: bool = False
    qualifier: str | None = None  # ForAnyValue | ForAllValues


@dataclass(frozen=True, slots=True)
class Statement:
    effect: Literal["Allow", "Deny"]
    actions: tuple[str, ...]
    resources: tuple[str, ...]
    not_action: bool = False
    not_resource: bool = False
    # None: no Principal element (identity policies); "*" stands for everyone
    principals: tuple[str, ...] | None = None
    not_principal: bool = False
    conditions: tuple[Condition, ...] = ()
    sid: str | None = None


@dataclass(frozen=True, slots=True)
class PolicyDocument:
    statements: tuple[Statement, ...]
    version: str | None = None

    def compile(self, execute_api: str | None = None) -> Policy:
        """The evaluable form; ``execute_api`` (``arn.api_arn``) replaces the ``execute-api:``
        shorthand of an imported resource policy."""
        return Policy(self, execute_api)


_STRING_OPS = ("StringEquals", "StringNotEquals", "StringEqualsIgnoreCase",
               "StringNotEqualsIgnoreCase", "StringLike", "StringNotLike")
_NUMERIC_OPS = ("NumericEquals", "NumericNotEquals", "NumericLessThan",
                "NumericLessThanEquals", "NumericGreaterThan", "NumericGreaterThanEquals")
_DATE_OPS = tuple(op.replace("Numeric", "Date") for op in _NUMERIC_OPS)
_ARN_OPS = ("ArnEquals", "ArnLike", "ArnNotEquals", "ArnNotLike")
OPERATORS: frozenset[str] = frozenset(
    (*_STRING_OPS, *_NUMERIC_OPS, *_DATE_OPS, *_ARN_OPS, "Bool", "IpAddress", "NotIpAddress",
     "Null"))
# "If the key is not present ... the condition is false; if the operator requires that the key
# is not matched (StringNotLike, ArnNotLike, ...), the condition is true" (IAM condition docs).
_NEGATED = frozenset(op for op in OPERATORS if "Not" in op)

_STATEMENT_KEYS = frozenset({"Sid", "Effect", "Action", "NotAction", "Resource", "NotResource",
                             "Principal", "NotPrincipal", "Condition"})


def parse_policy(document: Any, *, resource_policy: bool = False) -> PolicyDocument:
    """Check a policy (a JSON string or a parsed object) and return it parsed.

    ``resource_policy``: an API's resource policy, which needs a Principal in every statement
    and is at most 8,192 characters as text. Raises ``PolicyError`` naming every bad field."""
    problems: list[tuple[PathT, str]] = []
    if isinstance(document, str | bytes):
        if resource_policy and len(document) > MAX_RESOURCE_POLICY_CHARS:
            raise PolicyError([((), f"must be at most {MAX_RESOURCE_POLICY_CHARS} characters, "
                                    f"got {len(document)}")])
        try:
            document = orjson.loads(document)
        except orjson.JSONDecodeError as e:
            raise PolicyError([((), f"is not valid JSON: {e}")]) from None
    elif resource_policy:
        size = len(orjson.dumps(document, default=str))
        if size > MAX_RESOURCE_POLICY_CHARS:
            raise PolicyError([((), f"must be at most {MAX_RESOURCE_POLICY_CHARS} characters "
                                    f"as JSON, got {size}")])
    if not isinstance(document, dict):
        raise PolicyError([((), "must be a policy document (a JSON object)")])
    version = document.get("Version")
    if version is not None and version not in ("2012-10-17", "2008-10-17"):
        problems.append((("Version",), "must be 2012-10-17 or 2008-10-17"))
    problems.extend(((str(key),), "unknown field (allowed: Version, Id, Statement)")
                    for key in document if key not in ("Version", "Id", "Statement"))
    raw = document.get("Statement")
    if raw is None:
        problems.append((("Statement",), "is required"))
        raw = []
    items = [raw] if isinstance(raw, dict) else raw
    if not isinstance(items, list):
        problems.append((("Statement",), "must be a statement or a list of statements"))
        items = []
    statements = []
    for i, item in enumerate(items):
        where: PathT = ("Statement", i) if isinstance(raw, list) else ("Statement",)
        st = _statement(item, where, problems, resource_policy)
        if st is not None:
            statements.append(st)
    if problems:
        raise PolicyError(problems)
    return PolicyDocument(tuple(statements), version)


def _statement(item: Any, where: PathT, problems: list[tuple[PathT, str]],
               resource_policy: bool) -> Statement | None:
    if not isinstance(item, dict):
        problems.append((where, "must be a statement (a JSON object)"))
        return None
    before = len(problems)
    allowed = ", ".join(sorted(_STATEMENT_KEYS))
    problems.extend(((*where, str(key)), f"unknown field (allowed: {allowed})")
                    for key in item if key not in _STATEMENT_KEYS)
    effect: Literal["Allow", "Deny"] = item.get("Effect", "Allow")
    if item.get("Effect") not in ("Allow", "Deny"):
        problems.append(((*where, "Effect"), "must be Allow or Deny"))
    actions, not_action = _one_of(item, "Action", where, problems)
    resources, not_resource = _one_of(item, "Resource", where, problems)
    principals: tuple[str, ...] | None = None
    not_principal = False
    if "Principal" in item or "NotPrincipal" in item or resource_policy:
        name = "NotPrincipal" if "NotPrincipal" in item else "Principal"
        not_principal = name == "NotPrincipal"
        if "Principal" in item and "NotPrincipal" in item:
            problems.append(((*where, "NotPrincipal"), "a statement has Principal or "
                             "NotPrincipal, not both"))
        elif name not in item:
            problems.append(((*where, "Principal"), "is required in a resource policy"))
        else:
            principals = _principals(item[name], (*where, name), problems)
    conditions = _conditions(item.get("Condition"), (*where, "Condition"), problems)
    sid = item.get("Sid")
    if sid is not None and not isinstance(sid, str):
        problems.append(((*where, "Sid"), "must be a string"))
    if len(problems) > before:
        return None
    return Statement(effect, actions, resources, not_action, not_resource, principals,
                     not_principal, conditions, sid)


def _one_of(item: dict[str, Any], name: str, where: PathT,
            problems: list[tuple[PathT, str]]) -> tuple[tuple[str, ...], bool]:
    negated = f"Not{name}"
    if name in item and negated in item:
        problems.append(((*where, negated), f"a statement has {name} or {negated}, not both"))
        return (), False
    if name not in item and negated not in item:
        problems.append(((*where, name), f"is required (or {negated})"))
        return (), False
    key = name if name in item else negated
    return _strings(item[key], (*where, key), problems), key == negated


def _strings(value: Any, where: PathT, problems: list[tuple[PathT, str]]) -> tuple[str, ...]:
    values = value if isinstance(value, list) else [value]
    if not values or not all(isinstance(v, str) and v for v in values):
        problems.append((where, "must be a non-empty string or a list of them"))
        return ()
    return tuple(values)


def _principals(value: Any, where: PathT,
                problems: list[tuple[PathT, str]]) -> tuple[str, ...] | None:
    if value == "*":
        return ("*",)
    if not isinstance(value, dict) or not value:
        problems.append((where, 'must be "*" or a mapping such as {"AWS": [ARNs or account ids]}'))
        return None
    found: list[str] = []
    for kind, names in value.items():
        if kind not in ("AWS", "Service", "Federated", "CanonicalUser"):
            problems.append(((*where, str(kind)), "must be AWS, Service, Federated or "
                             "CanonicalUser"))
            continue
        parsed = _strings(names, (*where, kind), problems)
        if kind == "AWS":
            for i, name in enumerate(parsed):
                if name != "*" and not _AWS_PRINCIPAL.fullmatch(name):
                    problems.append(((*where, kind, i) if isinstance(names, list) else
                                     (*where, kind), "must be *, a 12-digit account id or an "
                                     "arn:aws:iam::ACCOUNT:... ARN"))
            found.extend(parsed)
        # Service, Federated and CanonicalUser principals are never callers here.
    return tuple(found)


_AWS_PRINCIPAL = re.compile(r"[0-9]{12}|arn:aws[a-z-]*:(iam|sts)::[0-9]{12}:.+")


def _conditions(value: Any, where: PathT,
                problems: list[tuple[PathT, str]]) -> tuple[Condition, ...]:
    if value is None:
        return ()
    if not isinstance(value, dict):
        problems.append((where, "must be a mapping of condition operators"))
        return ()
    out: list[Condition] = []
    for op_name, block in value.items():
        at = (*where, str(op_name))
        qualifier, _, base = str(op_name).rpartition(":")
        if_exists = base.endswith("IfExists") and base != "IfExists"
        base = base.removesuffix("IfExists") if if_exists else base
        if base not in OPERATORS or (if_exists and base == "Null") or (
                qualifier and qualifier not in ("ForAnyValue", "ForAllValues")):
            problems.append((at, "unknown condition operator (allowed: " + ", ".join(sorted(
                OPERATORS)) + ", with IfExists and a ForAnyValue:/ForAllValues: prefix)"))
            continue
        if not isinstance(block, dict) or not block:
            problems.append((at, "must be a mapping of condition keys to values"))
            continue
        for key, raw in block.items():
            values = _condition_values(raw)
            if values is None:
                problems.append(((*at, str(key)), "must be a string, number or boolean, "
                                 "or a non-empty list of them"))
                continue
            bad = _bad_value(base, values)
            if bad is not None:
                problems.append(((*at, str(key)), bad))
                continue
            out.append(Condition(base, str(key).lower(), values, if_exists, qualifier or None))
    return tuple(out)


def _condition_values(raw: Any) -> tuple[str, ...] | None:
    items = raw if isinstance(raw, list) else [raw]
    out = []
    for v in items:
        if isinstance(v, bool):
            out.append("true" if v else "false")
        elif isinstance(v, int | float | str):
            out.append(str(v))
        else:
            return None
    return tuple(out) if out else None


def _bad_value(op: str, values: tuple[str, ...]) -> str | None:
    for v in values:
        if op in ("IpAddress", "NotIpAddress"):
            try:
                ipaddress.ip_network(v, strict=False)
            except ValueError:
                return f"{v!r} is not an IP address or CIDR block"
        elif op.startswith("Numeric") and _number(v) is None:
            return f"{v!r} is not a number"
        elif op.startswith("Date") and _date(v) is None:
            return f"{v!r} is not a date (ISO 8601 or epoch seconds)"
        elif op in ("Bool", "Null") and v.lower() not in ("true", "false"):
            return f"{v!r} is not true or false"
    return None


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


_ISO = re.compile(r"(\d{4})-(\d{2})-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?)?Z?")


def _date(text: str) -> float | None:
    if re.fullmatch(r"\d+", text):
        return float(text)
    m = _ISO.fullmatch(text)
    if m is None:
        return None
    y, mo, d, h, mi, s = (int(g) if g else 0 for g in m.groups())
    try:
        return float(calendar.timegm((y, mo, d, h, mi, s, 0, 0, 0)))
    except (ValueError, OverflowError):
        return None


# --- compiled ----------------------------------------------------------------------------

Check = Callable[[RequestFacts], bool]
PrincipalCheck = Callable[[IamIdentity | None], bool]


def _wildcard(pattern: str, *, ignore_case: bool = False) -> re.Pattern[str]:
    body = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.compile(body, re.DOTALL | (re.IGNORECASE if ignore_case else 0))


def _grants_invoke(st: Statement) -> bool:
    hit = any(_wildcard(a, ignore_case=True).fullmatch(INVOKE) for a in st.actions)
    return hit != st.not_action


class _Compiled:
    __slots__ = ("conditions", "deny", "exact", "negate", "pattern", "principal")

    def __init__(self, st: Statement, execute_api: str | None) -> None:
        self.deny = st.effect == "Deny"
        resources = [
            execute_api + r.removeprefix("execute-api:")
            if execute_api and r.startswith("execute-api:") else r
            for r in st.resources
        ]
        # A plain ARN is a set lookup; wildcards become one alternation, matched once.
        self.exact = frozenset(r for r in resources if "*" not in r and "?" not in r)
        wild = [r for r in resources if r not in self.exact]
        self.pattern = (
            re.compile("|".join(f"(?:{_wildcard(w).pattern})" for w in wild), re.DOTALL)
            if wild else None
        )
        self.negate = st.not_resource
        # None when every caller is a principal (no Principal element, or "*"); otherwise
        # the statement cannot be decided before the caller is known
        self.principal = _principal_check(st)
        self.conditions = tuple(_condition_check(c) for c in st.conditions)

    def covers(self, arn: str) -> bool:
        hit = arn in self.exact or (self.pattern is not None and
                                    self.pattern.fullmatch(arn) is not None)
        return hit != self.negate


class Policy:
    """A policy compiled for one API; ``evaluate`` is the per-request call."""

    __slots__ = ("_memo", "_statements", "document")

    _MEMO_MAX = 4096

    def __init__(self, document: PolicyDocument, execute_api: str | None = None) -> None:
        self.document = document
        self._statements = tuple(
            _Compiled(st, execute_api) for st in document.statements if _grants_invoke(st))
        # With neither principals nor conditions the answer depends on the ARN alone, so it is
        # remembered per ARN: a warm authorizer route pays one dict lookup (~90 ns an
        # evaluation against ~380 ns for two wildcard resources, timeit).
        plain = all(s.principal is None and not s.conditions for s in self._statements)
        self._memo: dict[str, Decision] | None = {} if plain else None

    @property
    def needs_facts(self) -> bool:
        """Whether evaluation reads the request (conditions or principals)."""
        return self._memo is None

    @property
    def names_principals(self) -> bool:
        """Whether a statement names principals other than everyone, so the answer depends on
        who the caller is (an AWS_IAM signer, or anonymous)."""
        return any(st.principal is not None for st in self._statements)

    def evaluate(self, arn: str, facts: RequestFacts = ANONYMOUS, *,
                 before_caller: bool = False) -> Decision:
        """``before_caller``: the resource policy's first phase, before the authorizer: the
        statements that name principals are left out (they are decided once the caller is
        known), so only what holds for any caller can deny there."""
        memo = self._memo
        if memo is not None:
            decision = memo.get(arn)
            if decision is None:
                if len(memo) >= self._MEMO_MAX:
                    memo.clear()
                decision = memo[arn] = self._evaluate(arn, facts, False)
            return decision
        return self._evaluate(arn, facts, before_caller)

    def _evaluate(self, arn: str, facts: RequestFacts, before_caller: bool) -> Decision:
        allowed = False
        for st in self._statements:
            principal = st.principal
            if not st.covers(arn) or (principal is not None and (
                    before_caller or not principal(facts.caller))):
                continue
            if st.conditions and not all(check(facts) for check in st.conditions):
                continue
            if st.deny:
                return DENY  # an explicit deny wins over any allow
            allowed = True
        return ALLOW if allowed else NO_DECISION


def _principal_check(st: Statement) -> PrincipalCheck | None:
    """Whether a caller is among the statement's principals; None when every caller is (no
    Principal element, or ``"*"``), so a policy of such statements is memoised per ARN."""
    names = st.principals
    if names is None or ("*" in names and not st.not_principal):
        return None
    if "*" in names:  # NotPrincipal "*": no caller
        matches: PrincipalCheck = lambda caller: True  # noqa: E731
    else:
        accounts = frozenset(n if n.isdigit() else n.split(":")[4] for n in names
                             if n.isdigit() or n.endswith(":root"))
        arns = frozenset(n for n in names if not n.isdigit() and not n.endswith(":root"))
        roles = frozenset((n.split(":")[4], n.rsplit("/", 1)[-1]) for n in arns
                          if n.split(":", 5)[-1].startswith("role/"))

        def matches(caller: IamIdentity | None) -> bool:
            if caller is None:
                return False
            if caller.account_id in accounts or caller.user_arn in arns:
                return True
            resource = caller.user_arn.split(":", 5)[-1]
            if resource.startswith("assumed-role/"):  # a role's sessions are the role
                role = resource.split("/")[1]
                return (caller.account_id, role) in roles
            return False

    if st.not_principal:
        return lambda caller: not matches(caller)
    return matches


KeyReader = Callable[[RequestFacts], str | None]


def _caller_field(read: Callable[[IamIdentity], str | None]) -> KeyReader:
    return lambda f: None if f.caller is None else read(f.caller)


# The condition keys API Gateway resource policies support (DG
# apigateway-resource-policies-aws-condition-keys.md) that have a value outside AWS. The rest
# (aws:SourceVpc, aws:SourceVpce, aws:PrincipalOrgID, aws:PrincipalTag/..., ...) are absent.
CONDITION_KEYS: Mapping[str, KeyReader] = {
    "aws:sourceip": lambda f: f.source_ip,
    "aws:currenttime": lambda f: time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(f.now)),
    "aws:epochtime": lambda f: str(int(f.now)),
    "aws:referer": lambda f: f.referer,
    "aws:useragent": lambda f: f.user_agent,
    "aws:securetransport": lambda f: "true" if f.secure_transport else "false",
    "aws:principalarn": _caller_field(lambda c: c.user_arn),
    "aws:principalaccount": _caller_field(lambda c: c.account_id),
    "aws:principaltype": _caller_field(lambda c: c.principal_type),
    "aws:userid": _caller_field(lambda c: c.user_id),
    "aws:username": _caller_field(lambda c: c.username),
}

Matcher = Callable[[str], bool]


def _condition_check(c: Condition) -> Check:
    op = c.operator
    if op == "Null":
        want_absent = c.values[0].lower() == "true"
        read = CONDITION_KEYS.get(c.key)
        return lambda f: ((read(f) if read else None) is None) == want_absent
    if op in ("IpAddress", "NotIpAddress"):
        return _ip_check(c)
    read_key = CONDITION_KEYS.get(c.key)
    match = _matcher(op, c.values)
    negated = op in _NEGATED

    def check(f: RequestFacts) -> bool:
        value = read_key(f) if read_key is not None else None
        if value is None:
            return c.if_exists or negated or c.qualifier == "ForAllValues"
        return match(value)

    return check


def _matcher(op: str, values: tuple[str, ...]) -> Matcher:
    negated = op in _NEGATED
    base = op.replace("Not", "", 1) if negated else op
    test: Matcher
    if base in ("StringEquals", "ArnEquals", "Bool"):
        wanted = frozenset(v.lower() for v in values) if base == "Bool" else frozenset(values)
        test = (lambda v: v.lower() in wanted) if base == "Bool" else wanted.__contains__
    elif base == "StringEqualsIgnoreCase":
        folded = frozenset(v.casefold() for v in values)
        test = lambda v: v.casefold() in folded  # noqa: E731
    elif base in ("StringLike", "ArnLike"):
        pattern = re.compile("|".join(f"(?:{_wildcard(v).pattern})" for v in values), re.DOTALL)
        test = lambda v: pattern.fullmatch(v) is not None  # noqa: E731
    else:  # Numeric* and Date*
        parse = _number if base.startswith("Numeric") else _date
        bounds = [b for b in (parse(v) for v in values) if b is not None]
        compare = _COMPARE[base.removeprefix("Numeric").removeprefix("Date")]

        def test(v: str) -> bool:
            x = parse(v)
            return x is not None and any(compare(x, b) for b in bounds)

    if negated:
        return lambda v: not test(v)
    return test


_COMPARE: Mapping[str, Callable[[float, float], bool]] = {
    "Equals": lambda a, b: a == b,
    "LessThan": lambda a, b: a < b,
    "LessThanEquals": lambda a, b: a <= b,
    "GreaterThan": lambda a, b: a > b,
    "GreaterThanEquals": lambda a, b: a >= b,
}


def _ip_check(c: Condition) -> Check:
    networks = tuple(ipaddress.ip_network(v, strict=False) for v in c.values)
    negated = c.operator == "NotIpAddress"
    source = c.key == "aws:sourceip"

    def check(f: RequestFacts) -> bool:
        ip = f.ip() if source else None
        if ip is None:
            return c.if_exists or negated
        hit = any(ip.version == n.version and ip in n for n in networks)
        return hit != negated

    return check


# --- combining the authorizer and the resource policy ---------------------------------------

AuthKind = Literal["NONE", "CUSTOM", "COGNITO_USER_POOLS", "AWS_IAM"]

EXPLICIT_DENY = "User is not authorized to access this resource with an explicit deny"
IMPLICIT_DENY = "User is not authorized to access this resource"


def resource_message(caller: str, arn: str, *, explicit: bool) -> str:
    """The ACCESS_DENIED message of a resource policy, naming the caller and the (masked) ARN;
    the implicit form as observed in 2024 (serverless#11808, hyp3#2283)."""
    text = (f"User: {caller} is not authorized to perform: execute-api:Invoke on resource: "
            f"{mask_account(arn)}")
    return f"{text} with an explicit deny" if explicit else text


def authorize(kind: AuthKind, authorizer: Decision, resource: Decision | None, arn: str,
              *, caller: str = "anonymous", cross_account: bool = False) -> None:
    """Decide after the authorizer, or raise ``AccessDenied`` with AWS's message.

    ``kind``: the method's authorization type. ``authorizer``: a Lambda authorizer's policy
    evaluated for ``arn``, ALLOW for a verified Cognito token or SigV4 signer, ignored for
    NONE. ``resource``: the resource policy's decision, None when the API has none.
    ``caller``: the IAM user ARN for AWS_IAM. ``cross_account``: an IAM caller from another
    account than the API's (Table B: both policies must allow)."""
    if kind == "NONE":
        if resource is None or resource == ALLOW:
            return
        raise AccessDenied(resource_message(caller, arn, explicit=resource == DENY))
    if resource is None:
        if kind == "AWS_IAM" and cross_account:
            # No resource policy can grant another account's caller (Table B, "neither").
            raise AccessDenied(resource_message(caller, arn, explicit=False))
        if authorizer == ALLOW:
            return
        raise AccessDenied(EXPLICIT_DENY if authorizer == DENY else IMPLICIT_DENY)
    if authorizer == DENY:
        raise AccessDenied(EXPLICIT_DENY if kind == "CUSTOM" else
                           resource_message(caller, arn, explicit=True))
    if resource == DENY:
        raise AccessDenied(resource_message(caller, arn, explicit=True))
    granted = (authorizer == ALLOW and resource == ALLOW) if cross_account else (
        authorizer == ALLOW or resource == ALLOW)
    if not granted:
        raise AccessDenied(IMPLICIT_DENY if kind == "CUSTOM" else
                           resource_message(caller, arn, explicit=False))
