"""Who may call: authorizers, SigV4, Cognito user pools and policies (issue 17)."""

from __future__ import annotations
