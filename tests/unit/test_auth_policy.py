"""IAM policy evaluation for authorizer outputs and resource policies, and AWS's combination
tables (DG apigateway-authorization-flow.md, Tables A and B)."""

from __future__ import annotations

import itertools

import pytest

from proxy.auth._types import IamIdentity, RequestFacts
from proxy.auth.arn import api_arn, mask_account, method_arn
from proxy.auth.policy import (
    ALLOW,
    DENY,
    NO_DECISION,
    PolicyError,
    authorize,
    parse_policy,
)
from proxy.errors import AccessDenied

PREFIX = api_arn("us-east-1", "123456789012", "a1b2c3")
GET_PETS = method_arn(PREFIX, "prod", "GET", "/pets/1")


def policy(*statements, resource=False, prefix=None):
    return parse_policy({"Version": "2012-10-17", "Statement": list(statements)},
                        resource_policy=resource).compile(prefix)


def allow(resource, **extra):
    return {"Effect": "Allow", "Action": "execute-api:Invoke", "Resource": resource, **extra}


def deny(resource, **extra):
    return {"Effect": "Deny", "Action": "execute-api:Invoke", "Resource": resource, **extra}


ALICE = IamIdentity("AKIAALICE000000001", "arn:aws:iam::123456789012:user/alice",
                    "123456789012", "AIDAALICE")
BOB = IamIdentity("AKIABOB00000000001", "arn:aws:iam::210987654321:user/bob",
                  "210987654321", "AIDABOB")


def test_method_arn_and_masking():
    assert GET_PETS == "arn:aws:execute-api:us-east-1:123456789012:a1b2c3/prod/GET/pets/1"
    assert method_arn(PREFIX, "prod", "GET", "/").endswith("a1b2c3/prod/GET/")
    assert mask_account(GET_PETS) == "arn:aws:execute-api:us-east-1:********9012:a1b2c3/prod/GET/pets/1"


class TestResources:
    @pytest.mark.parametrize(("pattern", "arn", "expected"), [
        (GET_PETS, GET_PETS, ALLOW),
        (f"{PREFIX}/*", GET_PETS, ALLOW),
        (f"{PREFIX}/*/GET/*", GET_PETS, ALLOW),
        (f"{PREFIX}/*/POST/*", GET_PETS, NO_DECISION),
        (f"{PREFIX}/prod/GET/pets/?", GET_PETS, ALLOW),
        (f"{PREFIX}/prod/GET/pets/?", GET_PETS + "0", NO_DECISION),
        (f"{PREFIX}/prod/GET/pets", GET_PETS, NO_DECISION),  # no implicit prefix match
        (f"{PREFIX}/prod/get/pets/1", GET_PETS, NO_DECISION),  # ARNs are case-sensitive
        ("*", GET_PETS, ALLOW),
        ("arn:aws:execute-api:*:*:*", GET_PETS, ALLOW),
        (f"{PREFIX}/prod/GET/pets/1.", GET_PETS, NO_DECISION),  # '.' is literal
    ])
    def test_wildcards(self, pattern, arn, expected):
        assert policy(allow(pattern)).evaluate(arn) == expected

    def test_resource_list_and_not_resource(self):
        p = policy(allow([f"{PREFIX}/prod/POST/*", f"{PREFIX}/prod/GET/pets/*"]))
        assert p.evaluate(GET_PETS) == ALLOW
        assert p.evaluate(method_arn(PREFIX, "prod", "DELETE", "/pets/1")) == NO_DECISION
        p = policy({"Effect": "Allow", "Action": "execute-api:Invoke",
                    "NotResource": f"{PREFIX}/prod/DELETE/*"})
        assert p.evaluate(GET_PETS) == ALLOW
        assert p.evaluate(method_arn(PREFIX, "prod", "DELETE", "/pets/1")) == NO_DECISION

    def test_explicit_deny_wins(self):
        p = policy(allow(f"{PREFIX}/*"), deny(f"{PREFIX}/*/GET/pets/*"))
        assert p.evaluate(GET_PETS) == DENY
        assert p.evaluate(method_arn(PREFIX, "prod", "GET", "/toys")) == ALLOW

    def test_single_statement_object(self):
        doc = parse_policy({"Statement": allow(GET_PETS)})
        assert doc.compile().evaluate(GET_PETS) == ALLOW

    def test_execute_api_shorthand_is_expanded_for_the_api(self):
        p = policy(allow("execute-api:/*/GET/*", Principal="*"), resource=True, prefix=PREFIX)
        assert p.evaluate(GET_PETS) == ALLOW
        other = method_arn(api_arn("us-east-1", "123456789012", "zzz"), "prod", "GET", "/pets/1")
        assert p.evaluate(other) == NO_DECISION

    def test_memo_answers_like_evaluation(self):
        p = policy(allow(f"{PREFIX}/*/GET/*"))
        assert not p.needs_facts
        for _ in range(3):
            assert p.evaluate(GET_PETS) == ALLOW
            assert p.evaluate(method_arn(PREFIX, "prod", "PUT", "/x")) == NO_DECISION


