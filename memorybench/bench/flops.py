"""Training FLOPs of one step, counted from a model's weight matrices.

A weight matrix entry costs 2 FLOPs (multiply, add) per use in the forward pass and 4 in the
backward pass (the gradient with respect to the weight and to the input), so a training step
costs ``6 * batch * uses * entries`` summed over the model's weight matrices (every weight with
2 or more axes); recurrent and convolution weights are used once per time step, the head once
(or every step on every-step tasks). Elementwise work is not counted: a lower bound.
"""

from __future__ import annotations

import math


def flops_per_step(model, spec, batch: int) -> float:
    """Training FLOPs of one step from the weight matrices (see the module docstring)."""
    total = 0.0
    for layer in model.layers:
        per_step = layer.name != "head" or spec.output == "every_step"
        uses = spec.steps if per_step else 1
        for w in layer.weights:
            if len(w.shape) >= 2:
                total += 6.0 * batch * uses * math.prod(int(d) for d in w.shape)
    return total
