"""Settings: profiles and studies as data, layering, the dotted key space, and the grid.

Settings of a sweep come from four layers, later ones win: the profile, the ``--config`` TOML
file, the command-line options (``--tasks``, ``--lrs``, ``--precision`` ...) and ``--set
key=value``. All four use one key space of dotted keys (``--set`` values are strings coerced to
the field's type; TOML and profile values are typed already). ``task show --set`` uses the same
grammar.

=========================  ================================================================
``tasks``, ``models``      names (TOML list, or comma-separated in ``--set``)
``lengths``                lengths swept for every task (replaces per-task lengths)
``seeds``                  number of seeds: runs use seeds 0 .. N-1
``match_params``           the same parameter budget for every model (units chosen to fit)
``train.FIELD``            a ``TrainConfig`` field, e.g. ``train.lr=0.003``
``train.lrs``              a learning-rate grid (``--lrs``): every rate is run, and reports
                           select each model's rate on the validation split
``model.units``            also ``model.layers``, ``model.param_budget``
``model.params.NAME``      a keyword argument of the cell / model constructor
``task.FIELD``             a task parameter for every task of the sweep that has it
``FIELD``                  (no dot, not a key above) the same as ``task.FIELD``
``TASK.FIELD``             a parameter of one task, e.g. ``adding.variant=anywhere``
``TASK.lengths``           the lengths of one task
``TASK.train.FIELD``       a training setting for one task (``TASK.train.lrs`` too)
``MODEL.KEY``              ``train.FIELD``, ``model.units`` / ``layers`` / ``param_budget`` or
                           ``model.params.NAME`` for one model, e.g. ``tcn.train.lr=0.002``
``TASK.MODEL.KEY``         the same for one model on one task (wins over ``MODEL.KEY``), e.g.
                           ``adding.lstm.model.units=130``; the reproduction profiles tune
                           per model this way. A scope naming a model the sweep does not run
                           is left unused (``--models`` may take a slice of a profile)
=========================  ================================================================

The TOML file uses the same keys as tables: ``seeds = 2``, ``[train] lr = 0.003``,
``[adding] variant = "anywhere"``, ``[copy_memory.train] steps = 4000``; it may also name its
base ``profile = "smoke"`` (``--profile`` wins). Without a profile the base is ``quick``.

``plan(...)`` is the one entry point, used by the CLI and by Python: it layers the settings and
expands them into resolved ``RunConfig``s (``expand``), validating every key, name and value
before anything is written, so bad input fails with one ``ConfigError``.
"""

from __future__ import annotations

import dataclasses
import math
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from memorybench.config import (
    AUTO,
    AUTO_FIELDS,
    ModelConfig,
    RunConfig,
    TaskConfig,
    TrainConfig,
    check_train_field,
)
from memorybench.errors import ConfigError
from memorybench.models.resolve import resolve, run_id

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    tomllib = None