class TestActions:
    @pytest.mark.parametrize(("action", "expected"), [
        ("execute-api:Invoke", ALLOW),
        ("execute-api:invoke", ALLOW),  # actions are case-insensitive
        ("execute-api:*", ALLOW),
        ("*", ALLOW),
        ("execute-api:Inv*", ALLOW),
        (["s3:GetObject", "execute-api:Invoke"], ALLOW),
        ("execute-api:ManageConnections", NO_DECISION),
        ("s3:*", NO_DECISION),
    ])
    def test_action(self, action, expected):
        p = policy({"Effect": "Allow", "Action": action, "Resource": "*"})
        assert p.evaluate(GET_PETS) == expected

    def test_not_action(self):
        p = policy({"Effect": "Deny", "NotAction": "s3:*", "Resource": "*"})
        assert p.evaluate(GET_PETS) == DENY


class TestPrincipals:
    @pytest.mark.parametrize(("principal", "caller", "expected"), [
        ("*", None, ALLOW),
        ({"AWS": "*"}, None, ALLOW),
        ({"AWS": "123456789012"}, None, NO_DECISION),
        ({"AWS": "123456789012"}, ALICE, ALLOW),
        ({"AWS": "arn:aws:iam::123456789012:root"}, ALICE, ALLOW),
        ({"AWS": "arn:aws:iam::123456789012:root"}, BOB, NO_DECISION),
        ({"AWS": ["arn:aws:iam::210987654321:user/bob"]}, BOB, ALLOW),
        ({"AWS": ["arn:aws:iam::210987654321:user/bob"]}, ALICE, NO_DECISION),
        ({"Service": "lambda.amazonaws.com"}, ALICE, NO_DECISION),
    ])
    def test_principal(self, principal, caller, expected):
        p = policy(allow("*", Principal=principal), resource=True)
        assert p.evaluate(GET_PETS, RequestFacts("10.0.0.1", caller=caller)) == expected

    def test_assumed_role_session_matches_its_role(self):
        session = IamIdentity("ASIAX", "arn:aws:sts::123456789012:assumed-role/Deployer/ci",
                              "123456789012", "AROAX:ci")
        p = policy(allow("*", Principal={"AWS": "arn:aws:iam::123456789012:role/Deployer"}),
                   resource=True)
        assert p.evaluate(GET_PETS, RequestFacts(caller=session)) == ALLOW
        assert p.evaluate(GET_PETS, RequestFacts(caller=ALICE)) == NO_DECISION

    def test_not_principal(self):
        p = policy(deny("*", NotPrincipal={"AWS": "123456789012"}), resource=True)
        assert p.evaluate(GET_PETS, RequestFacts(caller=BOB)) == DENY
        assert p.evaluate(GET_PETS, RequestFacts(caller=ALICE)) == NO_DECISION

    @pytest.mark.parametrize("principal", ["*", {"AWS": "*"}])
    def test_everyone_is_memoised_per_arn(self, principal):
        # the most common resource policy reads nothing of the request or the caller
        p = policy(allow(f"{PREFIX}/*/GET/*", Principal=principal),
                   deny(f"{PREFIX}/*/DELETE/*", Principal=principal), resource=True)
        assert not p.needs_facts and not p.names_principals
        for facts in (RequestFacts(), RequestFacts("10.0.0.1", caller=ALICE)):
            for before_caller in (True, False):
                assert p.evaluate(GET_PETS, facts, before_caller=before_caller) == ALLOW
                assert p.evaluate(method_arn(PREFIX, "prod", "DELETE", "/pets/1"), facts,
                                  before_caller=before_caller) == DENY
                assert p.evaluate(method_arn(PREFIX, "prod", "PUT", "/x"), facts,
                                  before_caller=before_caller) == NO_DECISION

    def test_not_principal_everyone_matches_no_caller(self):
        p = policy(allow("*", NotPrincipal="*"), resource=True)
        assert p.needs_facts and p.names_principals
        assert p.evaluate(GET_PETS, RequestFacts(caller=ALICE)) == NO_DECISION
        assert p.evaluate(GET_PETS, RequestFacts()) == NO_DECISION

    def test_named_principals_wait_for_the_caller(self):
        p = policy(allow("*", Principal={"AWS": "123456789012"}), resource=True)
        assert p.needs_facts and p.names_principals
        assert p.evaluate(GET_PETS, RequestFacts(caller=ALICE), before_caller=True) \
            == NO_DECISION
        assert p.evaluate(GET_PETS, RequestFacts(caller=ALICE)) == ALLOW


