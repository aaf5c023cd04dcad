"""Unit tests of the built-in cells (equations, parameter counts, chrono) and the model builder."""

import inspect
import json
import os
import subprocess
import sys

import numpy as np
import pytest

import memorybench as mb
from memorybench.errors import ConfigError

keras = pytest.importorskip("keras")

from memorybench.models.build import (  # noqa: E402  (after the Keras import check)
    build_model,
    cudnn_eligible,
    units_for_budget,
)
from memorybench.models.cells.lstm_ablation import VARIANTS, AblationLSTMCell  # noqa: E402
from memorybench.models.cells.ungated import UngatedCell  # noqa: E402

RNG = np.random.default_rng(0)


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def run_cell(cell, x):
    """All outputs of ``cell`` over ``x`` (eager), as numpy."""
    return np.asarray(keras.layers.RNN(cell, return_sequences=True)(x))


def randomise(layer, scale=0.5, seed=1):
    rng = np.random.default_rng(seed)
    for w in layer.weights:
        w.assign(rng.normal(0, scale, w.shape).astype("float32"))


# -- the LSTM ablation cell -------------------------------------------------------------------
def test_full_ablation_cell_equals_keras_lstm_given_the_same_weights():
    x = RNG.normal(size=(4, 12, 3)).astype("float32")
    ref = keras.layers.LSTM(7, return_sequences=True)
    ref.build((None, 12, 3))
    randomise(ref)  # random bias too, so every gate block's position is tested
    cell = AblationLSTMCell(7)
    rnn = keras.layers.RNN(cell, return_sequences=True)
    rnn.build((None, 12, 3))
    for name in ("kernel", "recurrent_kernel", "bias"):
        getattr(cell, name).assign(getattr(ref.cell, name))
    np.testing.assert_allclose(np.asarray(rnn(x)), np.asarray(ref(x)), atol=1e-5)


def test_lstm_full_model_equals_lstm_model_and_starts_from_the_same_bias():
    task = mb.get_task("adding", length=15)
    fused = build_model(task, "lstm", units=6)
    custom = build_model(task, "lstm_full", units=6)
    assert fused.count_params() == custom.count_params()
    # default initialisation: forget-gate bias 1, the others 0, in the order i, f, c, o
    np.testing.assert_array_equal(custom.layers[1].cell.bias.numpy(),
                                  fused.layers[1].cell.bias.numpy())
    custom.set_weights(fused.get_weights())
    x, _ = task.data("test", n=5, seed=0)
    np.testing.assert_allclose(np.asarray(custom(x)), np.asarray(fused(x)), atol=1e-5)


def reference_ablation(x, cell):
    """Greff et al.'s equations in numpy, reading the weights in the documented block layout."""
    K, R, b = (np.asarray(getattr(cell, n)) for n in ("kernel", "recurrent_kernel", "bias"))
    u = cell.units
    blocks = [g for g, on in (("i", cell.input_gate and not cell.coupled), ("f", cell.forget_gate),
                              ("c", True), ("o", cell.output_gate)) if on]
    peep = {g: np.asarray(getattr(cell, f"peephole_{g}")) if cell.peepholes else 0.0
            for g in ("i", "f", "o")}
    h = np.zeros((x.shape[0], u))
    c = np.zeros((x.shape[0], u))
    out = []
    for t in range(x.shape[1]):
        z = x[:, t] @ K + h @ R + b
        zs = {g: z[:, k * u:(k + 1) * u] for k, g in enumerate(blocks)}
        f = sigmoid(zs["f"] + peep["f"] * c) if cell.forget_gate else 1.0
        if cell.coupled:
            i = 1.0 - f
        else:
            i = sigmoid(zs["i"] + peep["i"] * c) if cell.input_gate else 1.0
        g = np.tanh(zs["c"]) if cell.input_activation else zs["c"]
        c = f * c + i * g
        o = sigmoid(zs["o"] + peep["o"] * c) if cell.output_gate else 1.0
        h = o * (np.tanh(c) if cell.output_activation else c)
        out.append(h)
    return np.stack(out, axis=1)


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_every_ablation_variant_computes_its_equations(variant):
    flags = dict(VARIANTS[variant])
    if flags.get("chrono"):
        flags["chrono_t_max"] = 30
    cell = AblationLSTMCell(5, **flags)
    x = RNG.normal(size=(3, 9, 2)).astype("float32")
    run_cell(cell, x)  # build
    randomise(cell)  # peepholes included
    np.testing.assert_allclose(run_cell(cell, x), reference_ablation(x, cell), atol=2e-5)


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_a_removed_gate_removes_its_weights(variant):
    d, u = 2, 16
    flags = VARIANTS[variant]
    blocks = 4 - sum(not flags.get(k, True) for k in ("input_gate", "forget_gate", "output_gate"))
    blocks -= 1 if flags.get("coupled") else 0
    expected = blocks * (d * u + u * u + u) + (3 * u if flags.get("peepholes") else 0)
    model = build_model(mb.get_task("adding", length=10), variant, units=u)
    assert model.layers[1].count_params() == expected