# -- profiles (data) -------------------------------------------------------------------------
# Each profile is a dict in the settings key space (see the module docstring).
PROFILES: dict[str, dict[str, Any]] = {
    "smoke": {
        "description": "every seed task x simple_rnn, lstm, gru at length 10, one seed; "
        "checks the whole pipeline in about 30 s on an idle 2-core CPU",
        "tasks": ["adding", "copy_memory", "delayed_xor", "sequential_mnist"],
        "models": ["simple_rnn", "lstm", "gru"],
        "lengths": [10],
        "seeds": 1,
        "model.units": 32,
        "train.steps": 200,
        "train.eval_every": 50,
        "train.batch_size": 32,
        "train.lr": 3e-3,
        "train.n_train": 2048,
        "train.n_val": 256,
        "train.n_test": 512,
        "train.eval_batch_size": 256,
        # 28 steps of 28 pixels (one row a step): pixel by pixel (784 steps) is `bai2018`'s
        "sequential_mnist.pixels_per_step": 28,
    },
    "quick": {
        "description": "adding (L=50), copy_memory (L=20), delayed_xor (L=15) x simple_rnn, "
        "lstm, gru, one seed: lengths where the simple RNN stays at chance and the LSTM "
        "learns; 3.5 minutes on an idle 2-core CPU (up to 3x that on a busy one)",
        "tasks": ["adding", "copy_memory", "delayed_xor"],
        "models": ["simple_rnn", "lstm", "gru"],
        "seeds": 1,
        "adding.lengths": [50],
        "copy_memory.lengths": [20],
        "delayed_xor.lengths": [15],
        "model.units": 64,
        "train.steps": 2000,
        "train.eval_every": 100,
        "train.batch_size": 64,
        "train.lr": 3e-3,
        "train.n_train": 20_000,
        "train.n_val": 500,
        "train.n_test": 2000,
        # the LSTM leaves the copy task's plateau late: more steps and a larger step size
        "copy_memory.train.steps": 3000,
        "copy_memory.train.lr": 1e-2,
    },
    # -- reproduction profiles: one per paper, its settings as the paper gives them ---------------
    # For a GPU. Every number is read in the paper (Bai et al. 2018: Section 5, Table 1, and the
    # supplement's Tables 2 and 3; Arjovsky et al. 2016: Section 4) or, where the paper is silent,
    # in the authors' code, or else is a default we chose; each says which (docs/reproduce.md).
    # `memorybench reproduce PROFILE --scale cpu` runs them scaled down (run/reproduce.py).
    "bai2018": {
        "description": "Bai, Kolter & Koltun 2018 (TCN paper), Table 1's synthetic rows: "
        "sequential and permuted MNIST (784 x 1), adding T=600, copy memory T=1000, for LSTM, "
        "GRU, vanilla RNN and TCN with the paper's per-model settings; for a GPU",
        "tasks": ["sequential_mnist", "permuted_mnist", "adding", "copy_memory"],
        "models": ["lstm", "gru", "simple_rnn", "tcn"],
        "seeds": 3,  # not stated (Table 1 gives one number per cell): our choice
        "sequential_mnist.pixels_per_step": 1,  # "presented ... as a 784 x 1 sequence"
        "permuted_mnist.pixels_per_step": 1,
        "adding.lengths": [600],
        "adding.variant": "anywhere",  # the markers of the authors' code (adding task card)
        "copy_memory.lengths": [1000],
        "copy_memory.encoding": "scalar",  # one digit a step, as the authors' code
        "train.early_stop": False,  # the paper trains a fixed budget, then reports the loss
        "train.eval_every": 625,
        "train.n_val": 1000,  # no validation split in the paper or code: ours
        "train.eval_batch_size": 1000,
        # budgets: MNIST "run over 10 epochs" (Section 5.2) of the 60,000 training digits at
        # batch 64 (code default) = 9,375 steps; adding / copy memory: the code's defaults,
        # 10 epochs of 50,000 sequences / 50 epochs of 10,000 at batch 32 = 15,625 steps
        "sequential_mnist.train.steps": 9375,
        "permuted_mnist.train.steps": 9375,
        "adding.train.steps": 15_625,
        "copy_memory.train.steps": 15_625,
        "sequential_mnist.train.n_train": 60_000,  # capped at our 55,000-digit train split
        "permuted_mnist.train.n_train": 60_000,
        "adding.train.n_train": 50_000,  # code: data_generator(50000, ...)
        "copy_memory.train.n_train": 10_000,  # code: n_train = 10000
        "sequential_mnist.train.n_test": 10_000,
        "permuted_mnist.train.n_test": 10_000,
        "adding.train.n_test": 1000,  # code: data_generator(1000, ...)
        "copy_memory.train.n_test": 1000,  # code: n_test = 1000
        # recurrent models: Table 3 (LSTM); "GRU hyperparameters were chosen in a similar
        # fashion, but typically with more hidden units" (A.2), vanilla RNN settings not given:
        # GRU and RNN get the LSTM's training and Table 1's model size as a parameter budget
        "sequential_mnist.train.optimizer": "rmsprop",  # Table 3: RMSprop 1e-3, clip 1
        "sequential_mnist.train.lr": 1e-3,
        "sequential_mnist.train.clipnorm": 1.0,
        "sequential_mnist.train.batch_size": 64,  # not stated for RNNs: the TCN code's
        "permuted_mnist.train.optimizer": "rmsprop",  # Table 3: RMSprop 1e-3, clip 1
        "permuted_mnist.train.lr": 1e-3,
        "permuted_mnist.train.clipnorm": 1.0,
        "permuted_mnist.train.batch_size": 64,
        "adding.train.optimizer": "adam",  # Table 3, T=600: optimizer and rate not stated
        "adding.train.lr": 2e-3,  # (Adam 2e-3 is its T=400 row): our choice
        "adding.train.clipnorm": 5.0,  # Table 3, T=600: grad clip 5
        "adding.train.batch_size": 32,  # not stated for RNNs: the TCN code's
        "copy_memory.train.optimizer": "rmsprop",  # Table 3: "RMSprop/Adam", rate not stated:
        "copy_memory.train.lr": 5e-4,  # the TCN's RMSprop 5e-4 (Table 2)
        "copy_memory.train.clipnorm": 1.0,  # Table 3, T=1000: grad clip 1
        "copy_memory.train.batch_size": 32,  # not stated for RNNs: the TCN code's
        "sequential_mnist.lstm.model.units": 130,  # Table 3: 1 layer, 130 hidden
        "permuted_mnist.lstm.model.units": 130,  # (forget bias 10 there: ours stays 1)
        "adding.lstm.model.units": 130,  # Table 3, T=600: 1 layer, 130 hidden, bias 1
        "copy_memory.lstm.model.units": 50,  # Table 3, T=1000: 1 layer, 50 hidden
        "sequential_mnist.gru.model.param_budget": 70_000,  # Table 1 'Model Size' ~70K
        "permuted_mnist.gru.model.param_budget": 70_000,
        "adding.gru.model.param_budget": 70_000,
        "copy_memory.gru.model.param_budget": 16_000,  # Table 1: ~16K
        "sequential_mnist.simple_rnn.model.param_budget": 70_000,
        "permuted_mnist.simple_rnn.model.param_budget": 70_000,
        "adding.simple_rnn.model.param_budget": 70_000,
        "copy_memory.simple_rnn.model.param_budget": 16_000,
        # TCN: Table 2 (k kernel size, n levels = dilations 1..2^(n-1), hidden channels);
        # "Adam ... learning rate 0.002 for TCN, unless otherwise noted" (Section 5)
        "tcn.train.optimizer": "adam",
        "tcn.train.lr": 2e-3,
        "tcn.train.clipnorm": 0.0,  # Table 2: grad clip N/A
        "sequential_mnist.tcn.model.units": 25,  # Table 2: k=7, n=8, hidden 25 (its second
        "sequential_mnist.tcn.model.params.kernel_size": 7,  # row, 6/8/20, is the 42K model)
        "sequential_mnist.tcn.model.params.dilations": [1, 2, 4, 8, 16, 32, 64, 128],
        "permuted_mnist.tcn.model.units": 25,
        "permuted_mnist.tcn.model.params.kernel_size": 7,
        "permuted_mnist.tcn.model.params.dilations": [1, 2, 4, 8, 16, 32, 64, 128],
        "adding.tcn.model.units": 24,  # Table 2, T=600: k=8, n=8, hidden 24, dropout 0
        "adding.tcn.model.params.kernel_size": 8,
        "adding.tcn.model.params.dilations": [1, 2, 4, 8, 16, 32, 64, 128],
        "copy_memory.tcn.model.units": 10,  # Table 2, T=1000: k=8, n=8, hidden 10,
        "copy_memory.tcn.model.params.kernel_size": 8,  # dropout 0.05, clip 1, RMSprop 5e-4
        "copy_memory.tcn.model.params.dilations": [1, 2, 4, 8, 16, 32, 64, 128],
        "copy_memory.tcn.model.params.dropout": 0.05,
        "copy_memory.tcn.train.optimizer": "rmsprop",
        "copy_memory.tcn.train.lr": 5e-4,
        "copy_memory.tcn.train.clipnorm": 1.0,
    },
    "arjovsky2016": {
        "description": "Arjovsky, Shah & Bengio 2016 (uRNN paper), Section 4: copy memory "
        "T=100..500 and adding T=100..750 for the tanh RNN and the LSTM, RMSProp 1e-3, "
        "gradients clipped at 1; for a GPU",
        "tasks": ["copy_memory", "adding"],
        # the uRNN is not in the suite; the IRNN is not shown in the paper's figures ("only
        # ran without blowing up with incredibly low learning rates"): not run
        "models": ["simple_rnn", "lstm"],
        "seeds": 3,  # not stated: our choice
        "copy_memory.lengths": [100, 200, 300, 500],  # "time lags of 100, 200, 300, 500"
        "adding.lengths": [100, 200, 400, 750],  # "T = 100, 200, 400, 750"
        "adding.variant": "half",  # "first 1 ... in the first half ... second in the second"
        "copy_memory.encoding": "onehot",  # 10 categories
        "train.optimizer": "rmsprop",  # "RMSProp ... for all experiments"
        "train.lr": 1e-3,  # "a learning rate of 10^-3 and a decay rate of 0.9" (Keras rho=0.9)
        "train.clipnorm": 1.0,  # "clip gradients at 1" (the code clips each element; ours: norm)
        "train.batch_size": 20,  # adding: "batch sizes of 20 and 50, best reported"; code: 20
        "train.steps": 20_000,  # not stated in the text: the authors' code default n_iter
        "train.eval_every": 500,
        "train.early_stop": False,  # the paper plots the whole budget
        "train.n_train": 100_000,  # code: n_train = 1e5
        # one-hot sequences of 520 steps: 100,000 of them are 2 GB, 50,000 keep it at 1 GB
        "copy_memory.train.n_train": 50_000,
        "train.n_val": 1000,  # no validation split in the paper or code: ours
        "train.n_test": 10_000,  # code: n_test = 1e4
        "train.eval_batch_size": 1000,
        "copy_memory.simple_rnn.model.units": 80,  # "hidden layers of size 80, 80, 40 and
        "copy_memory.lstm.model.units": 40,  # 128" (tanh RNN, IRNN, LSTM, uRNN)
        "adding.simple_rnn.model.units": 128,  # "128 hidden units for the RNN with tanh,
        "adding.lstm.model.units": 128,  # IRNN and LSTM"
    },
}
# the profile the reproduction profiles replaced; asking for it names them
RETIRED_PROFILES = {"paper": "replaced by one profile per reproduced paper"}
DEFAULT_PROFILE = "quick"  # the base when no --profile is given


