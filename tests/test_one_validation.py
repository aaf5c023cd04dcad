"""One validation for every command (issue 26, points 14 and 17-20): a value is checked where
it is given, the memory estimate counts what a run holds, a model is probed before any run is
written, lengths work for every task with a length, and bad input is one line, exit 2."""

from __future__ import annotations

import pytest

from memorybench import settings as S
from memorybench.cli import main
from memorybench.errors import ConfigError


def cli(args, command="run") -> int:
    with pytest.raises(SystemExit) as exc:
        main([command, *map(str, args)])
    return exc.value.code


def one_line_error(capsys, message: str) -> str:
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: ") and message in err, err
    return err


# -- point 17: a value is validated wherever it is given; an overridden one is noted ----------
@pytest.mark.parametrize("item", ["train.steps=-5", "train.steps=0", "train.lr=-1",
                                  "train.optimizer=adamm", "lstm.train.batch_size=0",
                                  "adding.train.timeout_s=-1"])
def test_a_bad_training_value_is_refused_even_where_a_narrower_key_overrides_it(item):
    # bai2018 sets adding.train.steps / lr / optimizer / batch_size: the global value is unused
    with pytest.raises(ConfigError, match=item.partition("=")[0].replace(".", r"\.")):
        S.plan("bai2018", tasks="adding", models="lstm", sets=[item, "lstm.train.timeout_s=5"])


def test_an_overridden_value_is_noted_in_one_line(tmp_path, capsys):
    p = S.plan("bai2018", tasks="adding,copy_memory", models="lstm", sets=["train.steps=500"])
    assert {c.train.steps for c in p.configs} == {15_625}
    assert p.notes == ["train.steps=500 is used by no run of this sweep: overridden by "
                       "adding.train.steps=15625, copy_memory.train.steps=15625"]
    p = S.plan("quick", sets=["train.steps=500"])  # copy_memory.train.steps=3000 wins there
    assert p.notes == ["train.steps=500 is overridden for copy_memory by "
                       "copy_memory.train.steps=3000"]
    p = S.plan("quick", lrs="1e-3,3e-3", sets=["train.lr=0.01"])
    assert p.notes == ["train.lr=0.01 is used by no run of this sweep: overridden by "
                       "train.lrs=0.001,0.003"]
    # a profile's own overrides (quick: train.steps, copy_memory.train.steps) are no news
    assert S.plan("quick").notes == [] and S.plan("quick", lrs="1e-3,3e-3").notes == []
    assert cli(["--profile", "bai2018", "--tasks", "adding", "--models", "lstm", "--set",
                "train.steps=500", "--out", tmp_path / "r", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert ("note: train.steps=500 is used by no run of this sweep: overridden by "
            "adding.train.steps=15625\n") in out
    assert cli(["--profile", "bai2018", "--tasks", "adding", "--models", "lstm", "--set",
                "train.steps=-5", "--out", tmp_path / "r", "--dry-run"]) == 2
    one_line_error(capsys, "train.steps must be an integer >= 1, got -5")
    assert not (tmp_path / "r").exists()


def test_horizon_refuses_a_bad_value_that_a_narrower_key_overrides(tmp_path, capsys):
    assert cli(["--tasks", "adding", "--models", "lstm", "--base-length", "10",
                "--max-length", "20", "--set", "train.steps=0", "--set", "adding.train.steps=100",
                "--out", tmp_path / "r", "--dry-run"], "horizon") == 2
    one_line_error(capsys, "train.steps must be an integer >= 1, got 0")
