"""SigV4 verification against requests signed by botocore's own SigV4Auth and SigV4QueryAuth."""

from __future__ import annotations

import calendar
import email.utils
import logging
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

import pytest
from botocore.auth import SigV4Auth, SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from multidict import CIMultiDict

from proxy.auth.sigv4 import (
    SigV4Verifier,
    canonical_query,
    remove_dot_segments,
    unmatched_route,
)
from proxy.errors import InvalidSignature, MissingAuthenticationToken

SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
OTHER_SECRET = "je7MtGbClwBF/2Zp9Utk/h3yCo8nvbEXAMPLEKEY"


@dataclass(frozen=True)
class Cred:
    access_key_id: str
    secret_access_key: str
    user_arn: str
    user_id: str


ALICE = Cred("AKIAALICE000000001", SECRET, "arn:aws:iam::123456789012:user/alice", "AIDAALICE")
HOST = "a1b2c3.execute-api.us-east-1.amazonaws.com"


class Signed:
    """A botocore-signed request, as the verifier receives it, and when it was signed."""

    def __init__(self, request: AWSRequest, headers: dict[str, str] | None = None) -> None:
        parts = urlsplit(request.url)
        self.method = request.method
        self.path = parts.path
        self.query = parts.query
        self.body = request.body or b""
        if isinstance(self.body, str):
            self.body = self.body.encode()
        self.headers = CIMultiDict({"Host": parts.netloc})
        for name, value in request.headers.items():
            self.headers.add(name, value if isinstance(value, str) else value.decode())
        for name, value in (headers or {}).items():
            self.headers.add(name, value)
        if "Date" in self.headers and "X-Amz-Date" not in self.headers:
            self.signed_at = float(email.utils.mktime_tz(
                email.utils.parsedate_tz(self.headers["Date"])))
            return
        stamp = self.headers.get("X-Amz-Date") or _query_param(self.query, "X-Amz-Date")
        self.signed_at = float(calendar.timegm(time.strptime(stamp, "%Y%m%dT%H%M%SZ")))

    def verify(self, verifier: SigV4Verifier, **changes):
        args = {"method": self.method, "path": self.path, "query": self.query,
                "headers": self.headers, "body": self.body, **changes}
        return verifier.verify(args["method"], args["path"], args["query"], args["headers"],
                               args["body"])


def _query_param(query: str, name: str) -> str:
    return next(v for k, _, v in (p.partition("=") for p in query.split("&")) if k == name)


def sign(method="GET", path="/prod/pets", query="", body=None, headers=None, cred=ALICE,
         region="us-east-1", service="execute-api", presign=None, extra=None) -> Signed:
    url = f"https://{HOST}{path}" + (f"?{query}" if query else "")
    request = AWSRequest(method=method, url=url, data=body, headers=headers or {})
    credentials = Credentials(cred.access_key_id, cred.secret_access_key)
    if presign is None:
        SigV4Auth(credentials, service, region).add_auth(request)
    else:
        SigV4QueryAuth(credentials, service, region, expires=presign).add_auth(request)
    return Signed(request, extra)


def verifier_at(signed: Signed, offset: float = 0.0, **kw) -> SigV4Verifier:
    return SigV4Verifier([ALICE], clock=lambda: signed.signed_at + offset, **kw)


