"""Where things came from: each resource of the expanded (SAM-free) template in the user's
template, and each field of the generated Sluice config in the template.

The loader checks a translated config like a hand-written one; ``Origins.rewrite`` then turns
each problem's config path (``apis[0].stages.Prod.methodSettings."*/*".throttlingRateLimit``)
into the template property it came from
(``Resources.MyApi.Properties.MethodSettings[0].ThrottlingRateLimit``), so an error always
names a logical id and a property path.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from proxy.config._check import PathT, format_path
from proxy.errors import Problem

__all__ = ["Origins", "Source", "Sources"]


@dataclass(frozen=True, slots=True)
class Source:
    """Where a resource of the expanded template is in the user's template. ``renames`` maps
    a property to the user's path of it (SAM's ``CodeUri`` became ``Code``, a Globals value,
    ...); with ``identity`` the other properties keep their names under ``path.Properties``,
    otherwise they are reported at ``path``."""

    path: PathT
    renames: Mapping[str, PathT] = field(default_factory=dict)
    identity: bool = True
    # properties SAM wrote rather than copied (an API's Body when SAM manages it)
    generated: frozenset[str] = frozenset()


class Sources:
    """The ``Source`` of every generated resource (a resource not listed is the user's own)
    and of every method a SAM event added to a generated OpenAPI document."""

    __slots__ = ("methods", "resources")

    def __init__(self) -> None:
        self.resources: dict[str, Source] = {}
        # (API logical id, resource path, OpenAPI operation key) -> the event's path
        self.methods: dict[tuple[str, str, str], PathT] = {}

    def copied(self, logical_id: str, prop: str) -> bool:
        """Whether a property holds what the user wrote (so paths inside it are the user's)."""
        source = self.resources.get(logical_id)
        return source is None or prop not in source.generated

    def where(self, logical_id: str, *rest: str | int) -> PathT:
        """The user's path of ``Resources.<logical_id>.<rest...>`` of the expanded template."""
        source = self.resources.get(logical_id)
        if source is None:
            return ("Resources", logical_id, *rest)
        if len(rest) >= 2 and rest[0] == "Properties" and isinstance(rest[1], str):
            renamed = source.renames.get(rest[1])
            if renamed is not None:
                return (*renamed, *rest[2:])
        if source.identity:
            return (*source.path, *rest)
        return source.path


_BOUNDARY = re.compile(r"[.\[]")


class Origins:
    """Config path -> (template file, template path, exact). An *exact* origin holds the same
    tree under both paths (an OpenAPI ``Body``), so the rest of a problem's path is appended;
    otherwise the rest, in config words, leads the message."""

    __slots__ = ("_by_path", "_entries")

    def __init__(self) -> None:
        self._entries: list[tuple[PathT, str, PathT, bool]] = []
        self._by_path: dict[str, tuple[str, PathT, bool]] = {}

    def add(self, config_path: PathT, file: str, template_path: PathT, *,
            exact: bool = False) -> None:
        self._entries.append((config_path, file, template_path, exact))
        self._by_path[format_path(config_path)] = (file, template_path, exact)

    def merge(self, other: Origins, offsets: Mapping[str, int]) -> None:
        """``other``'s origins, with the index of each top-level list (``apis[0]``) moved by
        ``offsets`` (its entries were appended after those already in the config)."""
        for config_path, file, template_path, exact in other._entries:
            if len(config_path) > 1 and isinstance(config_path[1], int):
                shift = offsets.get(str(config_path[0]), 0)
                config_path = (config_path[0], config_path[1] + shift, *config_path[2:])
            self.add(config_path, file, template_path, exact=exact)

    def __len__(self) -> int:
        return len(self._entries)

    def rewrite(self, problems: list[Problem], config_file: str) -> list[Problem]:
        """``problems`` with those of ``config_file`` that fall under a known config path
        moved to their template, in order, duplicates dropped."""
        out: list[Problem] = []
        seen: set[Problem] = set()
        inside = config_file + "#"  # a document in the config: CONFIG#apis[0].definition
        for p in problems:
            if p.file.startswith(inside):
                prefix = p.file[len(inside):]
                joined = prefix + ("" if not p.path else p.path if p.path.startswith("[")
                                   else "." + p.path)
                p = Problem(config_file, joined, p.message)
            moved = self._move(p) if p.file == config_file else p
            if moved not in seen:
                seen.add(moved)
                out.append(moved)
        return out

    def _move(self, p: Problem) -> Problem:
        path = p.path
        while True:
            origin = self._by_path.get(path)
            if origin is not None:
                break
            cut = max(path.rfind("."), path.rfind("["))
            if cut <= 0:
                return p
            path = path[:cut]
        file, template_path, exact = origin
        rest = p.path[len(path):]
        where = format_path(template_path)
        message = p.message
        if rest and exact:
            where += rest if _BOUNDARY.match(rest) else "." + rest
        elif rest:
            message = f"{rest.lstrip('.')}: {message}"
        return Problem(file, where, message)
