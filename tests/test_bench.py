"""`memorybench bench`: every key of the JSON, at tiny sizes (values, not the targets: no timing
assertions), the analytic FLOP count, and the errors."""

from __future__ import annotations

import json
import math

import pytest

from memorybench.bench import generators
from memorybench.cli import main

RATIOS = ("generator_speedup_vs_loop", "harness_overhead_ratio", "custom_vs_builtin_lstm_ratio",
          "custom_vs_builtin_lstm_ratio_jit", "data_fraction_of_step", "study_shape_speedup")


# the targets of the README's table
TARGETS = {"generator_speedup_vs_loop": (">=", 50.0), "harness_overhead_ratio": ("<=", 1.05),
           "custom_vs_builtin_lstm_ratio": ("<=", 1.3),
           "custom_vs_builtin_lstm_ratio_jit": ("<=", 1.3), "data_fraction_of_step": ("<=", 0.05),
           "study_shape_speedup": (">=", 3.0)}


def _positive(v) -> bool:
    return isinstance(v, (int, float)) and math.isfinite(v) and v > 0


def test_bench_tiny_writes_every_key(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("MEMORYBENCH_OFFLINE", "1")
    out = tmp_path / "sub" / "bench.json"
    with pytest.raises(SystemExit) as exc:
        main(["bench", "--tiny", "--out", str(out)])
    assert exc.value.code == 0
    res = json.loads(out.read_text())
    for key in RATIOS:
        assert _positive(res[key]), (key, res[key])
        comparison, bound = TARGETS[key]
        assert res["targets"][key] == f"{comparison} {bound}"
        # met is the measured value checked against its target, not just some bool
        assert res["met"][key] is (res[key] >= bound if comparison == ">=" else res[key] <= bound)
    assert _positive(res["matmul_peak_gflops"])
    cells = {r["model"]: r for r in res["cells"]}
    assert set(cells) == {"simple_rnn", "lstm_full", "mingru"}
    for r in cells.values():  # every model, XLA off and on (not only lstm_full)
        for k in ("seq_per_s", "gflops", "step_ms", "fraction_of_peak", "gflop_per_step",
                  "xla_step_ms", "xla_ratio", "xla_compile_s"):
            assert _positive(r[k]), (r["model"], k, r[k])
    sweep = {(r["model"], r["T"]) for r in res["step_time_vs_T"]}
    assert sweep == {(m, t) for m in ("lstm", "mingru", "mingru_seq") for t in (5, 10)}
    assert all(_positive(r["step_ms"]) for r in res["step_time_vs_T"])
    assert len(res["generators"]) == len(generators.CASES)  # every synthetic task variant
    table = capsys.readouterr().out
    for key in RATIOS:
        assert key in table
    assert "lstm_full" in table and f"json: {out}" in table
    assert "XLA/off" in table
    # the study shape: every path a row, each run on the path it names, the reused run reusing
    shape = res["study_shape"]
    rows = {r["path"]: r for r in shape["rows"]}
    assert {"today", "steps_per_call", "xla", "default", "default_reused"} <= set(rows)
    assert set(rows) - {"jax", "jax_reused"} == {"today", "steps_per_call", "xla", "default",
                                                 "default_reused"}
    assert ("jax" in rows) is shape["jax"].startswith("measured")  # JAX: measured or why not
    for r in rows.values():
        for k in ("wall_s", "ms_step", "runs_per_core_hour", "limit_ms_step", "over_limit"):
            assert _positive(r[k]), (r["path"], k, r[k])
        assert r["runs_per_core_hour"] == pytest.approx(3600 / r["wall_s"])
    assert rows["today"]["training_path"]["jit"] is False
    assert rows["today"]["training_path"]["steps_per_execution"] == 1
    assert rows["default"]["training_path"] == {"jit": True, "steps_per_execution": 10,
                                                "program": "compiled", "note": None}
    assert rows["default_reused"]["training_path"]["program"] == "reused"
    assert _positive(res["study_shape_speedup_compiled"]) and _positive(shape["gemm_gflops"])
    assert "study_shape_speedup" in table and "default_reused" in table
    # the step floor: the same gradient three ways, each timed, and the step the target needs
    floor = shape["floor"]
    assert [r["way"] for r in floor["rows"]] == ["keras_xla", "fused_kernel", "stacked_4",
                                                   "matmuls_only"]
    for r in floor["rows"]:
        assert _positive(r["ms_step"]) and _positive(r["over_limit"]), r
        assert r["us_per_time_step"] == pytest.approx(1e3 * r["ms_step"] / floor["length"])
    assert floor["length"] == 5 and _positive(floor["limit_us_per_time_step"])
    assert math.isfinite(floor["needed_ms_step"])
    assert "step floor" in table and "fused_kernel" in table and "its matmuls take" in table


def test_flops_are_counted_from_the_weight_matrices():
    import memorybench as mb
    from memorybench.bench.flops import flops_per_step

    task = mb.get_task("adding", length=7)
    u, d, b = 5, task.spec.input_dim, 3
    model = mb.build_model(task, "lstm", units=u)
    # kernel (d, 4u) and recurrent kernel (u, 4u) used every step; the head (u, 1) once
    want = 6 * b * (7 * (d * 4 * u + u * 4 * u) + u * 1)
    assert flops_per_step(model, task.spec, b) == want
    every = mb.get_task("delayed_xor", length=7, variant="stream")
    model = mb.build_model(every, "simple_rnn", units=u)
    steps = every.spec.steps
    want = 6 * b * steps * (1 * u + u * u + u * 2)  # the head is applied every step here
    assert flops_per_step(model, every.spec, b) == want


def test_out_must_be_a_file(tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["bench", "--tiny", "--out", str(tmp_path)])
    assert exc.value.code == 2
    assert "is a folder" in capsys.readouterr().err


def test_gpu_check_says_there_is_no_gpu_and_its_alternatives_are_valid_runs(capsys):
    from memorybench.bench import gpu_check
    from memorybench.models.resolve import resolve

    with pytest.raises(SystemExit) as exc:
        main(["bench", "--gpu-check"])
    assert exc.value.code == 0  # nothing to confirm on a CPU, nothing failed
    assert "no GPU visible" in capsys.readouterr().out
    # the paths it compares on a GPU resolve here: forced XLA on the generic LSTM loop, and
    # the Python cell without XLA
    assert resolve(gpu_check._cfg("lstm", jit=True, params={"use_cudnn": False})).train.jit
    assert resolve(gpu_check._cfg("lstm_full", jit=False)).train.jit is False
    assert resolve(gpu_check._cfg("lstm_full")).train.jit is True


def test_step_floor_note_splits_the_step_and_says_when_no_step_reaches_the_target():
    from memorybench.bench import step_floor

    floor = {"length": 100, "units": 34, "batch": 64, "limit_us_per_time_step": 33.0,
             "rows": [{"way": "keras_xla", "ms_step": 9.0, "us_per_time_step": 90.0,
                       "over_limit": 90 / 33},
                      {"way": "matmuls_only", "ms_step": 4.0, "us_per_time_step": 40.0,
                       "over_limit": 40 / 33}]}
    lines = step_floor.note(floor, 6.0)
    assert "its matmuls take 40.0; the rest (50.0)" in lines[-2]
    assert lines[-1].endswith("<= 6.00 ms at this length")
    assert "out of reach of a faster step alone" in step_floor.note(floor, -1.5)[-1]
