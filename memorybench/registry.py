"""Named registries of tasks, cells and models: built-ins, entry points and plugin files."""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import re
import sys
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

from memorybench.errors import ConfigError, PluginError


@dataclass
class Entry:
    """One registered name: the object once imported, or where to import it from."""

    name: str
    obj: Any = None
    target: str | None = None  # "module:attr", imported on first get()
    source: str = "builtin"  # builtin | entry point | plugin file path | module:attr
    meta: dict = field(default_factory=dict)


class Registry:
    """Name -> object, filled by decorators, lazy built-ins, entry points and plugins.

    Built-ins and entry points are recorded as ``module:attr`` strings so that listing names
    never imports their modules (and so never TensorFlow).
    """

    def __init__(self, kind: str, group: str, builtins: Callable[[], dict[str, str]] | None = None):
        self.kind = kind
        self.group = group
        self._builtins = builtins
        self._entries: dict[str, Entry] = {}
        self._refs: dict[str, Entry] = {}  # "module:attr" strings used so far (not names)
        self._loaded_builtins = False
        self._loaded_entry_points = False
        # other registries that share this one's namespace (cells and models)
        self.siblings: list[Registry] = []

    # -- filling ---------------------------------------------------------------------------
    def _ensure(self) -> None:
        if not self._loaded_builtins:
            self._loaded_builtins = True
            for name, target in (self._builtins() if self._builtins else {}).items():
                self._entries.setdefault(name, Entry(name, target=target))
        if not self._loaded_entry_points:
            self._loaded_entry_points = True
            for ep in metadata.entry_points(group=self.group):
                if ep.name not in self._entries:
                    self._entries[ep.name] = Entry(
                        ep.name, target=ep.value, source=f"entry point {ep.value}"
                    )

    def register(self, name: str, obj: Any = None, **meta: Any):
        """Register ``obj`` under ``name``; without ``obj``, return a decorator."""
        if obj is None:
            return lambda o: self.register(name, o, **meta)
        if not isinstance(name, str) or not name.strip() or ":" in name:
            raise ConfigError(
                f"{self.kind} name must be a non-empty string without ':' (that marks "
                f"'module:Class' references), got {name!r}"
            )
        check_name(self.kind, name)
        self._ensure()
        for reg in [self, *self.siblings]:
            reg._ensure()
            old = reg._entries.get(name)
            if old is None:
                continue
            # a lazy built-in / entry point whose module is being imported registers itself
            lazy_self = old.obj is None and old.target and _module_of(old.target) == getattr(
                obj, "__module__", None
            )
            if reg is self and lazy_self:
                break
            if old.obj is obj:
                return obj
            raise ConfigError(
                f"{self.kind} name {name!r} is already registered (by {old.source}); "
                f"choose another name"
            )
        source = _current_plugin or getattr(obj, "__module__", "?")
        entry = self._entries.get(name)
        if entry is not None and entry.obj is None:
            entry.obj, entry.meta = obj, meta
        else:
            self._entries[name] = Entry(name, obj=obj, source=source, meta=meta)
        return obj

    # -- reading ---------------------------------------------------------------------------
    def names(self) -> list[str]:
        self._ensure()
        return sorted(self._entries)

    def __contains__(self, name: str) -> bool:
        self._ensure()
        return name in self._entries

    def peek(self, name: str) -> Entry | None:
        """The entry of ``name`` as registered, or None, importing nothing (its ``source``
        and ``target`` are known before its object is)."""
        self._ensure()
        return self._entries.get(name)

    def entry(self, name: str) -> Entry:
        self._ensure()
        if name not in self._entries:
            if ":" in name:  # "module:Class" strings: cached apart, so names() stays names
                if name not in self._refs:
                    obj = _import_target(name, self.kind)
                    self._refs[name] = Entry(name, obj=obj, source=name)
                return self._refs[name]
            raise ConfigError(unknown(self.kind, name, self.all_names()))
        e = self._entries[name]
        if e.obj is None:
            obj = _import_target(e.target, self.kind)
            # importing the module may have run a decorator that filled the entry in place
            if e.obj is None:
                e.obj = obj
        return e

    def get(self, name: str) -> Any:
        return self.entry(name).obj

    def all_names(self) -> list[str]:
        """Names of this registry and its siblings (one namespace for the user)."""
        names = set(self.names())
        for reg in self.siblings:
            names.update(reg.names())
        return sorted(names)


