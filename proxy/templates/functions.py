"""``AWS::Lambda::Function`` resources as ``functions:`` entries (CONTRACT section 7): the code
folder from SAM's ``CodeUri``, CDK's asset folder (``Metadata: aws:asset:path``) or inline code
(``Code.ZipFile``, SAM's ``InlineCode``), and the handler, runtime, environment, timeout,
memory and reserved concurrency.

A function is named by its ``FunctionName``, or its logical id when it has none; that is the
name in the ARNs the APIs call (``arn:aws:lambda:REGION:ACCOUNT:function:NAME``). A function
Sluice cannot run (code only in S3, a container image, a runtime other than Python or a custom
``provided.*`` one, which runs the folder's ``bootstrap``) is an error when an API calls it, and
listed as not served otherwise.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from dataclasses import dataclass
from typing import Any

from proxy.config._check import Invalid, PathT, describe, show
from proxy.templates._context import Context, as_number, as_text
from proxy.templates.sam import LOCAL_CODE

__all__ = ["Function", "function_entry", "function_name", "inline_code_folder"]

_ASSET_PATH = "aws:asset:path"
_INLINE_FILES = {"python": "index.py", "nodejs": "index.js"}


@dataclass(frozen=True, slots=True)
class _Elsewhere:
    where: PathT
    why: str


@dataclass
class Function:
    """One translated function: its config entry, or why it has none."""

    logical_id: str
    name: str
    entry: dict[str, Any] | None
    # (where, why) when Sluice cannot run it: its code is elsewhere, or its runtime is not one
    # Sluice runs; an error if an API calls it, listed as not served otherwise
    unrunnable: tuple[PathT, str] | None = None


def function_name(ctx: Context, lid: str) -> str:
    name = ctx.attempt(lid, "FunctionName")
    return name if isinstance(name, str) and name else lid


def inline_code_folder(code: str, runtime: str) -> str:
    """A folder holding ``code`` as CloudFormation stores ``ZipFile`` code (``index.py`` or
    ``index.js``), made once per distinct code under the system's temporary folder."""
    language = re.match(r"[a-z]+", runtime)
    filename = _INLINE_FILES.get(language[0] if language else "", "index.py")
    digest = hashlib.sha256(f"{filename}\0{code}".encode()).hexdigest()[:20]
    folder = os.path.join(tempfile.gettempdir(), "sluice-inline-code", digest)
    file = os.path.join(folder, filename)
    if not os.path.isfile(file):
        os.makedirs(folder, exist_ok=True)
        partial = f"{file}.{os.getpid()}.tmp"
        with open(partial, "w", encoding="utf-8") as f:
            f.write(code)
        os.replace(partial, file)  # atomic: a concurrent reader sees all of it or nothing
    return folder


