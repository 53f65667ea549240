"""The interface between a ``Registry`` and the store that keeps its state (``memory.py`` for one
process, ``redis.py`` shared through Redis)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable

from ratelimit.records import Mutation, RegistryState

Listener = Callable[[RegistryState], None]
Mutate = Callable[[RegistryState], Mutation]


class RegistryStore(ABC):
    """Where keys and plans live, shared by every Registry that uses the same store."""

    @abstractmethod
    async def load(self) -> RegistryState:
        """The current state, read consistently."""

    @abstractmethod
    async def commit(self, mutate: Mutate) -> RegistryState:
        """Run ``mutate`` on the current state and write its result atomically (retrying if
        another writer got in between); returns the new state. ``mutate`` may raise a
        ``RegistryError`` to reject the change; nothing is written then."""

    @abstractmethod
    async def subscribe(self, listener: Listener) -> None:
        """Call ``listener`` with each newer state committed by anyone sharing the store."""

    @abstractmethod
    def unsubscribe(self, listener: Listener) -> None: ...

    @abstractmethod
    async def aclose(self) -> None: ...