class TestConditions:
    def ip_policy(self, op, cidrs):
        return policy(allow("*", Principal="*", Condition={op: {"aws:SourceIp": cidrs}}),
                      resource=True)

    @pytest.mark.parametrize(("ip", "expected"), [
        ("192.0.2.7", ALLOW), ("198.51.100.255", ALLOW), ("203.0.113.1", NO_DECISION),
        ("2001:db8::1", ALLOW), ("2001:db9::1", NO_DECISION),
        ("::ffff:192.0.2.7", ALLOW),  # a dual-stack socket's IPv4 client
        ("not-an-ip", NO_DECISION), (None, NO_DECISION),
    ])
    def test_ip_address(self, ip, expected):
        p = self.ip_policy("IpAddress", ["192.0.2.0/24", "198.51.100.0/24", "2001:db8::/32"])
        assert p.evaluate(GET_PETS, RequestFacts(ip)) == expected

    @pytest.mark.parametrize(("ip", "expected"), [
        ("192.0.2.7", NO_DECISION), ("203.0.113.1", ALLOW), (None, ALLOW)])
    def test_not_ip_address(self, ip, expected):
        p = self.ip_policy("NotIpAddress", "192.0.2.0/24")
        assert p.evaluate(GET_PETS, RequestFacts(ip)) == expected

    def test_deny_outside_an_allow_list_with_a_single_address(self):
        p = policy(allow("execute-api:/*", Principal="*"),
                   deny("execute-api:/*", Principal="*",
                        Condition={"NotIpAddress": {"aws:SourceIp": "127.0.0.1"}}),
                   resource=True, prefix=PREFIX)
        assert p.evaluate(GET_PETS, RequestFacts("127.0.0.1")) == ALLOW
        assert p.evaluate(GET_PETS, RequestFacts("127.0.0.2")) == DENY

    @pytest.mark.parametrize(("op", "values", "value", "expected"), [
        ("StringEquals", "alice", "alice", True),
        ("StringEquals", ["bob", "alice"], "alice", True),
        ("StringEquals", "Alice", "alice", False),
        ("StringNotEquals", "alice", "alice", False),
        ("StringNotEquals", "bob", "alice", True),
        ("StringEqualsIgnoreCase", "ALICE", "alice", True),
        ("StringNotEqualsIgnoreCase", "ALICE", "alice", False),
        ("StringLike", "al*", "alice", True),
        ("StringLike", "a?ice", "alice", True),
        ("StringLike", "b*", "alice", False),
        ("StringNotLike", "b*", "alice", True),
        ("StringNotLike", "a*", "alice", False),
    ])
    def test_string_operators_on_username(self, op, values, value, expected):
        p = policy(allow("*", Principal="*", Condition={op: {"aws:username": values}}),
                   resource=True)
        caller = IamIdentity("AK", f"arn:aws:iam::123456789012:user/{value}", "123456789012", "U")
        assert (p.evaluate(GET_PETS, RequestFacts(caller=caller)) == ALLOW) is expected

    @pytest.mark.parametrize(("op", "expected"), [
        ("StringEquals", NO_DECISION),  # absent key: a positive operator is false
        ("StringNotEquals", ALLOW),  # ... a negated one is true
        ("StringLikeIfExists", ALLOW),  # ... IfExists is true
    ])
    def test_absent_keys(self, op, expected):
        p = policy(allow("*", Principal="*", Condition={op: {"aws:PrincipalArn": "x"}}),
                   resource=True)
        assert p.evaluate(GET_PETS, RequestFacts("10.0.0.1")) == expected

    def test_keys_are_case_insensitive_and_all_must_hold(self):
        p = policy(allow("*", Principal="*", Condition={
            "StringLike": {"AWS:UserAgent": "curl/*", "aws:Referer": "https://example.com/*"},
            "IpAddress": {"aws:sourceip": "10.0.0.0/8"}}), resource=True)
        ok = RequestFacts("10.1.2.3", user_agent="curl/8.0", referer="https://example.com/a")
        assert p.evaluate(GET_PETS, ok) == ALLOW
        wrong_ip = RequestFacts("11.1.2.3", user_agent="curl/8.0",
                                referer="https://example.com/a")
        assert p.evaluate(GET_PETS, wrong_ip) == NO_DECISION
        no_referer = RequestFacts("10.1.2.3", user_agent="curl/8.0")
        assert p.evaluate(GET_PETS, no_referer) == NO_DECISION

    def test_principal_keys_and_dates(self):
        p = policy(allow("*", Principal="*", Condition={
            "ArnLike": {"aws:PrincipalArn": "arn:aws:iam::123456789012:user/*"},
            "StringEquals": {"aws:PrincipalAccount": "123456789012", "aws:PrincipalType": "User",
                             "aws:userid": "AIDAALICE"},
            "DateLessThan": {"aws:CurrentTime": "2030-01-01T00:00:00Z"},
            "NumericGreaterThan": {"aws:EpochTime": 1_600_000_000},
            "Bool": {"aws:SecureTransport": False},
            "Null": {"aws:PrincipalArn": "false"}}), resource=True)
        now = 1_700_000_000.0
        assert p.evaluate(GET_PETS, RequestFacts(caller=ALICE, now=now)) == ALLOW
        assert p.evaluate(GET_PETS, RequestFacts(caller=BOB, now=now)) == NO_DECISION
        assert p.evaluate(GET_PETS, RequestFacts(caller=ALICE, now=2e9)) == NO_DECISION
        assert p.evaluate(GET_PETS, RequestFacts(caller=None, now=now)) == NO_DECISION

    def test_unknown_keys_are_absent(self):
        p = policy(deny("*", Principal="*",
                        Condition={"StringNotEquals": {"aws:SourceVpce": "vpce-1a2b3c4d"}}),
                   resource=True)
        # The DG's VPC-endpoint example denies every call that did not come through one.
        assert p.evaluate(GET_PETS, RequestFacts("10.0.0.1")) == DENY