def profile(name: str) -> dict[str, Any]:
    if not isinstance(name, str):  # a TOML file's ``profile = ["smoke"]``
        raise ConfigError(f"profile must be one name (a string), got {name!r}; known: "
                          f"{', '.join(PROFILES)}")
    if name not in PROFILES:
        why = f" ({RETIRED_PROFILES[name]})" if name in RETIRED_PROFILES else ""
        raise ConfigError(f"unknown profile {name!r}{why}; known: {', '.join(PROFILES)}")
    return {k: v for k, v in PROFILES[name].items() if k != "description"}


# -- studies (data) -----------------------------------------------------------------------------
# A study is a question answered by horizon searches at one parameter budget, plus the gradient
# flow of every model at one length, at two scales. ``settings`` are in the key space above;
# ``base`` / ``max_length`` are the search's per-task lengths; ``gradflow`` names the task and
# length (a base length, so every model has a run there) of the gradient-flow figure.
WHY_LSTM_MODELS = [
    "simple_rnn", "ungated", "cec", "lstm_nfg", "lstm_nig", "lstm_nog", "lstm_noaf",
    "lstm_niaf", "lstm_cifg", "lstm_peephole", "lstm", "lstm_chrono", "gru",
]
_CPU_TRAINING = {  # the why-LSTM study's training at CPU scale (and its demo slice)
    "train.steps": 1000,
    "train.eval_every": 100,
    "train.batch_size": 64,
    "train.n_train": 6400,
    "train.n_val": 256,
    "train.n_test": 512,
    "train.eval_batch_size": 256,
    "train.early_stop_margin": 0.5,  # see TrainConfig: no coin flips at the threshold
}
# What each why-LSTM model has of the LSTM's argument (Hochreiter & Schmidhuber 1997: a unit
# self-loop, the carousel; input and output gates; Gers et al. 2000: the forget gate): the rows
# of the Findings' factor table. "coupled": the gate is 1 minus another (CIFG, the GRU's z).
_Y, _N = "yes", "no"
WHY_LSTM_FACTORS = {
    "columns": ["separate memory", "additive update", "input gate", "forget gate",
                "output gate"],
    "models": {
        "simple_rnn": [_N, _N, _N, _N, _N],
        "ungated": [_Y, _N, _N, _N, _N],
        "cec": [_Y, _Y, _N, _N, _N],
        "lstm_nfg": [_Y, _Y, _Y, _N, _Y],
        "lstm_nig": [_Y, _Y, _N, _Y, _Y],
        "lstm_nog": [_Y, _Y, _Y, _Y, _N],
        "lstm_noaf": [_Y, _Y, _Y, _Y, _Y],
        "lstm_niaf": [_Y, _Y, _Y, _Y, _Y],
        "lstm_cifg": [_Y, _Y, "coupled (1 - f)", _Y, _Y],
        "lstm_peephole": [_Y, _Y, _Y, _Y, _Y],
        "lstm": [_Y, _Y, _Y, _Y, _Y],
        "lstm_chrono": [_Y, _Y, _Y, _Y, _Y],
        # h_t = (1 - z_t) h_{t-1} + z_t h~_t: the hidden state is the memory, interpolated
        "gru": [_N, "interpolated", "coupled (z)", "coupled (1 - z)", _N],
    },
}
# The argument's steps as contrasts between two models that differ in that step only (at one
# parameter budget): the Findings' paragraph says what each step buys, with its test.
WHY_LSTM_STEPS = [
    {"from": "simple_rnn", "to": "ungated",
     "what": "a separate memory, computed anew from the input, the hidden state and the old "
             "memory (the seed's proposal)"},
    {"from": "ungated", "to": "cec", "what": "an additive update, the constant error carousel"},
    {"from": "simple_rnn", "to": "cec",
     "what": "the carousel against a plain recurrent network (Hochreiter & Schmidhuber 1997)"},
    {"from": "cec", "to": "lstm_nfg", "what": "input and output gates (the 1997 LSTM)"},
    {"from": "lstm_nfg", "to": "lstm", "what": "a forget gate (Gers et al. 2000)"},
]
# Published claims our data can test, each as a contrast and the outcome the paper reports:
# "gained" / "lost" (the model's horizon against the other's) or "same" (no difference).
WHY_LSTM_CLAIMS = [
    {"source": "Hochreiter & Schmidhuber 1997", "model": "cec", "against": "simple_rnn",
     "expect": "gained", "claim": "the constant error carousel bridges lags a plain recurrent "
     "network cannot (Sections 3-4)"},
    {"source": "Greff et al. 2017", "model": "lstm_nfg", "against": "lstm", "expect": "lost",
     "claim": "removing the forget gate hurts significantly (Section 5, Figure 3)"},
    {"source": "Greff et al. 2017", "model": "lstm_noaf", "against": "lstm", "expect": "lost",
     "claim": "removing the output activation hurts significantly (Section 5, Figure 3)"},
    {"source": "Greff et al. 2017", "model": "lstm_cifg", "against": "lstm", "expect": "same",
     "claim": "coupling the input and forget gates does not hurt significantly (Section 5)"},
    {"source": "Greff et al. 2017", "model": "lstm_peephole", "against": "lstm",
     "expect": "same", "claim": "peephole connections do not change performance significantly "
     "(Section 5; their vanilla LSTM has them, ours does not)"},
    {"source": "Jozefowicz et al. 2015", "model": "lstm_nog", "against": "lstm",
     "expect": "same", "claim": "the output gate is the least important gate (Section 4)"},
    {"source": "Jozefowicz et al. 2015", "model": "gru", "against": "lstm", "expect": "same",
     "claim": "the GRU matches the LSTM (with a forget-gate bias of 1) on most tasks "
     "(Section 4, Table 3)"},
    {"source": "Tallec & Ollivier 2018", "model": "lstm_chrono", "against": "lstm",
     "expect": "gained", "claim": "chrono initialisation of the gate biases lengthens the "
     "memory on long-lag tasks (Section 5)"},
]
STUDIES: dict[str, dict[str, Any]] = {
    "why-lstm": {
        "description": "why does the LSTM's gated, additive memory hold information over long "
        "spans, and would a simpler cell do? Memory horizons of the LSTM, its ablations (Greff "
        "et al. 2017), an ungated cell with a separate memory, the bare constant error carousel, "
        "the simple RNN and the GRU at one parameter budget, with the learning rate chosen per "
        "model on validation, and gradient flow at init and after training",
        "tasks": ["adding", "delayed_xor", "copy_memory"],
        "models": WHY_LSTM_MODELS,
        "factors": WHY_LSTM_FACTORS,
        "steps": WHY_LSTM_STEPS,
        "claims": WHY_LSTM_CLAIMS,
        "reference": "lstm",  # ablations are compared with this model's horizon
        # the models the headline quotes besides the longest horizon and the reference
        "baselines": ["simple_rnn", "ungated", "cec"],
        # a model added beside the study (`study --with`) is tested against these
        "added_against": ["lstm", "gru"],
        # the forget-gate bias sweep (b_f at initialisation; report/forget_bias.py): lstm_fb0
        # and lstm_fb3 join with `study why-lstm --with lstm_fb0,lstm_fb3`
        "forget_bias": {"lstm_fb0": 0, "lstm": 1, "lstm_fb3": 3, "lstm_chrono": "chrono"},
        "scales": {
            "cpu": {
                "description": "at most 60 minutes on an idle 2-core CPU (two runs at once)",
                "workers": 2,
                # copy memory at CPU scale is the card's variant K=2 symbols from A=4 (settings
                # below). Measured on lstm at 5,000 parameters: the paper's K=10 of 8 leaves
                # no run the plateau (0 of 48 runs of 12 models solved L=5 in 1,500 steps); at
                # L=25 in 3,000 steps K=4 of 8 is solved by 0 of 3 runs, K=3 of 4 by 1 of 4; K=2
                # of 4 (lr 0.01, 2,000 steps) by both seeds at L=10 (600 and 800 steps) and by
                # one at L=25 (1,200)
                "base": {"adding": 25, "delayed_xor": 12, "copy_memory": 10},
                "max_length": {"adding": 100, "delayed_xor": 48, "copy_memory": 100},
                # a model that fails the base length is searched down to L=5: a bracket, not
                # "[-, 25)" (the simple RNN missed L=25 by 1.4x in MSE)
                "min_length": {"adding": 5, "delayed_xor": 5, "copy_memory": 5},
                # steps between the largest solved and smallest failed length: delayed XOR two
                # (seven gated cells shared [12, 18) with one step), so its brackets are 3 wide
                "bisect": {"adding": 1, "delayed_xor": 2, "copy_memory": 1},
                # no rates beyond the grid's edge at this scale (the 60-minute bound); the
                # Findings count how often the choice sat at the edge
                "extend_rates": 0,
                "gradflow": {"task": "adding", "length": 25, "batch": 32},
                # the memory path's Jacobian of every seed's model trained at L=25 (every model
                # probes its base length), measured over the longest length searched
                "jacobian": {"task": "adding", "train_length": 25, "length": 100, "batch": 32},
                "settings": {
                    # five seeds: two can make no contrast significant (the best two-sided
                    # Fisher p of 2/2 against 0/2 is 0.33); five allow p = 0.008
                    "seeds": 5,
                    "match_params": 5000,
                    # Greff et al. 2017: the learning rate is the hyperparameter that matters
                    # most for LSTM variants; two rates a model here, three at GPU scale
                    "train.lrs": [3e-3, 1e-2],
                    **_CPU_TRAINING,
                    # a budget that is not the bottleneck: with 1,000 steps lstm solved adding
                    # at L=100 at step 900 (median of 5 seeds) and delayed XOR at L=12 at 600;
                    # at 2,000 both are under half the budget
                    "train.steps": 2000,
                    "copy_memory.n_copy": 2,
                    "copy_memory.alphabet": 4,
                },
            },
            "demo": {
                "description": "the slice `make demo` runs (about a minute or two on 2 cores): "
                "adding at L=50, simple_rnn, ungated and lstm, one seed, one rate",
                "tasks": ["adding"],
                "models": ["simple_rnn", "ungated", "lstm"],
                "workers": 2,
                "base": {"adding": 50},
                "max_length": {"adding": 50},
                "bisect": 0,
                "gradflow": {"task": "adding", "length": 50, "batch": 32},
                "settings": {
                    "seeds": 1,
                    "match_params": 5000,
                    "train.lr": 1e-2,
                    **_CPU_TRAINING,
                },
            },
            "gpu": {
                "description": "for a GPU: more seeds, longer lengths and training, three rates",
                "workers": 1,
                "base": {"adding": 50, "delayed_xor": 25, "copy_memory": 25},
                "max_length": {"adding": 1600, "delayed_xor": 800, "copy_memory": 800},
                "min_length": {"adding": 5, "delayed_xor": 5, "copy_memory": 5},
                "bisect": 2,
                # a choice at the grid's edge probes up to two rates beyond it (x3 / x1/3)
                "extend_rates": 2,
                "gradflow": {"task": "adding", "length": 50, "batch": 64},
                "jacobian": {"task": "adding", "train_length": 50, "length": 400, "batch": 32},
                "settings": {
                    "seeds": 5,
                    "match_params": 20000,
                    "train.lrs": [1e-3, 3e-3, 1e-2],
                    "train.steps": 10000,
                    "train.eval_every": 250,
                    "train.batch_size": 128,
                    "train.n_train": 50_000,
                    "train.n_val": 1000,
                    "train.n_test": 4000,
                    "train.eval_batch_size": 1000,
                    "train.early_stop_margin": 0.5,
                },
            },
        },
    },
}


