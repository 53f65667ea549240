"""Where templates meet the config loader: a file that is a template becomes a config document;
a Sluice config's ``apis: [{template: FILE, parameters: {...}}]`` entries are replaced by the
APIs (and functions, usage plans, keys) of their templates. Either way the loader then checks
the document like a hand-written one, and ``Origins`` moves its problems to the template.

Parameter overrides from the command line arrive in ``SLUICE_PARAMETER_OVERRIDES`` (a JSON
object), so that every process that loads the config (workers, a reload) sees them.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping
from typing import Any

from proxy.config._check import Checker, PathT, describe, show
from proxy.errors import ConfigError, Problem
from proxy.templates.origins import Origins
from proxy.templates.parameters import PSEUDO_OVERRIDES
from proxy.templates.reading import is_template, read_template
from proxy.templates.translate import Translation, translate_template

__all__ = ["PARAMETER_OVERRIDES_ENV", "prepare_document"]

PARAMETER_OVERRIDES_ENV = "SLUICE_PARAMETER_OVERRIDES"

log = logging.getLogger("sluice.templates")

_ENTRY_FIELDS = ("template", "parameters")


def _env_overrides(env: Mapping[str, str], problems: list[Problem]) -> dict[str, Any]:
    raw = env.get(PARAMETER_OVERRIDES_ENV)
    if not raw:
        return {}
    try:
        values = json.loads(raw)
    except ValueError:
        values = None
    if not isinstance(values, dict) or not all(isinstance(v, str) for v in values.values()):
        problems.append(Problem("environment", PARAMETER_OVERRIDES_ENV, "must be a JSON object "
                                "of parameter names to string values"))
        return {}
    return values


def _report(label: str, translation: Translation) -> None:
    if translation.ignored:
        log.warning("%s: not served (Sluice has no equivalent): %s", label,
                    "; ".join(translation.ignored))
    for note in translation.notes:
        log.warning("%s: %s", label, note)


def prepare_document(doc: Any, label: str, env: Mapping[str, str], *, region: str
                     ) -> tuple[Any, Origins | None]:
    """The config document to check for the file ``label`` whose parsed content is ``doc``,
    and the origins of its translated fields (None when nothing was translated). ``region``
    is ``AWS::Region`` unless overridden (the loader's default: AWS_REGION, ...). Raises
    ``ConfigError`` with the templates' problems."""
    problems: list[Problem] = []
    overrides = _env_overrides(env, problems)
    base = os.path.dirname(label)
    if is_template(doc):
        if problems:
            raise ConfigError(problems)
        translation = translate_template(
            doc, file=label, template_dir=base, config_dir=base, overrides=overrides,
            overrides_file="--parameter-overrides", region=region)
        _report(label, translation)
        return translation.config, translation.origins
    apis = doc.get("apis") if isinstance(doc, dict) else None
    if not isinstance(apis, list) or not any(isinstance(a, dict) and "template" in a
                                              for a in apis):
        if problems:
            raise ConfigError(problems)
        if overrides:
            raise ConfigError([Problem("--parameter-overrides", "", "applies to templates: "
                                       f"{label} is a Sluice config that names none")])
        return doc, None
    return _expand_entries(doc, label, base, overrides, problems, region)


def _expand_entries(doc: dict[str, Any], label: str, base: str, cli: Mapping[str, Any],
                    problems: list[Problem], region: str) -> tuple[dict[str, Any], Origins]:
    ck = Checker(label)
    origins = Origins()
    out = dict(doc)
    apis: list[Any] = []
    plans = list(doc.get("usagePlans") or []) if isinstance(doc.get("usagePlans"), list) else []
    keys = list(doc.get("apiKeys") or []) if isinstance(doc.get("apiKeys"), list) else []
    functions = dict(doc.get("functions") or {}) if isinstance(doc.get("functions"), dict) else {}
    function_files: dict[str, str] = {}
    for i, entry in enumerate(doc["apis"]):
        if not (isinstance(entry, dict) and "template" in entry):
            apis.append(entry)
            continue
        where: PathT = ("apis", i)
        translation = _entry(ck, entry, where, base, cli, problems, region)
        if translation is None:
            continue
        config = translation.config
        origins.merge(translation.origins, {"apis": len(apis), "usagePlans": len(plans),
                                            "apiKeys": len(keys)})
        apis.extend(config.get("apis", []))
        plans.extend(config.get("usagePlans", []))
        keys.extend(config.get("apiKeys", []))
        for name, function in config.get("functions", {}).items():
            if name in functions:
                other = function_files.get(name, label)
                ck.report((*where, "template"), f"function {show(name)} is also defined in "
                          f"{other}")
                continue
            functions[name] = function
            function_files[name] = str(entry["template"])
        _report(str(entry["template"]), translation)
    problems.extend(ck.problems)
    if problems:
        raise ConfigError(problems)
    out["apis"] = apis
    out.update({key: value for key, value in (("usagePlans", plans), ("apiKeys", keys),
                                              ("functions", functions)) if value})
    return out, origins


def _entry(ck: Checker, entry: dict[str, Any], where: PathT, base: str, cli: Mapping[str, Any],
           problems: list[Problem], region: str) -> Translation | None:
    bad = False
    for key in entry:
        if key not in _ENTRY_FIELDS:
            ck.report((*where, str(key)), f"unknown field {show(key)} in a template entry "
                      f"(allowed: {', '.join(_ENTRY_FIELDS)}; the APIs' ids and stages come "
                      "from the template)")
            bad = True
    relative = entry["template"]
    if not isinstance(relative, str) or not relative:
        ck.report((*where, "template"), f"must be the path of a SAM or CloudFormation "
                  f"template, got {describe(relative)}")
        return None
    parameters = entry.get("parameters", {})
    if not isinstance(parameters, dict):
        ck.report((*where, "parameters"), f"must be a mapping of template parameters, got "
                  f"{describe(parameters)}")
        return None
    if bad:
        return None
    template_label = os.path.normpath(os.path.join(base, relative))
    if not os.path.isfile(template_label):
        ck.report((*where, "template"), f"no such file: {template_label} (paths are relative to "
                  "the config file)")
        return None
    try:
        doc = read_template(template_label, template_label)
    except ConfigError as e:
        problems.extend(e.problems)
        return None
    if not is_template(doc):
        ck.report((*where, "template"), f"{template_label} is not a SAM or CloudFormation "
                  "template (it has no Resources section)")
        return None
    declared = doc.get("Parameters") if isinstance(doc.get("Parameters"), dict) else {}
    merged = dict(parameters)
    merged.update({k: v for k, v in cli.items() if k in declared or k in PSEUDO_OVERRIDES})
    try:
        return translate_template(
            doc, file=template_label, template_dir=os.path.dirname(template_label),
            config_dir=base, overrides=merged, overrides_file=ck.file,
            overrides_where=(*where, "parameters"), region=region)
    except ConfigError as e:
        problems.extend(e.problems)
        return None
