"""Scenario files: what to start (Sluice config, storage, upstream), how to drive, what to send.

A scenario is a YAML file (see bench/README.md for every field). The request mix becomes a
*deck*: ``deck`` requests drawn once with a seeded RNG from the weighted entries, Zipf ranks
and API keys, then cycled by every driver, so all targets get the same sequence.
"""

from __future__ import annotations

import random
import string
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from bench.drivers.base import LoadSettings, RequestSpec

__all__ = ["ApiKeys", "MixEntry", "Scenario", "builtin_dir", "discover", "load", "render_config"]

TARGETS = ("sluice", "sluice-clientsession", "nginx", "naive-aiohttp", "direct")
BASELINES = ("nginx", "naive-aiohttp", "direct")
# simplest first, so a partial run still answers the first question (the proxy path)
_ORDER = ("proxy", "throttled", "over-limit", "cached", "api-key", "slow-backend", "production")


def builtin_dir() -> Path:
    return Path(__file__).parent / "scenarios"


@dataclass(frozen=True, slots=True)
class MixEntry:
    """One line of the request mix. ``{n}`` in ``path`` is a Zipf rank in 1..zipf_count."""

    path: str
    method: str = "GET"
    weight: float = 1.0
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes = b""
    api_key: str = "none"  # none | valid | invalid
    zipf_count: int = 0
    zipf_s: float = 1.1


@dataclass(frozen=True, slots=True)
class ApiKeys:
    """``count`` generated keys, added to the Sluice config and to usage plan ``plan``."""

    count: int = 0
    plan: str | None = None
    header: str = "x-api-key"

    def values(self) -> list[str]:
        return [f"bench-key-{i:06d}-abcdefghij" for i in range(self.count)]


@dataclass(frozen=True, slots=True)
class Scenario:
    name: str
    source: Path
    description: str = ""
    targets: tuple[str, ...] = TARGETS
    storage: str = "memory"
    workers: int = 1
    sluice_config: Mapping[str, Any] = field(default_factory=dict)
    upstream: Mapping[str, Any] | None = None
    load: LoadSettings = field(default_factory=LoadSettings)
    driver: str | None = None
    fresh_state: bool = False
    mix: tuple[MixEntry, ...] = ()
    api_keys: ApiKeys = field(default_factory=ApiKeys)
    deck_size: int = 2048
    seed: int = 1
    expect: Mapping[str, Any] = field(default_factory=dict)
    # extra environment for the Sluice process (e.g. SLUICE_DISABLE_METRICS=1 for a baseline)
    env: Mapping[str, str] = field(default_factory=dict)

    def deck(self) -> list[RequestSpec]:
        """The request sequence every target of this scenario is sent, in order."""
        rng = random.Random(self.seed)
        keys = self.api_keys.values()
        zipf_cache: dict[tuple[int, float], list[float]] = {}
        deck: list[RequestSpec] = []
        entries = rng.choices(self.mix, weights=[e.weight for e in self.mix], k=self.deck_size)
        for entry in entries:
            path = entry.path
            if entry.zipf_count:
                cum = zipf_cache.get((entry.zipf_count, entry.zipf_s))
                if cum is None:
                    cum = _zipf_cum(entry.zipf_count, entry.zipf_s)
                    zipf_cache[(entry.zipf_count, entry.zipf_s)] = cum
                rank = rng.choices(range(1, entry.zipf_count + 1), cum_weights=cum)[0]
                path = path.replace("{n}", str(rank))
            headers = entry.headers
            if entry.api_key == "valid":
                if not keys:
                    raise ValueError(f"{self.source}: api_key: valid needs api_keys.count > 0")
                headers += ((self.api_keys.header, rng.choice(keys)),)
            elif entry.api_key == "invalid":
                bogus = "".join(rng.choices(string.ascii_letters, k=30))
                headers += ((self.api_keys.header, f"invalid-{bogus}"),)
            deck.append(RequestSpec(entry.method, path, headers, entry.body))
        return deck


def _zipf_cum(count: int, s: float) -> list[float]:
    total = 0.0
    cum = []
    for k in range(1, count + 1):
        total += 1.0 / k**s
        cum.append(total)
    return cum


def _fail(source: Path, where: str, what: str) -> ValueError:
    return ValueError(f"{source}: {where}: {what}")


def _mix(source: Path, raw: Any) -> tuple[MixEntry, ...]:
    if not isinstance(raw, list) or not raw:
        raise _fail(source, "requests", "a non-empty list of {path, method?, weight?, ...}")
    out = []
    for i, item in enumerate(raw):
        where = f"requests[{i}]"
        if not isinstance(item, dict) or not str(item.get("path", "")).startswith("/"):
            raise _fail(source, where, "needs a path starting with '/'")
        zipf = item.get("zipf") or {}
        key = str(item.get("api_key", "none"))
        if key not in ("none", "valid", "invalid"):
            raise _fail(source, f"{where}.api_key", "one of none, valid, invalid")
        if zipf and "{n}" not in item["path"]:
            raise _fail(source, f"{where}.path", "a zipf entry needs {n} in its path")
        weight = float(item.get("weight", 1.0))
        if weight <= 0:
            raise _fail(source, f"{where}.weight", "must be > 0")
        out.append(MixEntry(
            path=str(item["path"]), method=str(item.get("method", "GET")).upper(),
            weight=weight,
            headers=tuple((str(k), str(v)) for k, v in (item.get("headers") or {}).items()),
            body=str(item.get("body", "")).encode(), api_key=key,
            zipf_count=int(zipf.get("count", 0)), zipf_s=float(zipf.get("s", 1.1))))
    return tuple(out)