def study(name: str, scale: str) -> dict[str, Any]:
    """A study at one scale: ``{"tasks", "models", "reference", "factors", "settings", "base",
    "max_length", "bisect", "gradflow", "workers"}`` (a copy; ``factors`` None when the study
    has none)."""
    import copy

    if name not in STUDIES:
        raise ConfigError(f"unknown study {name!r}; known: {', '.join(STUDIES)}")
    st = STUDIES[name]
    if scale not in st["scales"]:
        raise ConfigError(f"unknown scale {scale!r} of study {name!r}; known: "
                          f"{', '.join(st['scales'])}")
    sc = copy.deepcopy(st["scales"][scale])
    tasks = sc.pop("tasks", None) or list(st["tasks"])  # a scale may take a slice
    models = sc.pop("models", None) or list(st["models"])
    sc["settings"] = {"tasks": tasks, "models": models, **sc["settings"]}
    return {"name": name, "scale": scale, "tasks": tasks, "models": models,
            "reference": st["reference"], "factors": copy.deepcopy(st.get("factors")),
            "steps": copy.deepcopy(st.get("steps")), "claims": copy.deepcopy(st.get("claims")),
            "baselines": list(st.get("baselines", [])),
            "added_against": list(st.get("added_against", [])),
            "forget_bias": copy.deepcopy(st.get("forget_bias")),
            **sc}


# -- the settings key space ------------------------------------------------------------------
SWEEP_KEYS = ("tasks", "models", "lengths", "seeds", "match_params", "allow_large_grid")
MAX_GRID = 10_000  # runs in one grid; more only with allow_large_grid (--allow-large-grid)
MODEL_KEYS = ("units", "layers", "param_budget")
_TRAIN_DEFAULTS = {f.name: f.default for f in dataclasses.fields(TrainConfig)}


def known_keys() -> list[str]:
    """The key patterns ``--set`` and ``--config`` accept (for error messages)."""
    return [
        *SWEEP_KEYS,
        *(f"train.{f}" for f in _TRAIN_DEFAULTS), "train.lrs",
        *(f"model.{f}" for f in MODEL_KEYS),
        "model.params.NAME", "task.FIELD", "FIELD", "TASK.FIELD", "TASK.lengths",
        "TASK.train.FIELD", "MODEL.train.FIELD", "MODEL.model.FIELD", "TASK.MODEL.train.FIELD",
        "TASK.MODEL.model.FIELD",
    ]


def parse_set_items(items) -> dict[str, str]:
    """``["a.b=1", ...]`` -> ``{"a.b": "1"}`` (values stay strings until ``normalise``)."""
    out: dict[str, str] = {}
    for item in items or []:
        key, sep, raw = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ConfigError(f"--set expects key=value, got {item!r}")
        out[key] = raw.strip()
    return out