class TestAccepted:
    def test_header_form_gives_the_caller(self):
        s = sign()
        identity = s.verify(verifier_at(s))
        assert identity.access_key == "AKIAALICE000000001"
        assert identity.user_arn == "arn:aws:iam::123456789012:user/alice"
        assert identity.account_id == "123456789012"
        assert identity.user_id == "AIDAALICE"
        assert identity.username == "alice"

    @pytest.mark.parametrize(("path", "query"), [
        ("/prod/", ""),
        ("/prod/pets/a%20b/%C3%A9t%C3%A9", ""),  # reserved and non-ASCII characters
        ("/prod/pets/a%2Fb:c,d@e", ""),  # an encoded slash, and sub-delims kept raw
        ("/prod//double//slash/", ""),  # botocore collapses repeated slashes
        ("/prod/a/./b/../c", ""),  # and removes dot segments
        ("/prod/pets", "b=2&a=1&a=0&c="),  # repeated keys, sorted by key then value
        ("/prod/pets", "q=a%20b%2Bc%26d&empty&%C3%A9=%E2%82%AC&x=~._-"),
        ("/prod/pets", "z=%2F&Z=upper"),  # sorted by code point: Z before z
    ])
    def test_paths_and_queries(self, path, query):
        s = sign(path=path, query=query)
        assert s.verify(verifier_at(s)).user_id == "AIDAALICE"

    def test_body_hash_and_signed_headers_with_odd_whitespace(self):
        s = sign("POST", body=b'{"name":"rex"}', headers={
            "Content-Type": "application/json", "X-Custom": "  a   lot \t of   space  "})
        assert "x-custom" in s.headers["Authorization"]
        assert s.verify(verifier_at(s)).user_id == "AIDAALICE"

    def test_repeated_signed_header_values_join_with_commas(self):
        # botocore signs one line "one,two"; the same header sent as two lines canonicalises
        # the same way because repeated values are joined with "," after trimming.
        request2 = AWSRequest(method="GET", url=f"https://{HOST}/prod/pets",
                              headers={"X-Multi": "one,two"})
        SigV4Auth(Credentials(ALICE.access_key_id, SECRET), "execute-api",
                  "us-east-1").add_auth(request2)
        s = Signed(request2)
        s.headers.popall("X-Multi")
        s.headers.add("X-Multi", "one")
        s.headers.add("X-Multi", " two ")
        assert s.verify(verifier_at(s)).user_id == "AIDAALICE"

    def test_unsigned_payload_header(self):
        s = sign("PUT", body=b"anything", headers={"X-Amz-Content-SHA256": "UNSIGNED-PAYLOAD"})
        assert s.verify(verifier_at(s), body=b"changed on the way").user_id == "AIDAALICE"

    def test_declared_payload_hash_must_match_the_body(self):
        import hashlib
        body = b"payload"
        s = sign("PUT", body=body,
                 headers={"X-Amz-Content-SHA256": hashlib.sha256(body).hexdigest()})
        assert s.verify(verifier_at(s)).user_id == "AIDAALICE"
        with pytest.raises(InvalidSignature) as info:
            s.verify(verifier_at(s), body=b"tampered")
        assert info.value.error_type == "InvalidSignatureException"
        assert "x-amz-content-sha256" in info.value.message

    def test_presigned_query_form(self):
        s = sign(path="/prod/pets/7", query="color=brown&tag=a&tag=b", presign=900)
        assert "X-Amz-Signature=" in s.query and "Authorization" not in s.headers
        assert s.verify(verifier_at(s, 899)).user_id == "AIDAALICE"

    def test_date_header_instead_of_x_amz_date(self):
        s = sign(headers={"Date": "Mon, 01 Jan 2024 00:00:00 GMT"})
        assert "X-Amz-Date" not in s.headers
        assert s.verify(verifier_at(s)).user_id == "AIDAALICE"

    def test_clock_skew_within_five_minutes(self):
        s = sign()
        for offset in (-300, 300):
            assert s.verify(verifier_at(s, offset)).user_id == "AIDAALICE"


