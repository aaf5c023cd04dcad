"""One configurable LSTM cell for the ablations of Greff et al. 2017, plus chrono initialisation."""

from __future__ import annotations

import numbers

import keras
from keras import ops

from memorybench.errors import ConfigError, check_positive
from memorybench.models import register_cell


class AblationLSTMCell(keras.layers.Layer):
    """LSTM cell whose parts can be switched off one at a time.

    Greff, Srivastava, Koutnik, Steunebrink & Schmidhuber 2017, "LSTM: A Search Space Odyssey",
    IEEE TNNLS 28(10). Chrono initialisation: Tallec & Ollivier 2018, "Can Recurrent Neural
    Networks Warp Time?", ICLR.

    Full cell (``lstm_full``; Keras' ``LSTM``, gate order i, f, c, o, no peepholes)::

        i_t = sigmoid(W_i x_t + R_i h_{t-1} + b_i)          input gate
        f_t = sigmoid(W_f x_t + R_f h_{t-1} + b_f)          forget gate, b_f = forget_bias
        z_t = g(W_z x_t + R_z h_{t-1} + b_z)                block input, g = tanh
        c_t = f_t * c_{t-1} + i_t * z_t                     additive memory
        o_t = sigmoid(W_o x_t + R_o h_{t-1} + b_o)          output gate
        h_t = o_t * k(c_t)                                  k = tanh

    Variants (the flag each name sets; a removed gate also removes its weights)::

        lstm_nig       input_gate=False         i_t = 1
        lstm_nfg       forget_gate=False        f_t = 1: c_t = c_{t-1} + i_t * z_t, the
                                                original LSTM (Hochreiter & Schmidhuber 1997)
        lstm_nog       output_gate=False        o_t = 1
        lstm_niaf      input_activation=False   g(x) = x
        lstm_noaf      output_activation=False  k(x) = x
        lstm_cifg      coupled=True             i_t = 1 - f_t (CIFG; Greff et al. write
                                                f_t = 1 - i_t, the same cell up to the sign
                                                of the gate's weights)
        lstm_peephole  peepholes=True           i_t, f_t see c_{t-1} and o_t sees c_t through
                                                diagonal weights p: ... + p_i * c_{t-1} + b_i
                                                (Gers & Schmidhuber 2000; Greff's vanilla LSTM)
        lstm_chrono    chrono=True              b_f ~ log(U[1, T_max - 1]), b_i = -b_f
        lstm_fb0       forget_bias=0            b_f = 0: time constant 1 / (1 - f) = 2 at init
        lstm_fb3       forget_bias=3            b_f = 3: time constant 21 at init (b_f = 1,
                                                the default and Keras' LSTM: 3.7)
        cec            input_gate, forget_gate, output_gate all False: every gate fixed
                                                open, c_t = c_{t-1} + tanh(W_z x_t + R_z h_{t-1}
                                                + b_z), h_t = tanh(c_t): the bare constant
                                                error carousel (Hochreiter & Schmidhuber 1997,
                                                section 4), an additive memory without gates

    Chrono initialisation sets the forget gate's time constants 1 / (1 - f) spread over
    [1, T_max]. ``from_task`` sets ``T_max`` to the task's number of time steps (``spec.steps``),
    not its ``length``: the longest dependency a cell must bridge is the span from a cue to the
    step that uses it, which is up to T + 20 steps on ``copy_memory`` (whose ``length`` is only
    the blank delay T) and up to 784 on sequential MNIST; ``steps`` bounds every such span and
    equals ``length`` on ``adding`` and marked ``delayed_xor``. Chrono is robust to overshooting
    T_max (log-uniform), less so to undershooting it.

    Peephole weights start at zero, so ``lstm_peephole`` starts as ``lstm_full`` and any
    difference is learned. Per step: one matmul for x and one for h over the fused gate blocks.
    """

    def __init__(
        self,
        units: int,
        input_gate: bool = True,
        forget_gate: bool = True,
        output_gate: bool = True,
        input_activation: bool = True,
        output_activation: bool = True,
        coupled: bool = False,
        peepholes: bool = False,
        forget_bias: float = 1.0,
        chrono: bool = False,
        chrono_t_max: int | None = None,
        kernel_initializer="glorot_uniform",
        recurrent_initializer="orthogonal",
        **kwargs,
    ):
        super().__init__(**kwargs)
        check_positive("units", units, "AblationLSTMCell")
        flags = dict(
            input_gate=input_gate, forget_gate=forget_gate, output_gate=output_gate,
            input_activation=input_activation, output_activation=output_activation,
            coupled=coupled, peepholes=peepholes, chrono=chrono,
        )
        for key, value in flags.items():
            if not isinstance(value, bool):
                raise ConfigError(f"AblationLSTMCell: {key} must be True or False, got {value!r}")
        if coupled and not (forget_gate and input_gate):
            raise ConfigError(
                "AblationLSTMCell: coupled=True derives the input gate from the forget gate "
                "(i = 1 - f); it needs input_gate=True and forget_gate=True"
            )
        if chrono and not forget_gate:
            raise ConfigError("AblationLSTMCell: chrono=True initialises the forget gate; it "
                              "needs forget_gate=True")
        if chrono and (
            isinstance(chrono_t_max, bool) or not isinstance(chrono_t_max, int)
            or chrono_t_max < 2
        ):
            raise ConfigError(
                f"AblationLSTMCell: chrono=True needs chrono_t_max, an integer >= 2 (the longest "
                f"dependency in steps; build_model sets it from the task), got {chrono_t_max!r}"
            )
        if isinstance(forget_bias, bool) or not isinstance(forget_bias, numbers.Real):
            raise ConfigError(
                f"AblationLSTMCell: forget_bias must be a number, got {forget_bias!r}"
            )
        self.units = units
        self.input_gate = input_gate
        self.forget_gate = forget_gate
        self.output_gate = output_gate
        self.input_activation = input_activation
        self.output_activation = output_activation
        self.coupled = coupled
        self.peepholes = peepholes
        self.forget_bias = float(forget_bias)
        self.chrono = chrono
        self.chrono_t_max = chrono_t_max
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.recurrent_initializer = keras.initializers.get(recurrent_initializer)
        self.state_size = [units, units]
        self.output_size = units
        # which fused blocks exist, in Keras' order i, f, c, o; decided once, not per step
        self._has_i = input_gate and not coupled
        self._blocks = [b for b, on in (("i", self._has_i), ("f", forget_gate), ("c", True),
                                         ("o", output_gate)) if on]

    @classmethod
    def from_task(cls, spec, units: int, **params):
        """The cell for a task: chrono's T_max is ``spec.steps`` (see the class docstring)."""
        if params.get("chrono") and params.get("chrono_t_max") is None:
            params["chrono_t_max"] = int(spec.steps)
        return cls(units, **params)

    def build(self, input_shape):
        n = len(self._blocks) * self.units
        self.kernel = self.add_weight(
            shape=(input_shape[-1], n), name="kernel", initializer=self.kernel_initializer
        )
        self.recurrent_kernel = self.add_weight(
            shape=(self.units, n), name="recurrent_kernel", initializer=self.recurrent_initializer
        )
        self.bias = self.add_weight(shape=(n,), name="bias", initializer=self._bias_init)
        if self.peepholes:
            # one attribute a gate (not a dict) so Keras tracks each weight exactly once
            for g in ("i", "f", "o"):
                if g in self._blocks:
                    w = self.add_weight(shape=(self.units,), name=f"peephole_{g}",
                                        initializer="zeros")
                    setattr(self, f"peephole_{g}", w)
        super().build(input_shape)

    def _bias_init(self, shape, dtype=None):
        u = self.units
        parts = {b: ops.zeros((u,), dtype=dtype) for b in self._blocks}
        if "f" in parts:
            parts["f"] = ops.full((u,), self.forget_bias, dtype=dtype)
        if self.chrono:
            t = keras.initializers.RandomUniform(1.0, float(self.chrono_t_max - 1))((u,), dtype)
            parts["f"] = ops.log(t)
            if "i" in parts:
                parts["i"] = -parts["f"]
        return ops.concatenate([parts[b] for b in self._blocks], axis=0)

    def call(self, inputs, states, training=False):
        h_tm1, c_tm1 = states[0], states[1]
        z = ops.matmul(inputs, self.kernel)
        z = ops.add(z, ops.matmul(h_tm1, self.recurrent_kernel))
        z = ops.add(z, self.bias)
        blocks = dict(zip(self._blocks, ops.split(z, len(self._blocks), axis=-1), strict=True))
        peep = {g: getattr(self, f"peephole_{g}") for g in ("i", "f", "o")
                if self.peepholes and g in self._blocks}

        f = None
        if self.forget_gate:
            zf = blocks["f"] + peep["f"] * c_tm1 if peep else blocks["f"]
            f = ops.sigmoid(zf)
        i = None
        if self._has_i:
            zi = blocks["i"] + peep["i"] * c_tm1 if peep else blocks["i"]
            i = ops.sigmoid(zi)
        elif self.coupled:
            i = 1.0 - f
        g = ops.tanh(blocks["c"]) if self.input_activation else blocks["c"]
        # None stands for a gate fixed at 1: skip the multiply rather than multiply by ones
        c = (c_tm1 if f is None else f * c_tm1) + (g if i is None else i * g)
        y = ops.tanh(c) if self.output_activation else c
        if self.output_gate:
            zo = blocks["o"] + peep["o"] * c if peep else blocks["o"]
            y = ops.sigmoid(zo) * y
        return y, [y, c]

    @staticmethod
    def equations(
        input_gate=True, forget_gate=True, output_gate=True, input_activation=True,
        output_activation=True, coupled=False, peepholes=False, forget_bias=1.0, chrono=False,
        **_ignored,
    ) -> str:
        """The update equations of one configuration, as text (``memorybench model show``)."""
        p = (lambda g, c: f" + p_{g} * {c}") if peepholes else (lambda g, c: "")
        lines = []
        if input_gate and not coupled:
            lines.append(f"i_t = sigmoid(W_i x_t + R_i h_{{t-1}}{p('i', 'c_{t-1}')} + b_i)")
        if forget_gate:
            lines.append(f"f_t = sigmoid(W_f x_t + R_f h_{{t-1}}{p('f', 'c_{t-1}')} + b_f)")
        if coupled:
            lines.append("i_t = 1 - f_t")
        zin = "W_z x_t + R_z h_{t-1} + b_z"
        lines.append(f"z_t = tanh({zin})" if input_activation else f"z_t = {zin}")
        fc = "f_t * c_{t-1}" if forget_gate else "c_{t-1}"
        iz = "i_t * z_t" if (input_gate or coupled) else "z_t"
        lines.append(f"c_t = {fc} + {iz}")
        k = "tanh(c_t)" if output_activation else "c_t"
        if output_gate:
            lines.append(f"o_t = sigmoid(W_o x_t + R_o h_{{t-1}}{p('o', 'c_t')} + b_o)")
            lines.append(f"h_t = o_t * {k}")
        else:
            lines.append(f"h_t = {k}")
        if chrono:
            init = "b_f ~ log(U[1, T_max - 1])" + (", b_i = -b_f" if input_gate and not coupled
                                                   else "")
            lines.append(f"init: {init}, T_max = the task's time steps")
        elif forget_gate:
            lines.append(f"init: b_f = {forget_bias:g}")
        return "\n".join(lines)

    def get_config(self):
        config = super().get_config()
        config.update(
            units=self.units,
            input_gate=self.input_gate,
            forget_gate=self.forget_gate,
            output_gate=self.output_gate,
            input_activation=self.input_activation,
            output_activation=self.output_activation,
            coupled=self.coupled,
            peepholes=self.peepholes,
            forget_bias=self.forget_bias,
            chrono=self.chrono,
            chrono_t_max=self.chrono_t_max,
            kernel_initializer=keras.initializers.serialize(self.kernel_initializer),
            recurrent_initializer=keras.initializers.serialize(self.recurrent_initializer),
        )
        return config


# Registered in this order on purpose: the first name is the one a saved .keras file carries.
VARIANTS: dict[str, dict] = {
    "lstm_full": {},
    "lstm_nig": {"input_gate": False},
    "lstm_nfg": {"forget_gate": False},
    "lstm_nog": {"output_gate": False},
    "lstm_niaf": {"input_activation": False},
    "lstm_noaf": {"output_activation": False},
    "lstm_cifg": {"coupled": True},
    "lstm_peephole": {"peepholes": True},
    "lstm_chrono": {"chrono": True},
    # the forget-gate bias sweep (b_f 0, 1 as in lstm_full and Keras' LSTM, 3, chrono): the
    # gate's time constant at initialisation 1 / (1 - sigmoid(b_f)) is 2, 3.7 and 21 steps
    "lstm_fb0": {"forget_bias": 0.0},
    "lstm_fb3": {"forget_bias": 3.0},
    # the first step of the LSTM's argument alone: the unit self-loop, no gates
    "cec": {"input_gate": False, "forget_gate": False, "output_gate": False},
}

for _name, _defaults in VARIANTS.items():
    register_cell(_name, **_defaults)(AblationLSTMCell)