def load_config_file(path: str | Path) -> dict[str, Any]:
    """A TOML file -> flat dotted keys (tables nest: ``[train] lr = 0.01`` -> ``train.lr``)."""
    p = Path(path)
    if tomllib is None:  # pragma: no cover
        raise ConfigError("--config needs Python >= 3.11 (tomllib)")
    try:
        data = tomllib.loads(p.read_text())
    except FileNotFoundError:
        raise ConfigError(f"config file {str(path)!r} does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read config file {str(path)!r}: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {str(path)!r} is not valid TOML: {exc}") from None
    flat: dict[str, Any] = {}

    def walk(prefix: str, d: dict) -> None:
        for k, v in d.items():
            key = f"{prefix}{k}"
            if isinstance(v, dict):
                walk(key + ".", v)
            else:
                flat[key] = v

    walk("", data)
    return flat


def merge_layers(*layers: dict[str, Any]) -> dict[str, Any]:
    """Later layers win; a layer that sets ``lengths`` drops the earlier per-task lengths."""
    merged: dict[str, Any] = {}
    for layer in layers:
        if not layer:
            continue
        if "lengths" in layer:
            for k in [k for k in merged if k.endswith(".lengths")]:
                del merged[k]
        merged.update(layer)
    return merged


def coerce(raw: str, like, key: str = "value"):
    """Parse ``raw`` as the type of the default ``like`` (bool, int, float, str, None)."""
    try:
        if isinstance(like, bool):
            if raw.lower() in ("1", "true", "yes", "on"):
                return True
            if raw.lower() in ("0", "false", "no", "off"):
                return False
            raise ValueError
        if isinstance(like, int):
            return int(raw)
        if isinstance(like, float):
            return float(raw)
    except ValueError:
        raise ConfigError(
            f"{key}={raw!r} is not a valid {type(like).__name__}"
        ) from None
    if like is None:
        for conv in (int, float):
            try:
                return conv(raw)
            except ValueError:
                pass
        if raw.lower() in ("true", "false"):
            return raw.lower() == "true"
        return None if raw.lower() == "none" else raw
    return raw


def train_typed(key: str, value: Any, name: str) -> Any:
    """``typed`` for the ``TrainConfig`` field ``name``: a field that may be "auto" (jit,
    steps_per_execution) takes "auto" or a value of its concrete type."""
    if name in AUTO_FIELDS and isinstance(value, str) and value.strip().lower() == AUTO:
        return AUTO
    value = typed(key, value, AUTO_FIELDS.get(name, _TRAIN_DEFAULTS[name]))
    check_train_field(name, value, key)  # where it is given, even if a narrower key wins
    return value


def typed(key: str, value: Any, like: Any) -> Any:
    """``value`` as the type of ``like``: strings (from ``--set``) are parsed, typed values
    (TOML, profiles) are checked; an int is fine where a float is expected."""
    if isinstance(value, str) and not isinstance(like, str):
        return coerce(value, like, key)
    if like is None:
        return value
    if isinstance(like, bool):
        ok = isinstance(value, bool)
    elif isinstance(like, int):
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif isinstance(like, float):
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        value = float(value) if ok else value
    elif isinstance(like, tuple):  # a list-valued task field (induction_heads.eval_lengths)
        ok = isinstance(value, (list, tuple))  # the task checks the items
    else:
        ok = isinstance(value, type(like))
    if not ok:
        raise ConfigError(f"{key}={value!r} is not a valid {type(like).__name__}")
    return value


def task_params_from_sets(task: str, items) -> dict[str, Any]:
    """``task show --set`` items -> the task's parameters, in the grammar of ``run --set``:
    ``FIELD``, ``task.FIELD`` or ``TASK.FIELD`` (the same key a sweep takes)."""
    from memorybench.tasks import TASKS

    cls = TASKS.get(task)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    out = {}
    for key, raw in parse_set_items(items).items():
        head, _, rest = key.rpartition(".")
        if head not in ("", "task", task) or rest not in fields:
            known = ", ".join(sorted(fields))
            raise ConfigError(f"unknown key {key!r} for task {task!r}; known: {known} "
                              f"(also as task.FIELD or {task}.FIELD)")
        out[rest] = typed(key, raw, _default(fields[rest]))
    return out


def name_list(key: str, value: Any) -> list[str]:
    """A list of names from a TOML list or a comma-separated string."""
    if isinstance(value, str):
        items = [v.strip() for v in value.split(",")]
    elif isinstance(value, (list, tuple)):
        items = [str(v).strip() for v in value]
    else:
        raise ConfigError(f"{key} must be a list of names, got {value!r}")
    items = [v for v in items if v]
    if not items:
        raise ConfigError(f"{key} is empty; give at least one name")
    return list(dict.fromkeys(items))  # keep order, drop repeats


def float_list(key: str, value: Any) -> list[float]:
    """Positive finite numbers (learning rates) from a TOML list or a comma-separated string."""
    raw = value.split(",") if isinstance(value, str) else value
    if isinstance(raw, (int, float)) and not isinstance(raw, bool):
        raw = [raw]
    if not isinstance(raw, (list, tuple)) or not raw:
        raise ConfigError(f"{key} must be a list of numbers > 0, got {value!r}")
    out = []
    for v in raw:
        try:
            fv = float(v.strip()) if isinstance(v, str) else v
        except ValueError:
            fv = None
        if isinstance(fv, bool) or not isinstance(fv, (int, float)) or not math.isfinite(fv) \
                or fv <= 0:
            raise ConfigError(f"{key}: {str(v).strip()!r} is not allowed; allowed: numbers > 0")
        out.append(float(fv))
    return sorted(dict.fromkeys(out))


def int_list(key: str, value: Any, minimum: int = 1) -> list[int]:
    """Positive integers from a TOML list or a comma-separated string."""
    raw = value.split(",") if isinstance(value, str) else value
    if isinstance(raw, int) and not isinstance(raw, bool):
        raw = [raw]
    if not isinstance(raw, (list, tuple)) or not raw:
        raise ConfigError(f"{key} must be a list of integers >= {minimum}, got {value!r}")
    out = []
    for v in raw:
        try:
            iv = int(v.strip()) if isinstance(v, str) else v
        except ValueError:
            iv = None
        if isinstance(iv, bool) or not isinstance(iv, int) or iv < minimum:
            raise ConfigError(
                f"{key}: {str(v).strip()!r} is not allowed; allowed: integers >= {minimum}"
            )
        out.append(iv)
    return list(dict.fromkeys(out))


# -- the grid --------------------------------------------------------------------------------
@dataclass
class Plan:
    """The runs of a sweep, in order, and notes for the user (e.g. ignored lengths)."""

    configs: list[RunConfig]
    notes: list[str] = field(default_factory=list)


def expand(settings: dict[str, Any], on_size=None) -> Plan:
    """Merged settings (the key space above) -> resolved runs.

    Order: task, length, model, learning rate, seed. Raises ConfigError for any bad key, name
    or value, and for a grid of more than ``MAX_GRID`` runs unless ``allow_large_grid`` is true
    (counted before a run is made); ``on_size(n, how)`` hears the count first.
    """
    s = dict(settings)
    keys = _sort_keys(s)  # 1. every key into its place
    tasks, models, seeds, lengths = _names(s)  # 2. names
    _model_size(s, keys.model_kw)  # 3. model size
    notes: list[str] = []
    grid = _task_grid(tasks, lengths, keys, notes)  # 4. task parameters, lengths, training
    if isinstance(settings, Layered):  # where the layers are known (not a study's own grid)
        notes += _override_notes(tasks, models, keys.train_kw, keys.per_task_train,
                                 keys.scoped, keys.lr_grid, keys.per_task_lrs,
                                 settings.profile_keys)
    _check_size(s, grid, models, seeds, on_size)
    configs = _resolved_runs(grid, models, seeds, keys)  # 5. runs
    return Plan(configs, list(dict.fromkeys(notes)))