def load(path: str | Path) -> Scenario:
    """Read and check one scenario file; errors name the file and the field."""
    source = Path(path).resolve()
    raw = yaml.safe_load(source.read_text())
    if not isinstance(raw, dict) or "name" not in raw:
        raise _fail(source, "name", "a scenario file is a mapping with at least name, requests")
    targets = tuple(raw.get("targets", TARGETS))
    for t in targets:
        if t not in TARGETS:
            raise _fail(source, "targets", f"{t!r} is not one of {', '.join(TARGETS)}")
    storage = str(raw.get("storage", "memory"))
    if storage not in ("memory", "redis"):
        raise _fail(source, "storage", "memory or redis")
    config: Any = raw.get("sluice", {})
    if isinstance(config, str):  # a path to a config file, relative to the scenario
        config_path = (source.parent / config).resolve()
        config = yaml.safe_load(config_path.read_text())
        base = config_path.parent
    else:
        base = source.parent
    if not isinstance(config, dict):
        raise _fail(source, "sluice", "a Sluice config mapping or a path to one")
    _absolute_definitions(config, base)
    load_raw = raw.get("load") or {}
    rate = load_raw.get("rate")
    settings = LoadSettings(
        connections=int(load_raw.get("connections", 64)),
        duration_s=float(load_raw.get("duration", 10)),
        warmup_s=float(load_raw.get("warmup", 1)),
        rate=float(rate) if rate is not None else None,
        timeout_s=float(load_raw.get("timeout", 5)))
    keys_raw = raw.get("api_keys") or {}
    return Scenario(
        name=str(raw["name"]), source=source, description=str(raw.get("description", "")),
        targets=targets, storage=storage, workers=int(raw.get("workers", 1)),
        sluice_config=config, upstream=raw.get("upstream"), load=settings,
        driver=load_raw.get("driver"), fresh_state=bool(raw.get("fresh_state", False)),
        mix=_mix(source, raw.get("requests")),
        api_keys=ApiKeys(int(keys_raw.get("count", 0)), keys_raw.get("plan"),
                         str(keys_raw.get("header", "x-api-key"))),
        deck_size=int(raw.get("deck", 2048)), seed=int(raw.get("seed", 1)),
        expect=raw.get("expect") or {},
        env={str(k): str(v) for k, v in (raw.get("env") or {}).items()})


def _absolute_definitions(config: dict[str, Any], base: Path) -> None:
    """Paths in a scenario's config (definitions, functions' code, user pools' JWKS files) are
    relative to the scenario file; the config is written elsewhere, so they are made absolute."""
    for api in config.get("apis", []):
        definition = api.get("definition")
        if isinstance(definition, str) and not Path(definition).is_absolute():
            api["definition"] = str((base / definition).resolve())
    for function in (config.get("functions") or {}).values():
        code = function.get("codeUri") if isinstance(function, dict) else None
        if isinstance(code, str) and not Path(code).is_absolute():
            function["codeUri"] = str((base / code).resolve())
    cognito = config.get("cognito")
    pools = cognito.get("userPools") if isinstance(cognito, dict) else None
    for pool in (pools or {}).values():
        jwks = pool.get("jwks") if isinstance(pool, dict) else None
        if isinstance(jwks, str) and "://" not in jwks and not Path(jwks).is_absolute():
            pool["jwks"] = str((base / jwks).resolve())


def _substitute(value: Any, names: dict[str, str]) -> Any:
    if isinstance(value, str):
        for name, text in names.items():
            value = value.replace(name, text)
        return value
    if isinstance(value, dict):
        return {k: _substitute(v, names) for k, v in value.items()}
    if isinstance(value, list):
        return [_substitute(v, names) for v in value]
    return value


def render_config(scenario: Scenario, upstream: str, workdir: Path | None = None) -> dict[str, Any]:
    """The scenario's Sluice config with ``{{upstream}}`` and ``{{workdir}}`` (the run's
    scratch directory, removed at the end: access logs go there) filled in, and its API keys
    added."""
    names = {"{{upstream}}": upstream}
    if workdir is not None:
        names["{{workdir}}"] = str(workdir)
    config: dict[str, Any] = _substitute(dict(scenario.sluice_config), names)
    keys = scenario.api_keys
    if keys.count:
        ids = [f"bench-{i}" for i in range(keys.count)]
        config.setdefault("apiKeys", []).extend(
            {"id": kid, "value": value, "enabled": True}
            for kid, value in zip(ids, keys.values(), strict=True))
        plans = [p for p in config.get("usagePlans", []) if p.get("id") == keys.plan]
        if not plans:
            raise _fail(scenario.source, "api_keys.plan", f"no usage plan {keys.plan!r}")
        plans[0]["apiKeys"] = [*plans[0].get("apiKeys", []), *ids]
    return config


def discover(names: Sequence[str] | None = None) -> list[Scenario]:
    """The built-in scenarios (files ``bench/scenarios/*.yaml`` that are not ``*.openapi.yaml``),
    or those named: a built-in name or a path to a scenario file."""
    found = [load(p) for p in builtin_dir().glob("*.yaml")
             if not p.name.endswith(".openapi.yaml")]
    found.sort(key=lambda s: (_ORDER.index(s.name) if s.name in _ORDER else len(_ORDER), s.name))
    builtin = {s.name: s for s in found}
    if not names:
        return list(builtin.values())
    out = []
    for name in names:
        if name in builtin:
            out.append(builtin[name])
        elif Path(name).is_file():
            out.append(load(name))
        else:
            raise ValueError(f"unknown scenario {name!r}: one of {', '.join(builtin)} or a file")
    return out
