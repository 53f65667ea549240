"""Leaf types shared by the authorizer modules: who the caller is, and what a policy condition
may ask about the request. Neither imports another ``proxy.auth`` module."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


@dataclass(frozen=True, slots=True)
class IamIdentity:
    """A verified SigV4 signer (``iam.credentials``), as ``$context.identity.*`` shows it."""

    access_key: str  # $context.identity.accessKey
    user_arn: str  # $context.identity.userArn, aws:PrincipalArn
    account_id: str  # $context.identity.accountId, aws:PrincipalAccount
    user_id: str  # $context.identity.user and .caller, aws:userid

    @property
    def username(self) -> str | None:
        """aws:username: the IAM user's friendly name (users only, as in IAM)."""
        resource = self.user_arn.split(":", 5)[-1]
        return resource.rsplit("/", 1)[-1] if resource.startswith("user/") else None

    @property
    def principal_type(self) -> str:
        """aws:PrincipalType: ``User``, ``AssumedRole``, ``Account`` or ``FederatedUser``."""
        resource = self.user_arn.split(":", 5)[-1]
        if resource == "root":
            return "Account"
        if resource.startswith("assumed-role/"):
            return "AssumedRole"
        if resource.startswith("federated-user/"):
            return "FederatedUser"
        return "User"


class RequestFacts:
    """What policy conditions may read about one request (the keys API Gateway resource policies
    support that exist outside AWS). Built per request only when a policy has conditions or
    principals; the source address is parsed on first use."""

    __slots__ = ("_ip", "caller", "now", "referer", "secure_transport", "source_ip", "user_agent")

    def __init__(
        self,
        source_ip: str | None = None,
        *,
        caller: IamIdentity | None = None,
        now: float = 0.0,
        user_agent: str | None = None,
        referer: str | None = None,
        secure_transport: bool = False,
    ) -> None:
        self.source_ip = source_ip
        self.caller = caller
        self.now = now  # epoch seconds: aws:CurrentTime, aws:EpochTime
        self.user_agent = user_agent
        self.referer = referer
        self.secure_transport = secure_transport
        self._ip: IpAddress | bool | None = False  # False: not parsed yet

    def ip(self) -> IpAddress | None:
        if self._ip is False:
            self._ip = _parse_ip(self.source_ip)
        return self._ip  # type: ignore[return-value]


ANONYMOUS = RequestFacts()


def _parse_ip(text: str | None) -> IpAddress | None:
    if not text:
        return None
    try:
        ip = ipaddress.ip_address(text.split("%", 1)[0])
    except ValueError:
        return None
    # A dual-stack listener reports IPv4 clients as ::ffff:a.b.c.d; policies name them as IPv4.
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    return ip
