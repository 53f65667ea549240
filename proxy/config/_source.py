"""Reading a YAML or JSON document into plain Python values, every failure a ``ConfigError``."""

from __future__ import annotations

import json
import os
from typing import Any

import yaml

from proxy.errors import ConfigError, Problem

# AWS's limit on an imported API definition; applied to every file Sluice reads.
MAX_DOCUMENT_BYTES = 6 * 1024 * 1024

_MERGE_TAG = "tag:yaml.org,2002:merge"


class StrictLoader(yaml.SafeLoader):
    """SafeLoader that rejects a key repeated in one mapping: PyYAML would keep the last one
    silently, which hides exactly the kind of typo a config check is for. Subclasses add tags
    (``proxy.templates`` reads CloudFormation's ``!Ref`` and friends)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[tuple[str, str]] = set()
        for key_node, _ in node.value:
            if not isinstance(key_node, yaml.ScalarNode) or key_node.tag == _MERGE_TAG:
                continue
            ident = (key_node.tag, key_node.value)
            if ident in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {key_node.value!r}", key_node.start_mark
                )
            seen.add(ident)
        return super().construct_mapping(node, deep)


def _fail(label: str, message: str) -> ConfigError:
    return ConfigError([Problem(label, "", message)])


def read_document(
    path: str | os.PathLike[str], label: str, loader: type[StrictLoader] = StrictLoader
) -> Any:
    """The parsed document at ``path``; problems are reported against ``label``. YAML is read
    with ``loader``."""
    try:
        with open(path, "rb") as f:
            data = f.read(MAX_DOCUMENT_BYTES + 1)
    except (OSError, ValueError) as e:
        reason = e.strerror if isinstance(e, OSError) and e.strerror else str(e)
        raise _fail(label, f"cannot read the file: {reason}") from None
    if len(data) > MAX_DOCUMENT_BYTES:
        raise _fail(label, f"is larger than {MAX_DOCUMENT_BYTES} bytes (6 MB, AWS's import limit)")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise _fail(label, f"is not UTF-8 text (bad byte at offset {e.start})") from None
    if text.lstrip().startswith(("{", "[")):
        return _parse_json(text, label)
    return _parse_yaml(text, label, loader)


def _parse_json(text: str, label: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise _fail(label, f"invalid JSON at line {e.lineno}, column {e.colno}: {e.msg}") from None
    except RecursionError:
        raise _fail(label, "invalid JSON: nested too deeply") from None


def _parse_yaml(text: str, label: str, loader: type[StrictLoader]) -> Any:
    try:
        return yaml.load(text, Loader=loader)  # a SafeLoader subclass
    except yaml.MarkedYAMLError as e:
        where = ""
        if e.problem_mark is not None:
            where = f" at line {e.problem_mark.line + 1}, column {e.problem_mark.column + 1}"
        what = e.problem or e.context or "syntax error"
        raise _fail(label, f"invalid YAML{where}: {what}") from None
    except yaml.YAMLError as e:
        raise _fail(label, f"invalid YAML: {e}") from None
    except RecursionError:
        raise _fail(label, "invalid YAML: nested too deeply") from None
    except (ValueError, TypeError, OverflowError) as e:
        # PyYAML's constructors let these through for values such as `!!int x` or a
        # timestamp with month 13.
        raise _fail(label, f"invalid YAML value: {e}") from None
