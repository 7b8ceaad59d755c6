"""A name → class registry, filled by a decorator and by importing modules on first use.

Backends and workloads both register this way (hatch's plugin registry is the model):
a duplicate name is refused, built-in modules are imported only when a name is first
looked up, and third-party classes arrive through an entry-point group (pytest's
plugins are the model) or, for workloads, from a user's Python file. Every class is
checked when it is registered; a plugin that fails to import or to pass the check is
kept with its reason (`failures`): asked for by name it is an error that says why,
otherwise the command line says so in a note. Where each class came from is kept too
(`origin`): built in, the distribution of a plugin, or the file.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import importlib.metadata
import importlib.util
import os
import pkgutil
import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Generic, TypeVar

from dlbench.errors import UsageError

T = TypeVar("T")
BUILT_IN = "built-in"
# Why a class cannot serve (None: it can); run on every class registered.
Check = Callable[[type], "str | None"]


class Registry(Generic[T]):
    def __init__(self, kind: str, package: str, helpers: Sequence[str] = (),
                 entry_points: str | None = None, check: Check | None = None,
                 files_env: str | None = None) -> None:
        self.kind = kind
        # The built-in members: every public module of `package` but its `helpers`.
        self._package, self._helpers = package, frozenset(helpers)
        self._entry_points = entry_points
        self._check = check
        # An environment variable naming files (os.pathsep-separated) whose classes load
        # with the built-in ones: how a spawned worker gets a parent's --workload-file.
        self._files_env = files_env
        self._classes: dict[str, type[T]] = {}
        self._origins: dict[str, str] = {}
        self._origin_now = BUILT_IN
        self.failures: dict[str, str] = {}  # plugin name -> why it did not load
        self.files: dict[str, list[str]] = {}  # file loaded -> the names it registered
        self._loaded = False

    def register(self, cls: type[T]) -> type[T]:
        name = cls.name  # type: ignore[attr-defined]
        if self._classes.get(name, cls) is not cls:
            raise ValueError(f"{self.kind} {name!r} is already registered")
        problem = self._check(cls) if self._check is not None else None
        if problem:
            raise TypeError(f"{self.kind} {name!r}: {problem}")
        self._classes[name] = cls
        self._origins.setdefault(name, self._origin_now)
        return cls

    @contextlib.contextmanager
    def _from(self, origin: str) -> Iterator[None]:
        before, self._origin_now = self._origin_now, origin
        try:
            yield
        finally:
            self._origin_now = before

    def _load(self) -> None:
        if self._loaded:
            return
        self._loaded = True
        for module in self.builtin_modules():
            importlib.import_module(module)
        if self._entry_points:
            for ep in importlib.metadata.entry_points(group=self._entry_points):
                self._load_entry_point(ep)
        if self._files_env:
            for path in filter(None, os.environ.get(self._files_env, "").split(os.pathsep)):
                with contextlib.suppress(UsageError):  # kept in failures
                    self.load_file(Path(path))

    def builtin_modules(self) -> list[str]:
        """The modules of the built-in members: a new one is a new file, nothing more."""
        if not self._package:
            return []
        path = importlib.import_module(self._package).__path__
        return [f"{self._package}.{m.name}" for m in pkgutil.iter_modules(path)
                if not m.name.startswith("_") and m.name not in self._helpers]

    def _load_entry_point(self, ep: importlib.metadata.EntryPoint) -> None:
        dist = ep.dist
        origin = f"plugin {dist.name} {dist.version}" if dist is not None else "plugin"
        try:
            with self._from(origin):
                loaded = ep.load()
                if not isinstance(loaded, type):
                    raise TypeError(f"{ep.value} is not a class")
                self.register(loaded)
        except Exception as exc:  # a broken plugin must not break dlbench itself
            self.failures[ep.name] = f"{origin}: {type(exc).__name__}: {exc}"

    def load_file(self, path: Path) -> list[str]:
        """Import a user's Python file, whose classes register themselves; the names they
        registered. A file that cannot be imported raises UsageError saying why."""
        self._load()
        if str(path) in self.files:  # already loaded (a parent's file, inherited)
            return self.files[str(path)]
        name = f"dlbench_file_{hashlib.sha256(str(path).encode()).hexdigest()[:12]}"
        before = set(self._classes)
        try:
            spec = importlib.util.spec_from_file_location(name, path)
            if spec is None or spec.loader is None:
                raise ImportError("not a Python file")
            module = importlib.util.module_from_spec(spec)
            sys.modules[name] = module  # dataclasses and pickle look classes up there
            with self._from(f"file {path}"):
                spec.loader.exec_module(module)
        except Exception as exc:
            sys.modules.pop(name, None)
            reason = f"{type(exc).__name__}: {exc}"
            self.failures[str(path)] = reason
            raise UsageError(f"{path}: cannot load the {self.kind} file ({reason})") from None
        self.files[str(path)] = sorted(set(self._classes) - before)
        return self.files[str(path)]

    def unload_file(self, path: Path) -> None:
        """Forget a file's classes (after the command that loaded it)."""
        for name in self.files.pop(str(path), ()):
            self._classes.pop(name, None)
            self._origins.pop(name, None)

    def names(self) -> list[str]:
        self._load()
        return sorted(self._classes)

    def origin(self, name: str) -> str:
        """Where `name` came from: "built-in", "plugin DIST VERSION" or "file PATH"."""
        self._load()
        return self._origins.get(name, BUILT_IN)

    def notes(self) -> list[str]:
        """A line for each plugin that failed to load, for the command line to say."""
        self._load()
        return [f"{self.kind} plugin {name!r} did not load ({reason})"
                for name, reason in self.failures.items()]

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
            raise UsageError(self.why_unknown(name)) from None

    def why_unknown(self, name: object) -> str:
        """Why `name` is not registered: unknown, or a plugin that did not load."""
        self._load()
        if isinstance(name, str) and name in self.failures:
            return f"{self.kind} plugin {name!r} did not load ({self.failures[name]})"
        return f"unknown {self.kind} {name!r} (known: {', '.join(sorted(self._classes))})"
