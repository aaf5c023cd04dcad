"""Finds and loads the performance suite (``benchmarks/suite.py``) for ``memorybench bench``.

The suite lives in the repository, not in the installed package: ``memorybench bench`` works
from a source checkout installed with ``pip install -e .`` (the folder next to the package), or
with ``MEMORYBENCH_BENCHMARKS`` naming a ``benchmarks/`` folder.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

from memorybench.errors import ConfigError

ENV = "MEMORYBENCH_BENCHMARKS"
MODULE = "memorybench_bench_suite"


def suite_path() -> Path:
    folder = os.environ.get(ENV) or Path(__file__).resolve().parent.parent / "benchmarks"
    return Path(folder) / "suite.py"


def load_suite():
    """The ``benchmarks/suite.py`` module; ConfigError (one line) when it cannot be found."""
    if MODULE in sys.modules:
        return sys.modules[MODULE]
    path = suite_path()
    if not path.is_file():
        raise ConfigError(
            f"memorybench bench needs the benchmarks/ folder of a source checkout, not found at "
            f"{path.parent}: clone the repository and `pip install -e .` it, or set {ENV}"
        )
    spec = importlib.util.spec_from_file_location(MODULE, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[MODULE] = module  # dataclasses and pickling look modules up by name
    try:
        spec.loader.exec_module(module)
    except Exception:
        sys.modules.pop(MODULE, None)
        raise
    return module
