"""Training: one run (train.py), sweeps and the horizon search (sweep.py, horizon.py), the
result store (store.py), executors (local, Ray) and progress.

``mb.run(cfg)`` is the public one-run call; this package shares the name, so the package itself
is callable and forwards to ``memorybench.run.train.run`` (``import memorybench.run.sweep`` would
otherwise replace the function ``mb.run`` by the package). Importing it imports nothing heavy.
"""

from __future__ import annotations

import sys
import types


class _CallablePackage(types.ModuleType):
    def __call__(self, *args, **kwargs):
        from memorybench.run.train import run

        return run(*args, **kwargs)


sys.modules[__name__].__class__ = _CallablePackage
