"""The registry store of one process: the state lives in this object.

Registries that share the object see each commit at once: ``commit`` runs without awaiting,
so it is atomic on the event loop, and calls every listener before it returns.
"""

from __future__ import annotations

from ratelimit.records import RegistryState, apply_mutation
from ratelimit.storage.registry.base import Listener, Mutate, RegistryStore


class MemoryRegistryStore(RegistryStore):
    __slots__ = ("_listeners", "_state")

    def __init__(self) -> None:
        self._state = RegistryState()
        self._listeners: list[Listener] = []

    async def load(self) -> RegistryState:
        return self._state

    async def commit(self, mutate: Mutate) -> RegistryState:
        self._state = apply_mutation(self._state, mutate(self._state))
        for listener in tuple(self._listeners):
            listener(self._state)
        return self._state

    async def subscribe(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def unsubscribe(self, listener: Listener) -> None:
        if listener in self._listeners:
            self._listeners.remove(listener)

    async def aclose(self) -> None:
        # Other registries may share this store; the state outlives any one of them.
        return None
