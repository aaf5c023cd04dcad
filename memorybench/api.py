"""The calls that span the layers: a study run and then reported (``mb.study``).

``run/`` never imports ``report/``; a call that runs and then reports lives here, above both
(``docs/architecture.md``, the layers), and ``memorybench.study`` is this module's ``study``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from memorybench.errors import ConfigError
from memorybench.run import store


def study(
    name: str = "why-lstm",
    scale: str = "cpu",
    out: str | Path | None = None,
    *,
    add: list[str] | tuple[str, ...] | str = (),
    plugins: list[str | Path] | tuple[str | Path, ...] = (),
    source: str | Path | None = None,
    retrain_baselines: bool = False,
    sets: list[str] | dict | None = None,
    workers: int | None = None,
    executor: Any = None,
    retry_failed: bool = False,
    echo=print,
    warn=None,
    reporter_factory=None,
    command: str | None = None,
) -> dict[str, Any]:
    """``memorybench study`` from Python (``mb.study``): run the study ``name`` at ``scale`` into
    ``out`` (default ``results/<name>-<scale>``), then write its report; returns the study record
    with ``report``, the path of the report's ``index.html``. ``add`` (names, or one
    comma-separated string) and ``plugins`` (files that register them) are ``--with`` and
    ``--plugin``: only the added models train, beside the study's results from ``source`` (else
    ``out`` when it holds the study, else the shipped results). ``executor`` (default: the
    local pool with ``workers``, the scale's number when None), ``reporter_factory`` and
    ``command`` are ``run_study``'s (``run/study.py``)::

        import memorybench as mb
        rec = mb.study("why-lstm", "cpu", "results/mine", add="my_cell",
                       plugins=["my_cell.py"])
    """
    from memorybench.registry import load_plugin
    from memorybench.report.gradflow import plot_gradflow
    from memorybench.report.html import make_report
    from memorybench.report.jacobian import plot_jacobians
    from memorybench.run.executors import get_executor
    from memorybench.run.study import run_study
    from memorybench.settings.catalogue import study as study_settings
    from memorybench.settings.keys import name_list

    st = study_settings(name, scale)
    for f in plugins:
        load_plugin(f)
    names = name_list("add", add) if add else []
    if (source is not None or retrain_baselines) and not names:
        raise ConfigError("source and retrain_baselines go with add (the models to add)")
    folder = Path(out) if out is not None else Path(store.DEFAULT_RESULTS) / f"{name}-{scale}"
    if executor is None:  # workers 0 is refused, never the scale's default
        executor = get_executor("local", workers=workers if workers is not None
                                else st.get("workers") or 1)
    record = run_study(name, scale, folder, sets=sets, executor=executor, echo=echo,
                       reporter_factory=reporter_factory, retry_failed=retry_failed,
                       command=command, add=names, source=source,
                       retrain_baselines=retrain_baselines,
                       figures={"gradflow": plot_gradflow, "jacobian": plot_jacobians})
    return {**record, "report": make_report(folder, warn=warn or echo)}