class TestParsing:
    def test_json_string(self):
        doc = parse_policy('{"Statement":[{"Effect":"Allow","Action":"execute-api:Invoke",'
                           '"Resource":"*","Principal":"*"}]}', resource_policy=True)
        assert doc.statements[0].principals == ("*",)

    @pytest.mark.parametrize(("document", "where", "message"), [
        ("{", "", "not valid JSON"),
        ([], "", "policy document"),
        ({"Statement": [{"Action": "x", "Resource": "*"}]}, "Statement[0].Effect", "Allow or Deny"),
        ({"Statement": [{"Effect": "Permit", "Action": "x", "Resource": "*"}]},
         "Statement[0].Effect", "Allow or Deny"),
        ({"Statement": [{"Effect": "Allow", "Resource": "*"}]}, "Statement[0].Action", "required"),
        ({"Statement": [{"Effect": "Allow", "Action": "x"}]}, "Statement[0].Resource", "required"),
        ({"Statement": [{"Effect": "Allow", "Action": [], "Resource": "*"}]},
         "Statement[0].Action", "non-empty"),
        ({"Statement": [{"Effect": "Allow", "Action": "x", "Resource": "*", "Conditon": {}}]},
         "Statement[0].Conditon", "unknown field"),
        ({"Statement": [{"Effect": "Allow", "Action": "x", "Resource": "*",
                         "Condition": {"IpAdress": {"aws:SourceIp": "1.2.3.4"}}}]},
         "Statement[0].Condition.IpAdress", "unknown condition operator"),
        ({"Statement": [{"Effect": "Allow", "Action": "x", "Resource": "*",
                         "Condition": {"IpAddress": {"aws:SourceIp": "1.2.3.400"}}}]},
         "Statement[0].Condition.IpAddress.aws:SourceIp", "not an IP address"),
        ({"Version": "2020-01-01", "Statement": []}, "Version", "2012-10-17"),
        ({"Statment": []}, "Statement", "required"),
    ])
    def test_problems_name_the_field(self, document, where, message):
        with pytest.raises(PolicyError) as info:
            parse_policy(document)
        assert any(m and message in m and (where == "" or str(where) in str(info.value))
                   for _, m in info.value.problems), info.value

    def test_resource_policy_needs_principal_and_size(self):
        with pytest.raises(PolicyError, match=r"Statement\[0\]\.Principal: is required"):
            parse_policy({"Statement": [allow("*")]}, resource_policy=True)
        big = '{"Statement":[' + ",".join(['{"Effect":"Allow","Action":"execute-api:Invoke",'
                                           '"Principal":"*","Resource":"*"}'] * 120) + "]}"
        assert len(big) > 8192
        with pytest.raises(PolicyError, match="at most 8192 characters"):
            parse_policy(big, resource_policy=True)
        parse_policy(big)  # an authorizer's policy is not bound by the resource-policy limit

    def test_every_problem_is_reported(self):
        with pytest.raises(PolicyError) as info:
            parse_policy({"Statement": [{"Effect": "x", "Action": "x", "Resource": "*"},
                                        {"Effect": "Allow", "Resource": "*"}]})
        assert len(info.value.problems) == 2


