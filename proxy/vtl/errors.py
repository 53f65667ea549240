"""The two ways a mapping template fails.

    TemplateError          the template cannot be compiled (bad syntax, too large): a config
                           error at load, with the 1-based line and column of the fault
    TemplateRuntimeError   rendering failed; carries the gateway response AWS answers with
                           (``response_type`` names a proxy.gateway_responses type) and a
                           message for the execution log

Both derive from ValueError so a caller that only wants "bad template" can catch one base.
"""

from __future__ import annotations

# Gateway response types a render can fail with. A request body that is not JSON when the
# template reads it with $input.path/$input.json is the client's fault on a request template
# (AWS: 400 "Could not parse request body into json: ..."); everything else is the API
# owner's (AWS logs "Execution failed due to configuration error: Unable to transform
# request" and answers 500 Internal server error).
BAD_REQUEST_BODY = "BAD_REQUEST_BODY"
API_CONFIGURATION_ERROR = "API_CONFIGURATION_ERROR"


class TemplateError(ValueError):
    def __init__(self, message: str, line: int, column: int) -> None:
        self.message = message
        self.line = line
        self.column = column
        super().__init__(f"line {line}, column {column}: {message}")


class TemplateRuntimeError(ValueError):
    def __init__(self, message: str, response_type: str = API_CONFIGURATION_ERROR) -> None:
        self.message = message
        self.response_type = response_type
        super().__init__(message)