def function_entry(ctx: Context, lid: str, fpath: PathT) -> Function:
    """The ``functions:`` entry of ``lid``; ``fpath`` is its config path (origins)."""
    name = function_name(ctx, lid)
    entry: dict[str, Any] = {}
    code = _code(ctx, lid)
    if isinstance(code, _Elsewhere):
        return Function(lid, name, None, unrunnable=(code.where, code.why))
    if code is None:
        return Function(lid, name, None)
    kind, location = code
    runtime = ctx.attempt(lid, "Runtime")
    if isinstance(runtime, str) and runtime.startswith("provided"):
        # a custom runtime: the code folder's `bootstrap` speaks the Lambda Runtime API
        entry["command"] = ["./bootstrap"]
        ctx.origin((*fpath, "command"), lid, "Properties", "Runtime")
    elif isinstance(runtime, str) and not runtime.startswith("python"):
        return Function(lid, name, None, unrunnable=(
            ctx.where(lid, "Properties", "Runtime"),
            f"its runtime {runtime} is not one Sluice runs (python3.x, or provided.* with a "
            "bootstrap in the code folder)"))
    if "Layers" in ctx.raw(lid):
        ctx.notes.append(f"{lid}: its Layers are not mounted: Sluice runs the code folder alone")
    if kind == "inline":
        try:
            folder = inline_code_folder(location, runtime if isinstance(runtime, str) else "")
        except OSError as e:
            ctx.report(lid, ("Properties", "Code", "ZipFile"), "cannot write the inline code to "
                       f"a folder: {e.strerror or e}")
            return Function(lid, name, None)
        entry["codeUri"] = folder
    else:
        entry["codeUri"] = os.path.relpath(location, ctx.config_dir or os.curdir)
    ctx.origin((*fpath, "codeUri"), lid, *(("Properties", "Code") if kind != "asset" else
                                           ("Metadata", _ASSET_PATH)))
    for key, field_name, convert in (
        ("Handler", "handler", as_text), ("Runtime", "runtime", as_text),
        ("Timeout", "timeout", as_number), ("MemorySize", "memorySize", as_number),
        ("ReservedConcurrentExecutions", "reservedConcurrency", as_number),
    ):
        if "command" in entry and key in ("Handler", "Runtime"):
            continue
        value = ctx.attempt(lid, key)
        if value is not None:
            entry[field_name] = convert(value)
            ctx.origin((*fpath, field_name), lid, "Properties", key)
    environment = ctx.attempt(lid, "Environment", "Variables")
    if environment is not None:
        if isinstance(environment, dict):
            entry["environment"] = {str(k): as_text(v) for k, v in environment.items()}
        else:
            entry["environment"] = environment
        ctx.origin((*fpath, "environment"), lid, "Properties", "Environment", "Variables",
                   exact=True)
    ctx.origin(fpath, lid, "Properties")
    return Function(lid, name, entry)


def _code(ctx: Context, lid: str) -> tuple[str, str] | _Elsewhere | None:
    """``("folder" | "asset", absolute folder)``, ``("inline", code)``, ``_Elsewhere`` when
    the code is not on this machine, or None after reporting a problem."""
    metadata = ctx.resources[lid].get("Metadata")
    asset = metadata.get(_ASSET_PATH) if isinstance(metadata, dict) else None
    if asset is not None and (not isinstance(metadata, dict) or
                              metadata.get("aws:asset:property", "Code") == "Code"):
        if not isinstance(asset, str) or not asset:
            ctx.report(lid, ("Metadata", _ASSET_PATH), f"must be a folder, got {describe(asset)}")
            return None
        return _folder(ctx, lid, ("Metadata", _ASSET_PATH), asset, "asset")
    try:
        code = ctx.prop(lid, "Code")
    except Invalid:
        return None
    where = ctx.where(lid, "Properties", "Code")
    if not isinstance(code, dict):
        ctx.report(lid, ("Properties", "Code"), f"must be a mapping, got {describe(code)}")
        return None
    if LOCAL_CODE in code:
        return _folder(ctx, lid, ("Properties", "Code"), code[LOCAL_CODE], "folder")
    if "ZipFile" in code:
        text = code["ZipFile"]
        if not isinstance(text, str):
            ctx.report(lid, ("Properties", "Code", "ZipFile"), f"must be the function's source "
                       f"code, got {describe(text)}")
            return None
        return "inline", text
    if "ImageUri" in code:
        return _Elsewhere(where, "its code is a container image, which Sluice does not run")
    return _Elsewhere(where, "its code is in S3, which Sluice cannot read: point CodeUri at the "
                      "folder (SAM) or synthesize with the asset folders in cdk.out (CDK)")


def _folder(ctx: Context, lid: str, rest: tuple[str, ...], relative: Any, kind: str
            ) -> tuple[str, str] | None:
    if not isinstance(relative, str):
        ctx.report(lid, rest, f"must be a folder, got {describe(relative)}")
        return None
    folder = os.path.normpath(os.path.join(ctx.template_dir, relative))
    if relative.lower().endswith(".zip") and os.path.isfile(folder):
        ctx.report(lid, rest, f"{show(relative)} is a .zip file: Sluice runs code from a "
                   "folder; unzip it and point at the folder")
        return None
    if not os.path.isdir(folder):
        label = os.path.normpath(os.path.join(os.path.dirname(ctx.file), relative))
        ctx.report(lid, rest, f"no such folder: {label} (paths are relative to the template)")
        return None
    return kind, folder