# --- Tables A and B ---------------------------------------------------------------------

TABLE_A = {  # (authorizer, resource policy) -> result, account A calls account A's API
    (ALLOW, ALLOW): ALLOW, (ALLOW, NO_DECISION): ALLOW, (ALLOW, DENY): DENY,
    (NO_DECISION, ALLOW): ALLOW, (NO_DECISION, NO_DECISION): NO_DECISION,
    (NO_DECISION, DENY): DENY,
    (DENY, ALLOW): DENY, (DENY, NO_DECISION): DENY, (DENY, DENY): DENY,
}
TABLE_B = {  # account B calls account A's API
    (ALLOW, ALLOW): ALLOW, (ALLOW, NO_DECISION): NO_DECISION, (ALLOW, DENY): DENY,
    (NO_DECISION, ALLOW): NO_DECISION, (NO_DECISION, NO_DECISION): NO_DECISION,
    (NO_DECISION, DENY): DENY,
    (DENY, ALLOW): DENY, (DENY, NO_DECISION): DENY, (DENY, DENY): DENY,
}


def outcome(kind, authorizer, resource, **kw):
    try:
        authorize(kind, authorizer, resource, GET_PETS, **kw)
    except AccessDenied as e:
        return DENY if "explicit deny" in e.message else NO_DECISION
    return ALLOW


@pytest.mark.parametrize(("pair", "kind"), list(itertools.product(TABLE_A, ["CUSTOM", "AWS_IAM"])))
def test_table_a(pair, kind):
    assert outcome(kind, *pair) == TABLE_A[pair]


@pytest.mark.parametrize("pair", TABLE_B)
def test_table_b(pair):
    assert outcome("AWS_IAM", *pair, caller=BOB.user_arn, cross_account=True) == TABLE_B[pair]


def test_no_resource_policy_follows_the_authorizer():
    assert outcome("CUSTOM", ALLOW, None) == ALLOW
    with pytest.raises(AccessDenied) as info:
        authorize("CUSTOM", DENY, None, GET_PETS)
    assert info.value.message == "User is not authorized to access this resource with an explicit deny"
    with pytest.raises(AccessDenied) as info:
        authorize("CUSTOM", NO_DECISION, None, GET_PETS)
    assert info.value.message == "User is not authorized to access this resource"
    # Another account's IAM caller needs a resource policy that allows it.
    assert outcome("AWS_IAM", ALLOW, None, cross_account=True) == NO_DECISION


def test_resource_policy_only_needs_an_explicit_allow():
    authorize("NONE", NO_DECISION, None, GET_PETS)
    authorize("NONE", NO_DECISION, ALLOW, GET_PETS)
    with pytest.raises(AccessDenied) as info:
        authorize("NONE", NO_DECISION, NO_DECISION, GET_PETS)
    assert info.value.message == (
        "User: anonymous is not authorized to perform: execute-api:Invoke on resource: "
        "arn:aws:execute-api:us-east-1:********9012:a1b2c3/prod/GET/pets/1")
    with pytest.raises(AccessDenied) as info:
        authorize("NONE", NO_DECISION, DENY, GET_PETS)
    assert info.value.message.endswith("a1b2c3/prod/GET/pets/1 with an explicit deny")
    assert info.value.response_type == "ACCESS_DENIED"
    assert "anonymous" not in str(info.value)  # exception text names only the type


def test_iam_denial_names_the_caller():
    with pytest.raises(AccessDenied) as info:
        authorize("AWS_IAM", ALLOW, DENY, GET_PETS, caller=ALICE.user_arn)
    assert info.value.message.startswith(
        "User: arn:aws:iam::123456789012:user/alice is not authorized to perform: "
        "execute-api:Invoke on resource: arn:aws:execute-api:us-east-1:********9012:")
