"""A name → class registry, filled by a decorator and by importing modules on first use.

Backends and workloads both register this way (hatch's plugin registry is the model):
a duplicate name is refused, built-in modules are imported only when a name is first
looked up, and third-party classes can arrive through an entry-point group.
"""

from __future__ import annotations

import importlib
import importlib.metadata
from collections.abc import Sequence
from typing import Generic, TypeVar

from dlbench.errors import UsageError

T = TypeVar("T")


class Registry(Generic[T]):
    def __init__(self, kind: str, modules: Sequence[str], entry_points: str | None = None
                 ) -> None:
        self.kind = kind
        self._modules = modules
        self._entry_points = entry_points
        self._classes: dict[str, type[T]] = {}
        self._loaded = False

    def register(self, cls: type[T]) -> type[T]:
        name = cls.name  # type: ignore[attr-defined]
        if self._classes.get(name, cls) is not cls:
            raise ValueError(f"{self.kind} {name!r} is already registered")
        self._classes[name] = cls
        return cls

    def _load(self) -> None:
        if self._loaded:
            return
        self._loaded = True
        for module in self._modules:
            importlib.import_module(module)
        if self._entry_points:
            for ep in importlib.metadata.entry_points(group=self._entry_points):
                try:
                    self.register(ep.load())
                except Exception:  # a broken plugin must not break dlbench itself
                    continue

    def names(self) -> list[str]:
        self._load()
        return sorted(self._classes)

    def find(self, name: str) -> type[T] | None:
        """The class registered as `name`, or None (a name read from a file may be one this
        dlbench does not know)."""
        self._load()
        return self._classes.get(name)

    def get(self, name: str) -> type[T]:
        self._load()
        try:
            return self._classes[name]
        except KeyError:
            raise UsageError(f"unknown {self.kind} {name!r} "
                             f"(known: {', '.join(sorted(self._classes))})") from None
