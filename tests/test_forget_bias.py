"""The Findings' forget-gate bias section: the LSTM's horizon against the gate's time constant
at initialisation, from fixture per-seed horizons (a separated, a tied and a censored case)."""

from __future__ import annotations

import math

import pytest

from memorybench.report.forget_bias import forget_bias_section, time_constant
from memorybench.report.verdict import SeedHorizons

SWEEP = {"lstm": 1, "lstm_chrono": "chrono", "lstm_fb0": 0, "lstm_fb3": 3}  # as a record
# gives it back: sorted by name


def _seeds(task: str, model: str, values: list[int], censored: bool = False) -> SeedHorizons:
    hi = None if censored else 2 * max(values)
    return SeedHorizons(task, model, {s: (v, hi) for s, v in enumerate(values)},
                        sorted(set(values)))


def _study(added=("lstm_fb0", "lstm_fb3")) -> dict:
    models = ["simple_rnn", "lstm", "lstm_chrono", *added]
    return {"models": models, "added": [{"model": m, "source": "built-in"} for m in added],
            "reference": "lstm", "forget_bias": SWEEP}


def test_time_constant_is_one_over_one_minus_the_gate_at_init():
    for b in (0, 1, 3):
        assert float(time_constant(b)) == pytest.approx(1 / (1 - 1 / (1 + math.exp(-b))),
                                                        rel=1e-3)
    assert time_constant(0) == "2" and time_constant(3) == "21.1"
    assert "spread" in time_constant("chrono")


def test_the_section_waits_for_a_model_beyond_the_studys_own():
    seeds = {("adding", "lstm"): _seeds("adding", "lstm", [100] * 5, censored=True),
             ("adding", "lstm_chrono"): _seeds("adding", "lstm_chrono", [100] * 5,
                                               censored=True)}
    assert forget_bias_section(_study(), ["adding"], seeds) == ([], [])
    assert forget_bias_section({"models": ["lstm"]}, ["adding"], seeds) == ([], [])


def test_lost_tied_and_censored_rows_with_their_tests():
    seeds = {
        ("adding", "lstm"): _seeds("adding", "lstm", [100] * 5, censored=True),
        ("adding", "lstm_fb0"): _seeds("adding", "lstm_fb0", [12, 12, 18, 25, 25]),
        ("adding", "lstm_fb3"): _seeds("adding", "lstm_fb3", [50, 100, 100, 100, 100]),
        ("adding", "lstm_chrono"): _seeds("adding", "lstm_chrono", [100] * 5, censored=True),
    }
    lines, head = forget_bias_section(_study(), ["adding"], seeds)
    text = "\n".join(lines)
    rows = text.splitlines()
    assert lines[0] == "## Forget-gate bias"
    fb0 = next(x for x in rows if x.startswith("| lstm_fb0 | adding | 0 | 2 |"))
    assert "18 (" in fb0 and "lost (p = 0.0079)" in fb0  # 5 seeds apart: the smallest p
    fb3 = next(x for x in rows if x.startswith("| lstm_fb3 | adding | 3 | 21.1 |"))
    assert "not distinguishable at this budget (p = 1)" in fb3
    assert "| lstm | adding | 1 | 3.72 |" in text and "(reference)" in text
    order = [x.split("|")[1].strip() for x in rows if x.startswith("| lstm")]
    assert order == ["lstm_fb0", "lstm", "lstm_fb3", "lstm_chrono"]  # by time constant
    assert "5 of 5 at the longest probed" in text  # censored horizons say so
    assert head == ["adding: forget-gate bias against lstm (b_f 1), median horizon: lstm_fb0 "
                    "(b_f 0) 18, lost (p = 0.0079); lstm (b_f 1) 100; lstm_fb3 (b_f 3) 100, "
                    "not distinguishable at this budget (p = 1); lstm_chrono (b_f chrono) 100, "
                    "not distinguishable at this budget (p = 1)."]


def test_a_task_with_one_model_of_the_sweep_measured_has_no_row():
    seeds = {("adding", "lstm"): _seeds("adding", "lstm", [100] * 5, censored=True),
             ("adding", "lstm_fb0"): _seeds("adding", "lstm_fb0", [12] * 5),
             ("delayed_xor", "lstm"): _seeds("delayed_xor", "lstm", [12] * 5)}
    lines, head = forget_bias_section(_study(), ["adding", "delayed_xor"], seeds)
    assert len(head) == 1 and head[0].startswith("adding:")
    assert "| delayed_xor |" not in "\n".join(lines)