class TestRefused:
    def test_no_signature_is_a_missing_token(self):
        with pytest.raises(MissingAuthenticationToken):
            SigV4Verifier([ALICE]).verify("GET", "/prod/pets", "", CIMultiDict(Host=HOST))

    def test_bare_token_is_an_incomplete_signature(self):
        headers = CIMultiDict(Host=HOST, Authorization="eyJhbGciOi.x.y")
        with pytest.raises(InvalidSignature) as info:
            SigV4Verifier([ALICE]).verify("GET", "/prod/pets", "", headers)
        assert info.value.error_type == "IncompleteSignatureException"
        assert info.value.message == (
            "Authorization header requires 'Credential' parameter. Authorization header "
            "requires 'Signature' parameter. Authorization header requires 'SignedHeaders' "
            "parameter. Authorization header requires existence of either a 'X-Amz-Date' or a "
            "'Date' header. Authorization=eyJhbGciOi.x.y")
        assert "eyJhbGciOi" not in str(info.value) and "eyJhbGciOi" not in repr(info.value)

    def test_bearer_token_is_not_a_key_value_pair(self):
        # as AWS answers it (serverless#3205, aws-cognito-angular-quickstart#50)
        headers = CIMultiDict(Host=HOST, Authorization="Bearer eyJhbGciOi.x.y")
        with pytest.raises(InvalidSignature) as info:
            SigV4Verifier([ALICE]).verify("GET", "/prod/pets", "", headers)
        assert info.value.error_type == "IncompleteSignatureException"
        assert info.value.message == (
            "'eyJhbGciOi.x.y' not a valid key=value pair (missing equal-sign) in Authorization "
            "header: 'Bearer eyJhbGciOi.x.y'.")
        assert "eyJhbGciOi" not in str(info.value) and "eyJhbGciOi" not in repr(info.value)

    def test_an_unmatched_route_reads_the_authorization_header_as_a_signature(self):
        assert unmatched_route(None, False).message is None
        bare = unmatched_route("tok", False)
        assert bare.response_type == "MISSING_AUTHENTICATION_TOKEN"
        assert bare.error_type == "IncompleteSignatureException"
        assert bare.message is not None and bare.message.endswith(
            "'X-Amz-Date' or a 'Date' header. Authorization=tok")
        basic = unmatched_route("Basic dXNlcjpwYXNz=", True)  # base64 padding: a key=value
        assert basic.message == (
            "Authorization header requires 'Credential' parameter. Authorization header "
            "requires 'Signature' parameter. Authorization header requires 'SignedHeaders' "
            "parameter. Authorization=Basic dXNlcjpwYXNz=")
        assert unmatched_route("Bearer tok", True).message == (
            "'tok' not a valid key=value pair (missing equal-sign) in Authorization header: "
            "'Bearer tok'.")
        whole = unmatched_route(sign().headers["Authorization"], True)
        assert whole.message is None and whole.error_type is None
        assert "tok" not in str(unmatched_route("Bearer tok", True))

    def test_missing_signed_headers_part(self):
        s = sign()
        auth = s.headers["Authorization"]
        broken = ", ".join(p for p in auth.split(", ") if not p.startswith("SignedHeaders"))
        s.headers["Authorization"] = broken
        with pytest.raises(InvalidSignature) as info:
            s.verify(verifier_at(s))
        assert info.value.message == (
            f"Authorization header requires 'SignedHeaders' parameter. Authorization={broken}")

    def test_wrong_secret_gives_the_canonical_request(self):
        s = sign(cred=Cred(ALICE.access_key_id, OTHER_SECRET, ALICE.user_arn, "x"),
                 path="/prod/pets", query="a=1")
        with pytest.raises(InvalidSignature) as info:
            s.verify(verifier_at(s))
        message = info.value.message
        assert info.value.response_type == "INVALID_SIGNATURE"
        assert info.value.error_type == "InvalidSignatureException"
        assert message.startswith(
            "The request signature we calculated does not match the signature you provided. "
            "Check your AWS Secret Access Key and signing method. Consult the service "
            "documentation for details.\n\nThe Canonical String for this request should have "
            "been\n'GET\n/prod/pets\na=1\nhost:" + HOST + "\n")
        assert "\n\nThe String-to-Sign should have been\n'AWS4-HMAC-SHA256\n" in message
        assert message.endswith("/us-east-1/execute-api/aws4_request\n" +
                                message.split("aws4_request\n")[-1])

    @pytest.mark.parametrize("change", [
        {"method": "POST"}, {"path": "/prod/pets/other"}, {"query": "a=2"},
        {"body": b"x"},
    ])
    def test_any_change_breaks_the_signature(self, change):
        s = sign(query="a=1")
        with pytest.raises(InvalidSignature) as info:
            s.verify(verifier_at(s), **change)
        assert info.value.error_type == "InvalidSignatureException"

    def test_changed_signed_header(self):
        s = sign(headers={"X-Tenant": "a"})
        s.headers["X-Tenant"] = "b"
        with pytest.raises(InvalidSignature):
            s.verify(verifier_at(s))

    def test_unknown_access_key(self):
        s = sign(cred=Cred("AKIAUNKNOWN0000001", SECRET, ALICE.user_arn, "x"))
        with pytest.raises(InvalidSignature) as info:
            s.verify(verifier_at(s))
        assert info.value.error_type == "UnrecognizedClientException"
        assert info.value.message == "The security token included in the request is invalid."

    def test_expired_and_future_signatures(self):
        s = sign()
        with pytest.raises(InvalidSignature) as info:
            s.verify(verifier_at(s, 301))
        stamp = s.headers["X-Amz-Date"]
        now = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(s.signed_at + 301))
        limit = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(s.signed_at + 1))
        assert info.value.message == (
            f"Signature expired: {stamp} is now earlier than {limit} ({now} - 5 min.)")
        with pytest.raises(InvalidSignature) as info:
            s.verify(verifier_at(s, -301))
        assert info.value.message.startswith(f"Signature not yet current: {stamp} is still "
                                             "later than ")

    def test_presigned_url_expires(self):
        s = sign(presign=60)
        with pytest.raises(InvalidSignature) as info:
            s.verify(verifier_at(s, 61))
        assert info.value.message.startswith("Signature expired: ")

    def test_presigned_url_missing_a_parameter(self):
        s = sign(presign=60)
        query = "&".join(p for p in s.query.split("&") if not p.startswith("X-Amz-Credential"))
        with pytest.raises(InvalidSignature) as info:
            s.verify(verifier_at(s), query=query)
        assert info.value.message == ("AWS query-string parameters must include "
                                      "'X-Amz-Credential'. Re-examine the query-string "
                                      "parameters.")

    @pytest.mark.parametrize(("kw", "message"), [
        ({"service": "lambda"}, "Credential should be scoped to correct service: 'execute-api'. "),
        ({"region": "eu-west-1"}, "Credential should be scoped to a valid region, not "
                                  "'eu-west-1'. "),
    ])
    def test_scope(self, kw, message):
        s = sign(**kw)
        with pytest.raises(InvalidSignature) as info:
            s.verify(verifier_at(s, region="us-east-1"))
        assert info.value.message == message

    def test_host_must_be_signed(self):
        s = sign()
        auth = s.headers["Authorization"]
        s.headers["Authorization"] = auth.replace("SignedHeaders=host;", "SignedHeaders=")
        with pytest.raises(InvalidSignature) as info:
            s.verify(verifier_at(s))
        assert info.value.message == "'Host' must be a 'SignedHeader' in the AWS Authorization."


def test_secret_never_in_errors_or_logs(caplog):
    caplog.set_level(logging.DEBUG)
    failures = []
    for s, offset in ((sign(cred=Cred(ALICE.access_key_id, OTHER_SECRET, ALICE.user_arn, "x")), 0),
                      (sign(), 400), (sign(presign=1), 5)):
        try:
            s.verify(verifier_at(s, offset))
        except InvalidSignature as e:
            failures.append(e)
    assert len(failures) == 3
    verifier = SigV4Verifier([ALICE])
    for text in [*(e.message for e in failures), *(str(e) for e in failures),
                 *(repr(e) for e in failures), repr(verifier._keys), caplog.text]:
        assert SECRET not in text and OTHER_SECRET not in text


def test_canonical_helpers_match_botocore():
    assert remove_dot_segments("/a/./b/../../c//d/") == "/c/d/"
    assert remove_dot_segments("") == "/"
    assert canonical_query("b=2&a=%7E&a=1&flag") == "a=1&a=~&b=2&flag="