# Names become Keras layer and model names, and TensorFlow accepts a root name scope only if it
# matches ^[A-Za-z0-9.][A-Za-z0-9_.\\/>-]*$ ('_under' fails inside training); a '.' would make
# a task name clash with the TASK.FIELD settings keys
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*")


def check_name(kind: str, name: str) -> None:
    """ConfigError unless ``name`` is a usable registered name (TensorFlow's scope rule)."""
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise ConfigError(
            f"{kind} name {name!r} is not allowed; allowed: ASCII letters, digits, '_' and '-', "
            f"starting with a letter or digit (Keras / TensorFlow use it as a scope name)"
        )


def unknown(kind: str, name: str, known: list[str]) -> str:
    return f"unknown {kind} {name!r}; known: {', '.join(known) if known else '(none)'}"


def _module_of(target: str) -> str:
    return target.split(":", 1)[0]


def _import_target(target: str, kind: str) -> Any:
    module_name, _, attr = target.partition(":")
    try:
        module = importlib.import_module(module_name)
    except (Exception, SystemExit) as exc:  # the user's module: report it in one line
        raise PluginError(f"cannot import {kind} module {module_name!r}: {exc!r}") from exc
    if not attr:
        raise ConfigError(f"{kind} reference {target!r} must look like 'module:Class'")
    obj = module
    for part in attr.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError as exc:
            raise PluginError(f"module {module_name!r} has no attribute {attr!r}") from exc
    return obj


# -- plugin files ---------------------------------------------------------------------------
_current_plugin: str | None = None
_loaded_plugins: dict[str, str] = {}  # resolved path -> sha256


def load_plugin(path: str | Path) -> str:
    """Import a plugin file under a private module name so its decorators run.

    Returns the file's sha256, which runs record. Loading the same file twice is a no-op.
    """
    global _current_plugin
    p = Path(path).expanduser().resolve()
    key = str(p)
    if key in _loaded_plugins:
        return _loaded_plugins[key]
    if p.is_dir():
        raise PluginError(
            f"plugin {str(path)!r} is a folder; give the plugin's .py file (a plugin package "
            f"registers through entry points once installed: pip install it)")
    if p.exists() and not p.is_file():
        raise PluginError(f"plugin {str(path)!r} is not a regular file; give a .py file")
    if not p.is_file():
        raise PluginError(f"plugin file {str(path)!r} does not exist")
    try:
        data = p.read_bytes()
    except OSError as exc:
        raise PluginError(f"cannot read plugin file {str(path)!r}: {exc.strerror}") from None
    digest = hashlib.sha256(data).hexdigest()
    try:
        code = compile(data, key, "exec")
    except SyntaxError as exc:
        raise PluginError(
            f"plugin {p.name} line {exc.lineno}: syntax error: {exc.msg}; fix the file {key}"
        ) from exc
    mod_name = f"memorybench_plugin_{digest[:12]}_{safe_name(p.stem)}"
    spec = importlib.util.spec_from_loader(mod_name, loader=None, origin=key)
    module = importlib.util.module_from_spec(spec)
    module.__file__ = key
    sys.modules[mod_name] = module
    _current_plugin = key
    try:
        exec(code, module.__dict__)
    except (ConfigError, PluginError) as exc:
        sys.modules.pop(mod_name, None)
        raise PluginError(f"plugin {p.name}: {exc}") from exc
    except (Exception, SystemExit) as exc:  # sys.exit() in a plugin must not end the command
        sys.modules.pop(mod_name, None)
        tb = traceback.extract_tb(exc.__traceback__)
        line = next((f.lineno for f in reversed(tb) if f.filename == key), None)
        where = f" (line {line})" if line else ""
        raise PluginError(f"plugin {p.name} raised on import{where}: {exc!r}") from exc
    finally:
        _current_plugin = None
    _loaded_plugins[key] = digest
    return digest


def loaded_plugins() -> dict[str, str]:
    """Plugin files loaded in this process: path -> sha256."""
    return dict(_loaded_plugins)


def safe_name(s: str) -> str:
    """``s`` with every character but letters, digits and ``_`` replaced by ``_``."""
    return "".join(c if c.isalnum() else "_" for c in s)
