"""The reference table of published numbers and the ``memorybench references`` command."""

import csv
import io
import math
import subprocess
import sys

import pytest

from memorybench import references as refs
from memorybench.errors import ConfigError, DataError


def _cli(*args):
    return subprocess.run(
        [sys.executable, "-c", "from memorybench.cli import main; main()", *args],
        capture_output=True, text=True, timeout=120,
    )


def test_the_shipped_file_loads_with_every_column_in_every_row():
    rows = refs.load()
    assert len(rows) >= 20
    raw = list(csv.DictReader(io.StringIO(refs.read_text())))
    assert tuple(raw[0]) == refs.COLUMNS and len(raw) == len(rows)
    for row in raw:
        assert set(row) == set(refs.COLUMNS) and None not in row.values()
        for col in refs.COLUMNS:
            if col not in refs.OPTIONAL:
                assert row[col].strip(), (col, row)


def test_values_are_numbers_and_types_are_parsed():
    for r in refs.load():
        assert isinstance(r["value"], float) and math.isfinite(r["value"])
        assert isinstance(r["year"], int) and 1990 <= r["year"] <= 2030
        assert isinstance(r["length"], int) and r["length"] > 0
        assert isinstance(r["higher_is_better"], bool)
        assert r["verified_from"]  # every number says where it was read


def test_the_table_holds_the_numbers_the_issue_asks_for():
    rows = refs.load()
    bai = {(r["task"], r["model"]): r["value"] for r in rows if r["source"].startswith("Bai")}
    assert len(bai) == 16
    assert {t for t, _ in bai} == {"sequential_mnist", "permuted_mnist", "adding", "copy_memory"}
    assert {m for _, m in bai} == {"LSTM", "GRU", "RNN", "TCN"}
    assert bai[("sequential_mnist", "TCN")] == 99.0
    assert bai[("copy_memory", "LSTM")] == 0.0204
    assert bai[("adding", "GRU")] == 5.3e-5
    hs = [r for r in rows if r["source"].startswith("Hochreiter")]
    assert {(r["task"], r["variant"]) for r in hs} >= {
        ("adding", "hochreiter1997"), ("temporal_order", "6a"), ("temporal_order", "6b")}
    copy = [r for r in rows if r["task"] == "copy_memory"]
    assert {r["metric"] for r in copy} == {"ce_all_steps"}  # named as in our paper_metrics


# Bai, Kolter & Koltun 2018 (arXiv:1803.01271), Table 1, page 5: (task, model) -> value
BAI_TABLE_1 = {
    ("sequential_mnist", "LSTM"): 87.2, ("sequential_mnist", "GRU"): 96.2,
    ("sequential_mnist", "RNN"): 21.5, ("sequential_mnist", "TCN"): 99.0,
    ("permuted_mnist", "LSTM"): 85.7, ("permuted_mnist", "GRU"): 87.3,
    ("permuted_mnist", "RNN"): 25.3, ("permuted_mnist", "TCN"): 97.2,
    ("adding", "LSTM"): 0.164, ("adding", "GRU"): 5.3e-5,
    ("adding", "RNN"): 0.177, ("adding", "TCN"): 5.8e-5,
    ("copy_memory", "LSTM"): 0.0204, ("copy_memory", "GRU"): 0.0197,
    ("copy_memory", "RNN"): 0.0202, ("copy_memory", "TCN"): 3.5e-5,
}
# Hochreiter & Schmidhuber 1997, Tables 7 and 9: (task, variant, T) -> wrong of 2560
HOCHREITER_1997 = {
    ("adding", "hochreiter1997", 100): 1, ("adding", "hochreiter1997", 500): 0,
    ("adding", "hochreiter1997", 1000): 1, ("temporal_order", "6a", 100): 1,
    ("temporal_order", "6b", 100): 2,
}


def test_every_published_number_is_pinned_to_its_model():
    """Each row's value, per task and model, as its source prints it: a row whose model label
    is swapped with another's (LSTM and GRU, say) fails here, not only in a reproduction."""
    rows = refs.load()
    bai = {(r["task"], r["model"]): r["value"] for r in rows if r["source"].startswith("Bai")}
    assert bai == BAI_TABLE_1
    hs = {(r["task"], r["variant"], r["length"]): r["value"] for r in rows
          if r["source"].startswith("Hochreiter")}
    assert hs == HOCHREITER_1997
    s4 = {(r["task"], r["model"]): r["value"] for r in rows if r["source"] == "Gu, Goel & Ré"}
    assert s4 == {("sequential_mnist", "LSTM"): 98.9, ("permuted_mnist", "LSTM"): 95.11}
    size = {(r["task"], r["model"]): refs.parse_count(r["params"]) for r in rows
            if r["source"].startswith("Bai")}
    assert {size[(t, "LSTM")] for t in ("sequential_mnist", "permuted_mnist", "adding")} == {
        70_000}


