"""Settings: profiles and studies as data, layering, the dotted key space, and the grid.

Three modules, one concern each, lowest first (each imports only the ones before it):

- ``catalogue``: the profiles (``PROFILES``, ``profile``) and studies (``STUDIES``, ``study``,
  the why-LSTM study's ``WHY_LSTM_*`` parts) as data.
- ``keys``: the key space's grammar (its table is that module's docstring), typed values
  (``typed``, ``coerce``, the name and number lists), the four layers merged (``layered``,
  ``merge_layers``, ``load_config_file``, ``parse_set_items``) and keys sorted by place
  (``sort_keys``); ``task_params_from_sets`` for ``task show --set``.
- ``grid``: ``expand`` (merged settings -> resolved runs, in named steps, at most
  ``MAX_GRID`` runs unless allowed) and ``plan``, the one entry point.

``plan(...)`` is used by the CLI and by Python: it layers the settings and expands them into
resolved ``RunConfig``s, validating every key, name and value before anything is written, so bad
input fails with one ``ConfigError``. The public names of the three modules are importable from
here (``from memorybench.settings import plan, PROFILES``); modules of the package import them
from their own module.
"""

from __future__ import annotations

from memorybench.settings.catalogue import (
    DEFAULT_PROFILE,
    PROFILES,
    RETIRED_PROFILES,
    STUDIES,
    WHY_LSTM_CLAIMS,
    WHY_LSTM_FACTORS,
    WHY_LSTM_MODELS,
    WHY_LSTM_STEPS,
    profile,
    study,
)
from memorybench.settings.grid import MAX_GRID, PROBE_ENV, Plan, expand, plan
from memorybench.settings.keys import (
    MODEL_KEYS,
    OPTION_KEYS,
    SWEEP_KEYS,
    Keys,
    Layered,
    coerce,
    field_default,
    float_list,
    int_list,
    known_keys,
    layered,
    load_config_file,
    merge_layers,
    name_list,
    parse_set_items,
    sort_keys,
    task_params_from_sets,
    train_typed,
    typed,
)

__all__ = [
    "DEFAULT_PROFILE", "MAX_GRID", "MODEL_KEYS", "OPTION_KEYS", "PROBE_ENV", "PROFILES",
    "RETIRED_PROFILES", "STUDIES", "SWEEP_KEYS", "WHY_LSTM_CLAIMS", "WHY_LSTM_FACTORS",
    "WHY_LSTM_MODELS", "WHY_LSTM_STEPS", "Keys", "Layered", "Plan", "coerce", "expand",
    "field_default", "float_list", "int_list", "known_keys", "layered", "load_config_file",
    "merge_layers", "name_list", "parse_set_items", "plan", "profile", "sort_keys", "study",
    "task_params_from_sets", "train_typed", "typed",
]