def test_nfg_is_the_1997_lstm_its_memory_only_adds():
    # no forget gate: c_t = c_{t-1} + i_t z_t; with zero input the memory never decays
    cell = AblationLSTMCell(4, forget_gate=False, output_gate=False, output_activation=False)
    x = np.zeros((1, 30, 1), "float32")
    run_cell(cell, x)
    cell.kernel.assign(np.zeros(cell.kernel.shape, "float32"))
    cell.recurrent_kernel.assign(np.zeros(cell.recurrent_kernel.shape, "float32"))
    cell.bias.assign(np.array([0.0] * 4 + [1.0] * 4, "float32"))  # i = 1/2, z = tanh(1)
    h = run_cell(cell, x)[0, :, 0]
    np.testing.assert_allclose(np.diff(h), 0.5 * np.tanh(1.0), rtol=1e-5)


def test_cec_is_the_bare_carousel_every_gate_open():
    # c_t = c_{t-1} + tanh(W x_t + R h_{t-1} + b), h_t = tanh(c_t): one block of weights, and
    # with zero weights the memory grows by tanh(b) every step, undamped
    model = build_model(mb.get_task("adding", length=10), "cec", units=4)
    cell = model.layers[1].cell
    assert cell.count_params() == 2 * 4 + 4 * 4 + 4
    x = np.zeros((1, 12, 2), "float32")
    cell.kernel.assign(np.zeros(cell.kernel.shape, "float32"))
    cell.recurrent_kernel.assign(np.zeros(cell.recurrent_kernel.shape, "float32"))
    cell.bias.assign(np.full((4,), 0.1, "float32"))
    h = run_cell(cell, x)[0, :, 0]
    np.testing.assert_allclose(h, np.tanh(np.tanh(0.1) * np.arange(1, 13)), rtol=1e-5)


