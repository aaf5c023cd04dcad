"""Text card of a cell or model for ``memorybench model show``: equations, citation, size."""

from __future__ import annotations

import inspect

from memorybench.config import DEFAULT_UNITS
from memorybench.tasks import Task, get_task


def describe_model(name: str, task: Task | str = "adding", units: int = DEFAULT_UNITS,
                   length: int = 100, **params) -> str:
    """Equations and citation (the class or factory docstring), the settings the name implies
    and the parameter count on ``task`` at ``length`` with ``units`` hidden units.

    Builds the model once (imports Keras); ``task`` may be a name or a ``Task`` (then
    ``length`` is ignored).
    """
    from memorybench.models import model_entry
    from memorybench.models.build import build_model, cudnn_eligible

    kind, entry = model_entry(name)
    obj = entry.obj
    defaults = {**entry.meta.get("defaults", {}), **params}
    task_obj = task if isinstance(task, Task) else get_task(task, length=length)
    spec = task_obj.spec
    model = build_model(task_obj, name, units=units, **params)

    what = obj.__name__ if hasattr(obj, "__name__") else type(obj).__name__
    where = f"{getattr(obj, '__module__', '?')}:{getattr(obj, '__qualname__', what)}"
    out = [f"== {name} ==", f"{kind} {what} ({where}); from {entry.source}"]
    if defaults:
        out.append("settings: " + ", ".join(f"{k}={v!r}" for k, v in defaults.items()))
    equations = getattr(obj, "equations", None)
    if callable(equations):  # a configurable class renders the equations of this name
        out += ["", "== equations (this configuration) =="]
        out += ["  " + line for line in equations(**defaults).splitlines()]
    doc = inspect.getdoc(obj) or "(no docstring: document the equations and the paper)"
    out += ["", "== definition and citation ==", doc]

    out += ["", f"== size on {spec.name} (length {spec.length}, {spec.steps} steps, input "
                f"{spec.input_dim}, output {spec.output}), {units} units =="]
    out.append(f"  parameters: {model.count_params():,}")
    for layer in model.layers:
        n = layer.count_params()
        if n:
            out.append(f"    {layer.name} ({type(layer).__name__}): {n:,}")
    if cudnn_eligible(model):
        gpu = "yes"
    elif kind == "cell":
        gpu = "no (a custom cell runs in keras.layers.RNN's step loop)"
    else:
        gpu = "no"
    out.append(f"  cuDNN kernel on a GPU: {gpu}")
    return "\n".join(out)