@dataclass
class _Keys:
    """The settings sorted by what they set (``_sort_keys``)."""

    train_kw: dict[str, Any] = field(default_factory=dict)  # train.FIELD
    per_task_train: dict[str, dict[str, Any]] = field(default_factory=dict)  # TASK.train.FIELD
    model_kw: dict[str, Any] = field(default_factory=dict)  # model.units / layers / budget
    model_params: dict[str, Any] = field(default_factory=dict)  # model.params.NAME
    global_task: dict[str, Any] = field(default_factory=dict)  # task.FIELD and bare FIELD
    per_task: dict[str, dict[str, Any]] = field(default_factory=dict)  # TASK.FIELD
    per_task_lengths: dict[str, list[int]] = field(default_factory=dict)  # TASK.lengths
    per_task_lrs: dict[str, list[float]] = field(default_factory=dict)  # TASK.train.lrs
    lr_grid: list[float] | None = None  # train.lrs
    bare: set[str] = field(default_factory=set)  # the bare FIELD keys among global_task
    # (task or None, model) -> {"train": {...}, "model": {...}, "params": {...}}: MODEL.KEY and
    # TASK.MODEL.KEY, the per-model settings of the reproduction profiles
    scoped: dict[tuple[str | None, str], dict[str, dict[str, Any]]] = field(
        default_factory=dict)


def _bad_key(key: str) -> ConfigError:
    return ConfigError(f"unknown key {key!r}; known: {', '.join(known_keys())}")


def _is_model(name: str) -> bool:
    from memorybench.models import CELLS, MODELS

    return name in CELLS or name in MODELS


def _sort_keys(s: dict[str, Any]) -> _Keys:
    """Step 1: sort every key into its place (types are checked where the field's type is
    known); ConfigError for a key of no place."""
    from memorybench.tasks import task_names

    keys = _Keys()
    all_tasks = task_names()
    for key, value in s.items():
        head, _, rest = key.partition(".")
        if key in SWEEP_KEYS:
            continue
        if head == "train":
            if rest == "lrs":
                keys.lr_grid = float_list(key, value)
            elif rest not in _TRAIN_DEFAULTS:
                raise _bad_key(key)
            else:
                keys.train_kw[rest] = train_typed(key, value, rest)
        elif head == "model":
            if rest.startswith("params.") and len(rest) > len("params."):
                keys.model_params[rest[len("params."):]] = typed(key, value, None)
            elif rest in MODEL_KEYS:
                keys.model_kw[rest] = typed(key, value, 1 if rest != "param_budget" else None)
            else:
                raise _bad_key(key)
        elif head == "task" and rest:
            if rest == "length" or rest == "lengths":
                raise ConfigError(f"{key}: set lengths with --lengths or the 'lengths' key")
            keys.global_task[rest] = value
        elif head in all_tasks and rest:
            _sort_task_key(keys, key, head, rest, value)
        elif not rest and key not in all_tasks:  # a bare FIELD: task.FIELD
            keys.global_task[key] = value
            keys.bare.add(key)
        elif _is_model(head) and rest.partition(".")[0] in ("train", "model"):
            _add_scoped(keys, key, (None, head), rest, value)  # MODEL.KEY
        else:
            raise _bad_key(key)
    return keys


def _sort_task_key(keys: _Keys, key: str, task: str, rest: str, value: Any) -> None:
    """``TASK.REST``: lengths, training, a model's settings on the task, or a parameter."""
    from memorybench.tasks import TASKS

    sub, _, leaf = rest.partition(".")
    if rest == "lengths":
        keys.per_task_lengths[task] = int_list(key, value)
    elif sub == "train" and leaf == "lrs":
        keys.per_task_lrs[task] = float_list(key, value)
    elif sub == "train" and leaf:
        if leaf not in _TRAIN_DEFAULTS:
            raise _bad_key(key)
        keys.per_task_train.setdefault(task, {})[leaf] = train_typed(key, value, leaf)
    elif _is_model(sub) and leaf.partition(".")[0] in ("train", "model"):
        _add_scoped(keys, key, (task, sub), leaf, value)  # TASK.MODEL.KEY
    elif "." in rest:
        raise _bad_key(key)
    elif rest == "length" and getattr(TASKS.get(task), "length_set_by", None):
        raise ConfigError(f"{key}: the length of {task} is set by "
                          f"{task}.{TASKS.get(task).length_set_by}, not by a length")
    elif rest == "length":
        raise ConfigError(f"{key}: set lengths with --lengths or {task}.lengths")
    else:
        keys.per_task.setdefault(task, {})[rest] = value


def _add_scoped(keys: _Keys, key: str, scope: tuple[str | None, str], inner: str,
                value: Any) -> None:
    """``inner`` (``train.FIELD``, ``model.units`` ...) of ``MODEL.`` / ``TASK.MODEL.``."""
    kind, _, leaf = inner.partition(".")
    slot = keys.scoped.setdefault(scope, {"train": {}, "model": {}, "params": {}})
    if kind == "train" and leaf in _TRAIN_DEFAULTS:
        slot["train"][leaf] = train_typed(key, value, leaf)
    elif kind == "model" and leaf in MODEL_KEYS:
        slot["model"][leaf] = typed(key, value, 1 if leaf != "param_budget" else None)
    elif kind == "model" and leaf.startswith("params.") and len(leaf) > len("params."):
        slot["params"][leaf[len("params."):]] = typed(key, value, None)
    else:
        raise _bad_key(key)


def _names(s: dict[str, Any]) -> tuple[list[str], list[str], int, list[int] | None]:
    """Step 2: the tasks, models, number of seeds and lengths of the sweep, checked."""
    from memorybench.models import CELLS, MODELS, model_names
    from memorybench.registry import unknown
    from memorybench.tasks import TASKS, task_names

    if "tasks" not in s:
        raise ConfigError("no tasks given; use --tasks or a profile")
    tasks = name_list("tasks", s["tasks"])
    for t in tasks:
        if t not in TASKS:
            raise ConfigError(unknown("task", t, task_names()))
    raw_models = s.get("models")
    if raw_models is None:
        raise ConfigError("no models given; use --models or a profile")
    models = model_names() if raw_models == "all" else name_list("models", raw_models)
    for m in models:
        if not (m in CELLS or m in MODELS or ":" in m):
            raise ConfigError(unknown("model", m, model_names()))
    seeds = typed("seeds", s.get("seeds", 1), 1)
    if seeds < 1:
        raise ConfigError(f"seeds={seeds} is not allowed; allowed: an integer >= 1")
    lengths = int_list("lengths", s["lengths"]) if "lengths" in s else None
    return tasks, models, seeds, lengths