def test_the_s4_lstm_rows_and_the_lmu_row_say_where_they_were_read():
    rows = refs.load()
    s4 = {(r["task"], r["model"]): r for r in rows if r["source"] == "Gu, Goel & Ré"}
    assert set(s4) == {("sequential_mnist", "LSTM"), ("permuted_mnist", "LSTM")}
    assert (s4[("sequential_mnist", "LSTM")]["value"], s4[("permuted_mnist", "LSTM")]["value"]) == (
        98.9, 95.11)
    for r in s4.values():
        assert (r["year"], r["length"], r["variant"]) == (2022, 784, "pixels_per_step=1")
        assert "Table 6" in r["where"] and "arXiv:2111.00396v3" in r["verified_from"]
        assert "Table 12" in r["verified_from"]
        assert refs.parse_count(r["params"]) is None  # the S4 paper gives no LSTM size
        assert "reports from earlier work" in r["note"]
    (lmu,) = [r for r in rows if r["source"].startswith("Voelker")]
    assert (lmu["task"], lmu["model"], lmu["value"], lmu["our_metric"]) == (
        "permuted_mnist", "LMU", 97.15, "accuracy (x100)")
    assert refs.parse_count(lmu["params"]) == 102_027 and refs.our_model("LMU") == "lmu"
    assert "not read in the paper's own table" in lmu["note"]
    assert "abr/neurips2019" in lmu["verified_from"]


def test_every_source_is_one_a_reader_can_look_up():
    """``verified_from`` names a paper (arXiv id with the table, or a DOI) or a repository with
    its full commit; never an internal id that no reader can follow."""
    import re

    for r in refs.load():
        cite = r["verified_from"]
        assert "search index" not in cite.lower() and "file id" not in cite.lower(), cite
        assert re.search(r"arXiv:\d{4}\.\d{4,5}|doi:10\.|github\.com/", cite), cite
        for repo in re.findall(r"github\.com/[\w.-]+/[\w.-]+", cite):
            after = cite[cite.index(repo):]
            assert re.search(r"commit [0-9a-f]{40}\b", after), (repo, cite)
        if "arXiv:" in cite or "doi:" in cite:
            assert re.search(r"Table \d+", cite), cite


def test_task_filter():
    rows = refs.load(task="copy_memory")
    assert rows and {r["task"] for r in rows} == {"copy_memory"}
    assert len(refs.load(task="adding")) == 7  # Bai et al. x 4, Hochreiter & Schmidhuber x 3
    assert set(refs.tasks()) >= {"adding", "copy_memory", "sequential_mnist", "permuted_mnist"}


def test_unknown_task_lists_the_known_ones():
    with pytest.raises(ConfigError, match=r"task 'addng'; known: .*adding.*copy_memory"):
        refs.load(task="addng")


@pytest.mark.parametrize("text, words", [
    ("source,year\nx,1\n", ["columns must be", "missing: where"]),
    (",".join(refs.COLUMNS) + "\n", ["no rows"]),
])
def test_a_malformed_table_is_a_data_error(text, words):
    with pytest.raises(DataError) as err:
        refs.parse(text, "t.csv")
    for w in words:
        assert w in str(err.value)


def _row(**over):
    good = refs.read_text().splitlines()[1]
    row = next(csv.DictReader(io.StringIO(",".join(refs.COLUMNS) + "\n" + good)))
    row.update(over)
    buf = io.StringIO()
    w = csv.DictWriter(buf, refs.COLUMNS, lineterminator="\n")
    w.writeheader()
    w.writerow(row)
    return buf.getvalue()


@pytest.mark.parametrize("over, words", [
    ({"value": "about 0.1"}, ["line 2", "value must be a number", "'about 0.1'"]),
    ({"value": "nan"}, ["value must be finite"]),
    ({"length": "600.5"}, ["length must be an integer"]),
    ({"model": ""}, ["column 'model' is empty"]),
    ({"higher_is_better": "yes"}, ["higher_is_better must be true or false"]),
])
def test_bad_cells_name_their_line_and_column(over, words):
    with pytest.raises(DataError) as err:
        refs.parse(_row(**over), "t.csv")
    for w in words:
        assert w in str(err.value)


def test_format_value_prints_published_precision():
    assert [refs.format_value(v) for v in (5.3e-5, 0.0204, 87.2, 97.34, 1.0)] == [
        "5.3e-05", "0.0204", "87.2", "97.34", "1"]


def test_cli_references_prints_rows_definitions_and_sources():
    proc = _cli("references", "--task", "copy_memory")
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert out.splitlines()[0].split()[:4] == ["task", "variant", "T", "model"]
    for word in ("copy_memory", "TCN", "3.5e-05", "0.0204", "ce_all_steps", "Bai, Kolter & Koltun",
                 "metric:", "differs:", "read in:", "locuslab/TCN"):
        assert word in out, word
    assert "sequential_mnist" not in out
    full = _cli("references", "--full")
    assert full.returncode == 0, full.stderr
    assert full.stdout.count("verified_from") == len(refs.load())


def test_cli_references_unknown_task_exits_2_with_one_line():
    proc = _cli("references", "--task", "addng")
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "known: " in lines[0] and "adding" in lines[0]
    assert proc.stdout == ""


def test_cli_references_does_not_import_tensorflow():
    code = (
        "import sys\n"
        "from memorybench.cli import app\n"
        "app.main(['references'], standalone_mode=False)\n"
        "heavy = [m for m in ('tensorflow', 'keras', 'pandas') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
