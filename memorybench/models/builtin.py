"""Catalog of the built-in cells and models (names -> ``module:attr``), and the fused Keras layers.

The catalog is plain data so that listing names imports neither Keras nor the cell modules.
"""

from __future__ import annotations

_CELLS = "memorybench.models.cells"
_LAYERS = "memorybench.models.layers"  # sequence models that are not cells

BUILTIN_CELLS: dict[str, str] = {
    "ungated": f"{_CELLS}.ungated:UngatedCell",
    # LSTM ablations (Greff et al. 2017): one configurable class under several names
    "lstm_full": f"{_CELLS}.lstm_ablation:AblationLSTMCell",
    "lstm_nig": f"{_CELLS}.lstm_ablation:AblationLSTMCell",
    "lstm_nfg": f"{_CELLS}.lstm_ablation:AblationLSTMCell",
    "lstm_nog": f"{_CELLS}.lstm_ablation:AblationLSTMCell",
    "lstm_niaf": f"{_CELLS}.lstm_ablation:AblationLSTMCell",
    "lstm_noaf": f"{_CELLS}.lstm_ablation:AblationLSTMCell",
    "lstm_cifg": f"{_CELLS}.lstm_ablation:AblationLSTMCell",
    "lstm_peephole": f"{_CELLS}.lstm_ablation:AblationLSTMCell",
    "lstm_chrono": f"{_CELLS}.lstm_ablation:AblationLSTMCell",
    "lstm_fb0": f"{_CELLS}.lstm_ablation:AblationLSTMCell",
    "lstm_fb3": f"{_CELLS}.lstm_ablation:AblationLSTMCell",
    "cec": f"{_CELLS}.lstm_ablation:AblationLSTMCell",  # every gate open: the bare carousel
    "irnn": f"{_CELLS}.irnn:IRNNCell",
    "indrnn": f"{_CELLS}.indrnn:IndRNNCell",
    "cornn": f"{_CELLS}.cornn:CoRNNCell",
    "lmu": f"{_CELLS}.lmu:LMUCell",
    "lem": f"{_CELLS}.lem:LEMCell",
    "antisymmetric": f"{_CELLS}.antisymmetric:AntisymmetricCell",
}

BUILTIN_MODELS: dict[str, str] = {
    # Keras' fused layers, so the cuDNN kernels are taken on GPU
    "simple_rnn": "memorybench.models.builtin:simple_rnn",
    "lstm": "memorybench.models.builtin:lstm",
    "gru": "memorybench.models.builtin:gru",
    # parallel-scan models (trained with an associative scan over time)
    "mingru": f"{_LAYERS}.minrnn:mingru",
    "minlstm": f"{_LAYERS}.minrnn:minlstm",
    "tcn": "memorybench.models.tcn:tcn",
    # residual blocks around linear recurrences (``layers`` counts blocks)
    "lru": f"{_LAYERS}.lru:lru",
    "s4d": f"{_LAYERS}.s4d:s4d",
    "mamba": f"{_LAYERS}.mamba:mamba",
    "slstm": f"{_LAYERS}.xlstm:slstm",
    "mlstm": f"{_LAYERS}.xlstm:mlstm",
}


def simple_rnn(spec, units: int, return_sequences: bool, **params):
    """Elman RNN, h_t = tanh(W x_t + U h_{t-1} + b) (Elman 1990); ``keras.layers.SimpleRNN``."""
    import keras

    return keras.layers.SimpleRNN(units, return_sequences=return_sequences, **params)


def lstm(spec, units: int, return_sequences: bool, **params):
    """LSTM with forget gate (Hochreiter & Schmidhuber 1997; Gers et al. 2000).

    i,f,o = sigmoid(W x_t + U h_{t-1} + b); g = tanh(W_g x_t + U_g h_{t-1} + b_g);
    c_t = f*c_{t-1} + i*g; h_t = o*tanh(c_t). ``keras.layers.LSTM`` with cuDNN-eligible settings
    (tanh / sigmoid, recurrent_dropout=0, unroll=False, use_bias=True) and forget-gate bias 1.
    """
    import keras

    params.setdefault("unit_forget_bias", True)  # forget-gate bias 1 (Jozefowicz et al. 2015)
    return keras.layers.LSTM(units, return_sequences=return_sequences, **params)


def gru(spec, units: int, return_sequences: bool, **params):
    """GRU (Cho et al. 2014): z,r = sigmoid(...); n = tanh(W x + r*(U h + b)); h = (1-z)*n + z*h.

    ``keras.layers.GRU`` with ``reset_after=True`` (the cuDNN variant).
    """
    import keras

    params.setdefault("reset_after", True)  # the cuDNN-compatible formulation
    return keras.layers.GRU(units, return_sequences=return_sequences, **params)