def test_chrono_bias_uses_the_task_steps_as_t_max():
    task = mb.get_task("copy_memory", length=30)  # 50 steps, length 30
    cell = build_model(task, "lstm_chrono", units=64).layers[1].cell
    assert cell.chrono_t_max == task.spec.steps == 50
    b = cell.bias.numpy()
    b_i, b_f = b[:64], b[64:128]
    assert np.all(b_f >= 0) and np.all(b_f <= np.log(49) + 1e-6)
    assert b_f.std() > 0.3  # spread over log(U[1, 49]), not one value
    np.testing.assert_allclose(b_i, -b_f)
    np.testing.assert_array_equal(b[128:], 0.0)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(chrono=True), "chrono_t_max"),
        (dict(chrono=True, chrono_t_max=20, forget_gate=False), "forget_gate=True"),
        (dict(coupled=True, forget_gate=False), "forget_gate=True"),
        (dict(input_gate="no"), "input_gate must be True or False"),
        (dict(forget_bias="x"), "forget_bias must be a number"),
    ],
)
def test_ablation_cell_rejects_contradictory_flags(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        AblationLSTMCell(4, **kwargs)


@pytest.mark.parametrize("cls", [AblationLSTMCell, UngatedCell])
def test_get_config_is_exactly_the_init_arguments(cls):
    params = [p for p in inspect.signature(cls.__init__).parameters if p not in ("self", "kwargs")]
    config = cls(3).get_config()
    base = set(keras.layers.Layer().get_config())
    assert set(config) - base == set(params)
    assert cls.from_config(config).get_config() == config


def test_variant_names_save_under_lstm_full_and_reload_their_flags(tmp_path):
    task = mb.get_task("adding", length=6)
    model = build_model(task, "lstm_nfg", units=3)
    assert keras.saving.get_registered_name(AblationLSTMCell) == "memorybench>lstm_full"
    model.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras")
    assert loaded.layers[1].cell.forget_gate is False


@pytest.mark.parametrize("name", ["ungated", "mingru"])
def test_load_model_in_a_fresh_process_needs_no_import_of_the_cell_module(tmp_path, name):
    task = mb.get_task("adding", length=6)
    model = build_model(task, name, units=3)
    x = task.data("test", n=4, seed=0)[0]
    model.save(tmp_path / "m.keras")
    np.save(tmp_path / "want.npy", np.asarray(model(x)))
    code = (
        "import sys, numpy as np, memorybench as mb\n"
        f"m = mb.load_model({str(tmp_path / 'm.keras')!r})\n"
        "x = mb.get_task('adding', length=6).data('test', n=4, seed=0)[0]\n"
        f"want = np.load({str(tmp_path / 'want.npy')!r})\n"
        "assert np.array_equal(np.asarray(m(x)), want)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-2000:]


# -- the ungated cell -------------------------------------------------------------------------
def test_ungated_initialisation_does_not_explode_and_the_old_one_is_an_option():
    """At initialisation the gradient reaching the first step is at most the last step's (the
    default, orthogonal at gain 1/sqrt(2)); orthogonal at gain 1, the earlier default, grew it."""
    import keras

    from memorybench.diagnostics.gradflow import input_gradient_norms

    task = mb.get_task("adding", length=25)
    ratios = {}
    for init in (None, "orthogonal"):
        ratios[init] = []
        for seed in range(3):
            keras.utils.set_random_seed(seed)
            params = {} if init is None else {"recurrent_initializer": init}
            model = build_model(task, "ungated", units=34, **params)
            g = input_gradient_norms(model, task, batch=32, seed=seed)
            ratios[init].append(g[0] / g[-1])
    assert max(ratios[None]) <= 1.0, ratios
    assert np.median(ratios["orthogonal"]) > 1.0, ratios
    cell = build_model(task, "ungated", units=4).layers[1].cell
    assert cell.get_config()["recurrent_initializer"]["config"]["gain"] == pytest.approx(2**-0.5)


def test_ungated_cell_computes_its_equations():
    cell = UngatedCell(4)
    x = RNG.normal(size=(2, 8, 3)).astype("float32")
    run_cell(cell, x)
    randomise(cell)
    K, R, M, Q, b = (np.asarray(getattr(cell, n)) for n in
                     ("kernel", "recurrent_kernel", "memory_kernel", "read_kernel", "bias"))
    u = 4
    h = m = np.zeros((2, u))
    out = []
    for t in range(8):
        # m_t = tanh(W_m [x, h, m_old] + b_m); h_t = tanh(W_h [x, h, m_t] + b_h)
        m = np.tanh(x[:, t] @ K[:, :u] + h @ R[:, :u] + m @ M + b[:u])
        h = np.tanh(x[:, t] @ K[:, u:] + h @ R[:, u:] + m @ Q + b[u:])
        out.append(h)
    np.testing.assert_allclose(run_cell(cell, x), np.stack(out, 1), atol=2e-5)
    d = 3
    assert sum(int(np.prod(w.shape)) for w in cell.weights) == 2 * d * u + 4 * u * u + 2 * u


# -- the builder ------------------------------------------------------------------------------
def test_heads_follow_the_task_spec_and_layers_stack():
    task = mb.get_task("copy_memory", length=5)
    model = build_model(task, "ungated", units=4, layers=2)
    assert model.output_shape == (None, 25, task.spec.n_classes)
    assert [type(layer).__name__ for layer in model.layers[1:]] == ["RNN", "RNN", "Dense"]
    assert build_model("adding", "gru", units=3).output_shape == (None, 1)
    assert build_model(mb.get_task("delayed_xor", length=6), "lstm_cifg",
                       units=3).output_shape == (None, 2)


def test_module_class_strings_resolve_and_stay_out_of_the_names():
    ref = "memorybench.models.cells.ungated:UngatedCell"
    model = build_model("adding", ref, units=3)
    assert isinstance(model.layers[1].cell, UngatedCell)
    assert ref not in mb.model_names()
    # a module:function factory is a model, the second time as well as the first
    for _ in range(2):
        model = build_model("adding", "memorybench.models.builtin:gru", units=3)
        assert isinstance(model.layers[1], keras.layers.GRU)


def test_a_name_with_a_colon_cannot_be_registered():
    with pytest.raises(ConfigError, match="without ':'"):
        mb.register_model("a:b")(lambda spec, units, return_sequences: None)


@pytest.mark.parametrize("name", ["lstm", "ungated", "gru", "lstm_peephole"])
@pytest.mark.parametrize("budget", [5_000, 70_000])
def test_param_budget_lands_within_5_percent(name, budget):
    task = mb.get_task("adding", length=10)
    units = units_for_budget(task, name, budget)
    got = build_model(task, name, param_budget=budget).count_params()
    assert got == build_model(task, name, units=units).count_params()
    assert abs(got - budget) <= 0.05 * budget
    # and it is the nearest: one unit more or less is not closer
    for other in (units - 1, units + 1):
        assert abs(build_model(task, name, units=other).count_params() - budget) >= abs(
            got - budget)


def test_param_budget_too_small_names_the_smallest_budget():
    smallest = build_model("adding", "lstm", units=1).count_params()
    with pytest.raises(ConfigError, match=f"smallest model has {smallest} parameters") as exc:
        build_model("adding", "lstm", param_budget=10)
    assert "\n" not in str(exc.value)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(units=0), "units must be a positive integer"),
        (dict(layers=0), "layers must be a positive integer"),
        (dict(units=8, param_budget=1000), "units or param_budget"),
        (dict(units=4, bogus=1), "no parameter 'bogus'; known: input_gate, forget_gate"),
    ],
)
def test_builder_rejects_bad_arguments(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        build_model("adding", "lstm_full", **kwargs)


def test_unknown_model_lists_the_known_names():
    with pytest.raises(ConfigError, match=r"unknown model 'lstmm'; known: .*lstm, lstm_chrono"):
        build_model("adding", "lstmm")


# -- cuDNN eligibility ------------------------------------------------------------------------
@pytest.mark.parametrize(
    "name, kwargs, eligible",
    [
        ("lstm", {}, True),
        ("gru", {}, True),
        ("lstm", {"recurrent_dropout": 0.1}, False),
        ("lstm", {"unroll": True}, False),
        ("lstm", {"activation": "relu"}, False),
        ("lstm", {"recurrent_activation": "hard_sigmoid"}, False),
        ("lstm", {"use_bias": False}, False),
        ("lstm", {"use_cudnn": False}, False),
        ("gru", {"reset_after": False}, False),
        ("lstm", {"dropout": 0.1}, True),  # input dropout is applied before the cuDNN kernel
        ("lstm_full", {}, False),  # a custom cell has no cuDNN path
        ("simple_rnn", {}, False),
    ],
)
def test_cudnn_eligible_inspects_the_fused_layers(name, kwargs, eligible):
    model = build_model(mb.get_task("adding", length=5), name, units=3, **kwargs)
    assert cudnn_eligible(model) is eligible


def test_stacked_lstm_is_eligible_only_if_every_layer_is():
    assert cudnn_eligible(build_model("adding", "lstm", units=3, layers=2))
    assert not cudnn_eligible(build_model("adding", "lstm", units=3, layers=2, unroll=True))


# -- model show and list ----------------------------------------------------------------------
def test_model_show_prints_equations_citation_and_parameter_count(capsys):
    from memorybench.cli import main

    with pytest.raises(SystemExit) as exc:
        main(["model", "show", "lstm_nfg", "--task", "adding", "--units", "128"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert "c_t = c_{t-1} + i_t * z_t" in out  # this variant's equations, no forget gate
    assert "f_t = sigmoid" not in out.split("== definition")[0]
    assert "Greff" in out and "Search Space Odyssey" in out
    n = build_model(mb.get_task("adding", length=100), "lstm_nfg", units=128).count_params()
    assert n == 3 * (2 * 128 + 128 * 128 + 128) + 129
    assert f"parameters: {n:,}" in out


def test_list_models_imports_neither_tensorflow_nor_the_cell_modules():
    code = (
        "import sys, json\n"
        "from memorybench.cli import main\n"
        "try:\n    main(['list', 'models'])\nexcept SystemExit as e:\n    rc = e.code\n"
        "heavy = [m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'keras')\n"
        "         or m.startswith(('memorybench.models.cells.', 'memorybench.models.layers.'))]\n"
        "print(json.dumps({'rc': rc, 'heavy': heavy}))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120, env={**os.environ, "PYTHONWARNINGS": "ignore"})
    lines = proc.stdout.strip().splitlines()
    result = json.loads(lines[-1])
    assert result == {"rc": 0, "heavy": []}
    listed = lines[0]
    for name in ("ungated", "lstm_full", "lstm_nfg", "lstm_chrono", "lstm", "gru"):
        assert f" {name}," in listed or listed.endswith(f" {name}")
