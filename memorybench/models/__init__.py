"""Cell and model registries. Importing this module does not import Keras or TensorFlow."""

from __future__ import annotations

from typing import Any

from memorybench.errors import ConfigError
from memorybench.registry import Entry, Registry, unknown

__all__ = [
    "CELLS", "MODELS", "documented_by", "model_names", "model_entry", "register_cell",
    "register_model",
]


def _builtin_cells() -> dict[str, str]:
    from memorybench.models.builtin import BUILTIN_CELLS

    return dict(BUILTIN_CELLS)


def _builtin_models() -> dict[str, str]:
    from memorybench.models.builtin import BUILTIN_MODELS

    return dict(BUILTIN_MODELS)


CELLS = Registry("cell", "memorybench.cells", builtins=_builtin_cells)
MODELS = Registry("model", "memorybench.models", builtins=_builtin_models)
# cells and models share one namespace: a name means one thing on the command line
CELLS.siblings = [MODELS]
MODELS.siblings = [CELLS]


def register_cell(name: str, **defaults: Any):
    """Class decorator: register a Keras RNN cell under ``name``.

    The class is also registered as Keras-serializable under ``memorybench>name`` so a saved
    ``.keras`` file names it as the CLI does. ``defaults`` are constructor kwargs this name
    implies (one class may be registered under several names with different defaults).
    """

    def deco(cls):
        import keras  # a cell is a Keras layer: its module has imported Keras already

        if not (isinstance(cls, type) and issubclass(cls, keras.layers.Layer)):
            raise ConfigError(f"register_cell({name!r}) expects a keras.layers.Layer subclass")
        # state_size is usually set on the instance in __init__, so it cannot be checked on the
        # class here; build_model checks it (and the output shapes) on the built cell
        CELLS.register(name, cls, defaults=dict(defaults))
        # first name wins: a class registered under several names saves under its first
        if ">" not in keras.saving.get_registered_name(cls):
            keras.saving.register_keras_serializable(package="memorybench", name=name)(cls)
        return cls

    return deco


def register_model(name: str, **defaults: Any):
    """Register a sequence-model factory ``(spec, units, return_sequences, **params) -> Layer``."""

    def deco(fn):
        if not callable(fn):
            raise ConfigError(f"register_model({name!r}) expects a callable, got {fn!r}")
        MODELS.register(name, fn, defaults=dict(defaults))
        return fn

    return deco


def documented_by(cls):
    """Decorator: append ``cls``'s docstring (equations, citation) to a model factory's, so that
    ``memorybench model show NAME`` shows the layer the factory builds."""
    import inspect

    def deco(fn):
        if fn.__doc__ and cls.__doc__:  # None under python -OO
            fn.__doc__ = f"{inspect.cleandoc(fn.__doc__)}\n\n{inspect.cleandoc(cls.__doc__)}"
        return fn

    return deco


def model_names() -> list[str]:
    """Every registered cell and model name, plugins and entry points included."""
    return CELLS.all_names()


def model_entry(name: str) -> tuple[str, Entry]:
    """``("cell" | "model", entry)`` for a model name or a ``module:Class`` string."""
    if not isinstance(name, str):
        raise ConfigError(f"model name must be a string, got {name!r}")
    if ":" in name:
        # decided by the object every time: CELLS.entry caches every "module:attr" string,
        # factories included, so "name in CELLS" would call a factory a cell the second time
        import keras

        entry = CELLS.entry(name)
        is_layer = isinstance(entry.obj, type) and issubclass(entry.obj, keras.layers.Layer)
        return ("cell" if is_layer else "model"), entry
    if name in CELLS:
        return "cell", CELLS.entry(name)
    if name in MODELS:
        return "model", MODELS.entry(name)
    raise ConfigError(unknown("model", name, model_names()))
