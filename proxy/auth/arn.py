"""The execute-api ARNs that authorizer policies and resource policies are written against:
``arn:aws:execute-api:{region}:{account}:{apiId}/{stage}/{METHOD}/{path}``."""

from __future__ import annotations


def api_arn(region: str, account_id: str, api_id: str) -> str:
    """The ARN that ``execute-api:`` stands for in an imported resource policy."""
    return f"arn:aws:execute-api:{region}:{account_id}:{api_id}"


def method_arn(prefix: str, stage: str, method: str, path: str) -> str:
    """``prefix`` from ``api_arn``; ``path`` as requested without the stage (``/pets/1``).
    The root is ``.../GET/``, as AWS sends it to authorizers."""
    return f"{prefix}/{stage}/{method}/{path[1:] if path.startswith('/') else path}"


def mask_account(arn: str) -> str:
    """The account id as AWS shows it in an access-denied message: ``********`` and its last
    four digits."""
    parts = arn.split(":", 5)
    if len(parts) == 6 and len(parts[4]) > 4:
        parts[4] = "********" + parts[4][-4:]
    return ":".join(parts)
