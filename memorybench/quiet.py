"""TensorFlow's log lines kept off the terminal unless asked for (``--verbose``).

``TF_CPP_MIN_LOG_LEVEL=3`` silences TensorFlow's C++ logging once that logging is set up (the
``E0000 ... failed call to cuInit: ... CUDA error`` line of a machine without a GPU, the
CPU-feature and oneDNN notes). Loading the library prints before it is set up
(``WARNING: All log messages before absl::InitializeLog() is called are written to STDERR``,
``I0000 ... cudart_stub.cc ... Could not find cuda drivers``), which no variable controls: those
are hidden by pointing file descriptor 2 at ``/dev/null`` while ``tensorflow`` is imported.
An exception raised by the import still reaches the terminal (after the descriptor is back).

TensorFlow's Python log below ERROR (``... triggered tf.function retracing``, one predict
function per evaluated length) and the plotting libraries' ``UserWarning``s (matplotlib's
``Glyph ... missing from font(s)`` for a name with characters the font lacks, seaborn's palette
notes) are kept off the terminal too: they say nothing about the results. Warnings of
memorybench itself (a results file skipped) still show.
"""

from __future__ import annotations

import contextlib
import importlib.abc
import importlib.util
import logging
import os
import sys
import warnings

VERBOSE_ENV = "MEMORYBENCH_VERBOSE"
LOG_LEVEL_ENV = "TF_CPP_MIN_LOG_LEVEL"


def quiet_tensorflow(verbose: bool = False) -> None:
    """Hide TensorFlow's log lines from here on (call before TensorFlow is imported); with
    ``verbose``, keep them. A ``TF_CPP_MIN_LOG_LEVEL`` set by the user is left as it is."""
    if verbose:
        # commands that quiet TensorFlow themselves only set the variable when it is unset
        os.environ.setdefault(LOG_LEVEL_ENV, "0")
        return
    os.environ.setdefault(LOG_LEVEL_ENV, "3")
    logging.getLogger("tensorflow").setLevel(logging.ERROR)  # TF's own logger: set, not reset
    warnings.filterwarnings("ignore", category=UserWarning, module=r"(matplotlib|seaborn)(\.|$)")
    # matplotlib names the first caller outside itself as the warning's module (warn_external)
    warnings.filterwarnings("ignore", message=r"Glyph \d+ .*missing from font",
                            category=UserWarning)
    if "tensorflow" not in sys.modules and not any(
        isinstance(f, _QuietImport) for f in sys.meta_path
    ):
        sys.meta_path.insert(0, _QuietImport())


class _QuietImport(importlib.abc.MetaPathFinder):
    """Finds ``tensorflow`` with the other finders and runs its import with stderr silenced;
    removes itself at the first import of ``tensorflow``."""

    def find_spec(self, name, path=None, target=None):
        if name != "tensorflow":
            return None
        with contextlib.suppress(ValueError):
            sys.meta_path.remove(self)
        spec = importlib.util.find_spec(name)
        loader = getattr(spec, "loader", None)
        if loader is None or not hasattr(loader, "exec_module"):
            return spec
        real_exec = loader.exec_module

        def exec_module(module):
            loader.__dict__.pop("exec_module", None)  # the loader is itself again
            with stderr_silenced():
                real_exec(module)

        try:
            loader.exec_module = exec_module
        except (AttributeError, TypeError):  # a loader that takes no attributes: import as is
            pass
        return spec


@contextlib.contextmanager
def stderr_silenced():
    """File descriptor 2 points at ``/dev/null`` inside the block (C++ libraries write there
    directly, past ``sys.stderr``)."""
    with contextlib.suppress(Exception):
        sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)
