"""mb.results(DIR): a results folder's runs as one DataFrame, read as the reports read them."""

import subprocess
import sys

import pandas as pd
import pytest
from summaries import SUMMARY

import memorybench as mb
from memorybench.errors import ConfigError, OutputError
from memorybench.run import store


def write_run(results, run_id, **changes):
    """A run folder whose summary is the tests' valid one, changed; written by the store."""
    summary = {**SUMMARY, "run_id": run_id, **changes}
    store.run_dir(results, run_id).mkdir(parents=True)
    store.write_json(store.run_dir(results, run_id) / store.SUMMARY, summary)
    return summary


@pytest.fixture
def results(tmp_path):
    folder = tmp_path / "results"
    write_run(folder, "a" * 16, training_path={"jit": True, "steps_per_execution": 10,
                                               "program": "compiled", "note": None},
              versions={"keras": "3.0", "python": "3.11"}, paper_metrics={"ce_all_steps": 0.5})
    write_run(folder, "b" * 16, model="gru", length=20, seed=1, score=None, solved=True,
              task_params={"length": 20, "variant": "half"}, training_path=None,
              plugins={"/x/my_cell.py": "0" * 64})
    return folder


def test_one_row_a_run_with_nested_objects_as_dotted_columns(results):
    df = mb.results(results)
    assert isinstance(df, pd.DataFrame) and len(df) == 2
    assert list(df["run_id"]) == ["a" * 16, "b" * 16]  # run id order, as the store lists them
    assert list(df["task_params.length"]) == [10, 20]
    assert list(df["task_params.variant"]) == ["half", "half"]
    assert "task_params" not in df.columns and "training_path" not in df.columns
    assert df.loc[0, "training_path.jit"] == True  # noqa: E712 - an object column (one NaN)
    assert pd.isna(df.loc[1, "training_path.jit"])  # null training path: empty columns
    assert df.loc[0, "versions.keras"] == "3.0" and df.loc[0, "paper_metrics.ce_all_steps"] == 0.5
    assert df.loc[1, "plugins"] == {"/x/my_cell.py": "0" * 64}  # keyed by path: kept whole
    assert df.loc[0, "run_dir"] == str(store.run_dir(results, "a" * 16))


def test_dtypes_are_those_of_the_values(results):
    df = mb.results(results)
    for col in ("length", "seed", "units", "steps", "task_params.length"):
        assert pd.api.types.is_integer_dtype(df[col]), col
    for col in ("lr", "test_metric", "score", "wall_seconds"):
        assert pd.api.types.is_float_dtype(df[col]), col
    assert pd.isna(df.loc[1, "score"])  # a null score is NaN
    assert pd.api.types.is_bool_dtype(df["solved"])
    assert df["model"].tolist() == ["lstm", "gru"]


def test_a_corrupt_summary_is_skipped_with_the_reports_warning(results):
    bad = store.run_dir(results, "c" * 16)
    bad.mkdir()
    (bad / store.SUMMARY).write_text('{"status": "completed", "task": ')  # half written
    store.run_dir(results, "d" * 16).mkdir()  # in progress: no summary, no warning
    with pytest.warns(UserWarning, match=f"skipping run {'c' * 16}: .*not valid JSON") as caught:
        df = mb.results(results)
    assert len(caught) == 1 and len(df) == 2
    heard = []
    assert len(mb.results(results, warn=heard.append)) == 2
    assert len(heard) == 1 and "c" * 16 in heard[0]


def test_a_folder_that_is_no_results_folder_is_a_clear_error(tmp_path):
    with pytest.raises(ConfigError, match="results folder '.*nowhere' does not exist"):
        mb.results(tmp_path / "nowhere")
    with pytest.raises(ConfigError, match="is not a results folder: it has no runs/ folder"):
        mb.results(tmp_path)
    (tmp_path / "runs").mkdir()
    df = mb.results(tmp_path)
    assert isinstance(df, pd.DataFrame) and df.empty


def test_the_api_exports_results_and_output_error_without_tensorflow():
    assert mb.OutputError is OutputError and {"results", "OutputError"} <= set(mb.__all__)
    code = ("import sys, memorybench as mb; mb.results; mb.OutputError; "
            "assert 'tensorflow' not in sys.modules and 'keras' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)