def _model_size(s: dict[str, Any], model_kw: dict[str, Any]) -> None:
    """Step 3: --match-params gives every model one parameter budget (in ``model_kw``)."""
    budget = typed("match_params", s.get("match_params"), None)
    if budget is None:
        budget = model_kw.get("param_budget")
    if budget is not None:
        if isinstance(budget, bool) or not isinstance(budget, int) or budget < 1:
            raise ConfigError(f"match_params={budget!r} is not allowed; allowed: an integer >= 1")
        model_kw["param_budget"], model_kw["units"] = budget, None
    model_kw.setdefault("units", None)


def _task_grid(tasks: list[str], lengths: list[int] | None, keys: _Keys,
               notes: list[str]) -> list[tuple[str, dict, list[TrainConfig]]]:
    """Step 4: (task, parameters with the length, training runs) for each task and length;
    a note for lengths a task ignores or takes by default. ConfigError for a task parameter
    that no task of the sweep has."""
    from memorybench.tasks import get_task

    used_global: set[str] = set()
    grid: list[tuple[str, dict, list[TrainConfig]]] = []
    for t in tasks:
        params = _task_params(t, keys, used_global)
        tlen = _task_lengths(t, params, keys.per_task_lengths.get(t, lengths), notes)
        trains = _task_trains(t, keys)
        for L in tlen:
            p = dict(params) if L is None else {**params, "length": L}
            get_task(t, **p)  # validates the length (e.g. adding needs >= 2)
            grid.append((t, p, trains))
    unused = sorted(set(keys.global_task) - used_global)
    if unused and unused[0] in keys.bare:
        raise ConfigError(f"unknown key {unused[0]!r} (no task of this sweep has a parameter of "
                          f"that name); known: {', '.join(known_keys())}")
    if unused:
        raise ConfigError(
            f"no task of this sweep ({', '.join(tasks)}) has parameter {unused[0]!r}"
        )
    return grid


def _task_params(t: str, keys: _Keys, used_global: set[str]) -> dict[str, Any]:
    """Task ``t``'s parameters: the global ``task.FIELD``s it has, then ``t.FIELD``."""
    from memorybench.tasks import TASKS

    fields = {f.name: f for f in dataclasses.fields(TASKS.get(t))}
    params: dict[str, Any] = {}
    for k, v in keys.global_task.items():
        if k in fields:
            params[k] = typed(f"task.{k}", v, _default(fields[k]))
            used_global.add(k)
    for k, v in keys.per_task.get(t, {}).items():
        if k not in fields or k == "length":
            known = sorted(n for n in fields if n != "length")
            raise ConfigError(
                f"task {t!r} has no parameter {k!r}; known: {', '.join(known)}"
            )
        params[k] = typed(f"{t}.{k}", v, _default(fields[k]))
    return params


def _task_lengths(t: str, params: dict[str, Any], tlen: list[int] | None,
                  notes: list[str]) -> list[int | None]:
    """Task ``t``'s lengths: ``tlen``, else its default length, or [None] where its length is
    fixed or set by another parameter; a note where lengths are ignored or defaulted."""
    from memorybench.tasks import TASKS, get_task

    cls = TASKS.get(t)
    base = get_task(t, **params)
    set_by = getattr(cls, "length_set_by", None)
    fields = {f.name for f in dataclasses.fields(cls)}
    fixed = "length" not in fields or set_by is not None  # noisy_cifar: any length >= 32
    if fixed:
        if tlen is not None:
            notes.append(
                f"lengths are ignored for {t}: its length is "
                + (f"set by {t}.{set_by} " if set_by else "fixed ")
                + f"({base.spec.steps} steps)"
            )
        return [None]
    if tlen is None:
        notes.append(f"no lengths given for {t}: using its default length {base.length}")
        return [base.length]
    return tlen


def _task_trains(t: str, keys: _Keys) -> list[TrainConfig]:
    """Task ``t``'s training settings, one per learning rate of its grid."""
    try:
        train = TrainConfig(**{**keys.train_kw, **keys.per_task_train.get(t, {})})
    except TypeError as exc:  # pragma: no cover - keys were checked above
        raise ConfigError(str(exc)) from None
    rates = keys.per_task_lrs.get(t, keys.lr_grid)
    return [train] if rates is None else [dataclasses.replace(train, lr=r) for r in rates]


def _check_size(s: dict[str, Any], grid, models: list[str], seeds: int, on_size) -> None:
    """The grid's size, before a run is made (a typo such as --seeds 1000000000 would
    otherwise resolve runs for hours): ConfigError above ``MAX_GRID`` unless allowed."""
    n_runs = sum(len(trains) for _, _, trains in grid) * len(models) * seeds
    how = (f"{len(grid)} task x length, {len(models)} model(s), "
           f"{max(len(tr) for _, _, tr in grid)} rate(s), {seeds} seed(s)")
    if n_runs > MAX_GRID and typed("allow_large_grid", s.get("allow_large_grid", False),
                                   False) is not True:
        raise ConfigError(
            f"the grid has {n_runs:,} runs ({how}), more than {MAX_GRID:,}; allowed: at most "
            f"{MAX_GRID:,}, or confirm with --allow-large-grid (key allow_large_grid=true)"
        )
    if on_size is not None:
        on_size(n_runs, how)


def _resolved_runs(grid, models: list[str], seeds: int, keys: _Keys) -> list[RunConfig]:
    """Step 5: the runs, resolved (units fitted to the budget once per task instance and
    model), each run id once."""
    configs: list[RunConfig] = []
    seen: set[str] = set()
    probed: set[str] = set()
    for t, p, trains in grid:
        for m in models:
            m_kw, m_params, m_trains = _scoped_settings(
                keys.scoped, t, m, keys.model_kw, keys.model_params, trains)
            first = resolve(RunConfig(
                TaskConfig(t, p), ModelConfig(m, params=m_params, **m_kw), m_trains[0], 0,
            ))
            _probe_model(first, probed)
            for train in m_trains:
                for seed in range(seeds):
                    cfg = dataclasses.replace(first, train=train, seed=seed)
                    rid = run_id(cfg)
                    if rid not in seen:
                        seen.add(rid)
                        configs.append(cfg)
    return configs


PROBE_ENV = "MEMORYBENCH_PROBE"  # "1" while a plugin's model is built by the planning probe


class _ProbeExit(Exception):
    """A plugin called ``os._exit`` while it was probed."""


def _probe_model(cfg: RunConfig, probed: set[str]) -> None:
    """Build a plugin's model once per configuration (name, layers, parameters), on the first
    run that uses it, as ``model show`` does: a cell with the wrong state shape or a factory
    that returns no layer is refused here (PluginError, exit 2), before any run is written,
    not recorded as a failed run. The built-in models are checked by the contract tests.

    Only the contract's own refusals (PluginError, ConfigError) refuse. A plugin that raises
    anything else, or ends the process (``sys.exit``, ``os._exit``, intercepted here), is left
    to its run, which records it as failed without stopping the sweep. ``$MEMORYBENCH_PROBE``
    is "1" while the probe builds, for a plugin that counts its builds."""
    import json
    import os

    from memorybench.errors import MemorybenchError
    from memorybench.models import model_entry

    m = cfg.model
    key = json.dumps([m.name, m.layers, m.params], sort_keys=True, default=str)
    if key in probed:
        return
    probed.add(key)
    source = model_entry(m.name)[1].source
    if source == "builtin" or source.startswith("memorybench."):
        return
    from memorybench.models.build import build_model
    from memorybench.tasks import get_task

    task = get_task(cfg.task.name, **dict(cfg.task.params))

    def no_exit(code=0):
        raise _ProbeExit(code)

    real_exit, before = os._exit, os.environ.get(PROBE_ENV)
    os._exit, os.environ[PROBE_ENV] = no_exit, "1"
    try:
        build_model(task, m.name, units=m.units, layers=m.layers, **dict(m.params))
    except MemorybenchError as exc:
        cause = exc.__cause__ or exc.__context__
        while cause is not None and not isinstance(cause, _ProbeExit):
            cause = cause.__cause__ or cause.__context__
        if cause is None:
            raise
    except (Exception, SystemExit):  # noqa: BLE001 - the plugin's own failure: its run's
        return
    finally:
        os._exit = real_exit
        if before is None:
            os.environ.pop(PROBE_ENV, None)
        else:
            os.environ[PROBE_ENV] = before


def _override_notes(tasks, models, train_kw, per_task_train, scoped, lr_grid, per_task_lrs,
                    profile_keys) -> list[str]:
    """One line for each training value a narrower key overrides in some run of the grid
    (``train.steps`` under ``adding.train.steps``, ``train.lr`` under a rate grid): where, and
    by what; "used by no run" when it is overridden everywhere. A profile's own values are not
    noted."""
    levels: dict[str, tuple[Any, list, list]] = {}  # key -> (value, runs it applies to, by)
    for t in tasks:
        for m in models:
            given = [(f"train.{k}", k, v) for k, v in train_kw.items()]
            given += [(f"{t}.train.{k}", k, v) for k, v in per_task_train.get(t, {}).items()]
            for scope, name in (((None, m), m), ((t, m), f"{t}.{m}")):
                given += [(f"{name}.train.{k}", k, v)
                          for k, v in scoped.get(scope, {}).get("train", {}).items()]
            rates = ((f"{t}.train.lrs", per_task_lrs[t]) if t in per_task_lrs else
                     ("train.lrs", lr_grid) if lr_grid is not None else None)
            for i, (key, field_name, value) in enumerate(given):
                later = [(k2, v2) for k2, f2, v2 in given[i + 1:] if f2 == field_name]
                scoped_lr = any(k2 not in (f"{t}.train.lr",) for k2, _ in later)
                if field_name == "lr" and rates is not None and not scoped_lr \
                        and key in ("train.lr", f"{t}.train.lr"):
                    later = [(rates[0], ",".join(f"{r:g}" for r in rates[1]))]  # the grid wins
                _, runs, by = levels.setdefault(key, (value, [], []))
                runs.append((t, m))
                if later:
                    k2, v2 = later[-1]
                    by.append(((t, m), f"{k2}={v2}"))
    notes = []
    for key, (value, runs, by) in levels.items():
        if not by or key in profile_keys:
            continue
        winners = ", ".join(dict.fromkeys(w for _, w in by))
        if len(by) == len(runs):
            notes.append(f"{key}={value} is used by no run of this sweep: overridden by "
                         f"{winners}")
        else:
            hit = [tm for tm, _ in by]
            where = ", ".join(dict.fromkeys(
                t if all((t, m2) in hit for m2 in models) else f"{t}/{m}" for t, m in hit))
            notes.append(f"{key}={value} is overridden for {where} by {winners}")
    return notes


def _scoped_settings(scoped, task: str, model: str, model_kw: dict, model_params: dict,
                     trains: list[TrainConfig]):
    """The model size, constructor arguments and training runs of ``model`` on ``task``: the
    sweep's, then ``MODEL.KEY``, then ``TASK.MODEL.KEY`` (later wins). A scoped ``lr`` replaces
    a learning-rate grid; scoped ``units`` replace a parameter budget and vice versa."""
    kw, params, train_kw = dict(model_kw), dict(model_params), {}
    for scope in ((None, model), (task, model)):
        slot = scoped.get(scope)
        if not slot:
            continue
        size = slot["model"]
        if "units" in size:
            kw["param_budget"] = None
        if size.get("param_budget") is not None:
            kw["units"] = None
        kw.update(size)
        params.update(slot["params"])
        train_kw.update(slot["train"])
    if not train_kw:
        return kw, params, trains
    if "lr" in train_kw:
        trains = trains[:1]
    try:
        return kw, params, [dataclasses.replace(tr, **train_kw) for tr in trains]
    except TypeError as exc:  # pragma: no cover - keys were checked when sorted
        raise ConfigError(str(exc)) from None


def _default(f: dataclasses.Field) -> Any:
    if f.default is not dataclasses.MISSING:
        return f.default
    if f.default_factory is not dataclasses.MISSING:  # type: ignore[misc]
        return f.default_factory()  # type: ignore[misc]
    return None


# -- layering and the one entry point ----------------------------------------------------------
# command-line options (and ``plan`` keywords) -> their key in the key space
OPTION_KEYS = {
    "tasks": "tasks", "models": "models", "lengths": "lengths", "seeds": "seeds",
    "match_params": "match_params", "lrs": "train.lrs", "precision": "train.precision",
    "jit": "train.jit", "allow_large_grid": "allow_large_grid",
}


def layered(
    profile_name: str | None = None,
    config_file: str | Path | None = None,
    options: dict[str, Any] | None = None,
    sets: dict[str, Any] | list[str] | tuple | None = None,
) -> dict[str, Any]:
    """Merge the four layers: profile -> ``--config`` file -> options -> ``--set`` (later wins).

    ``options`` are keyed as in ``OPTION_KEYS`` (None values are left out); ``sets`` are
    ``key=value`` strings or a dict in the key space.
    """
    file_layer = load_config_file(config_file) if config_file else {}
    name = profile_name or file_layer.pop("profile", None) or DEFAULT_PROFILE
    file_layer.pop("profile", None)
    opts: dict[str, Any] = {}
    for key, value in (options or {}).items():
        if key not in OPTION_KEYS:
            raise ConfigError(f"unknown option {key!r}; known: {', '.join(OPTION_KEYS)}")
        if value is not None:
            opts[OPTION_KEYS[key]] = value
    set_layer = dict(sets) if isinstance(sets, dict) else parse_set_items(sets)
    base = profile(name)
    merged = Layered(merge_layers(base, file_layer, opts, set_layer))
    given = set(file_layer) | set(opts) | set(set_layer)
    merged.profile_keys = frozenset(k for k in base if k not in given)
    return merged


class Layered(dict):
    """Merged settings that remember which keys hold the profile's own values
    (``profile_keys``): ``expand`` notes a value that a narrower key overrides only when the
    user gave it, not where a profile overrides its own default (``quick``'s copy_memory).
    ``with_(more)``: these settings and ``more``, still layered."""

    profile_keys: frozenset = frozenset()

    def with_(self, more: dict[str, Any]) -> Layered:
        out = Layered({**self, **more})
        out.profile_keys = self.profile_keys - set(more)
        return out


def plan(
    profile_name: str | None = None,
    *,
    config_file: str | Path | None = None,
    sets: dict[str, Any] | list[str] | None = None,
    **options: Any,
) -> Plan:
    """A profile (plus a TOML file, options and ``--set`` items) expanded into resolved runs.

    >>> p = plan("quick", models="lstm,gru", lrs=[1e-3, 3e-3], sets={"train.steps": 500})
    >>> len(p.configs)  # 3 tasks x 2 models x 2 rates
    12
    """
    return expand(layered(profile_name, config_file, options, sets))
