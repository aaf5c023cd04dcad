"""Plugins: a single-file cell, an installed package found through its entry point, and the
one-line errors a broken plugin gets (exit status 2 through the CLI)."""

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

import memorybench as mb
from memorybench.cli import main
from memorybench.errors import ConfigError, PluginError
from memorybench.models import model_names
from memorybench.registry import load_plugin

ROOT = Path(__file__).resolve().parents[1]
MY_CELL = ROOT / "examples" / "plugins" / "my_cell.py"
PACKAGE = ROOT / "examples" / "plugins" / "memorybench-example-plugin"

pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")


def cli(capsys, *args):
    """Run the console script in-process: (exit status, stdout, stderr)."""
    with pytest.raises(SystemExit) as exc:
        main(list(map(str, args)))
    out, err = capsys.readouterr()
    return exc.value.code, out, err


def assert_one_line_error(code, err, *fragments):
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])


def plugin_file(tmp_path, name, body, header=""):
    path = tmp_path / name
    path.write_text(header + textwrap.dedent(body))
    return path


CELL_HEADER = """\
import keras
from keras import ops
import memorybench as mb
"""


# -- the single-file plugin -------------------------------------------------------------------
def test_single_file_plugin_registers_builds_and_trains():
    keras = pytest.importorskip("keras")
    from memorybench.models.build import loss_for

    digest = load_plugin(MY_CELL)
    assert load_plugin(MY_CELL) == digest  # loading twice is a no-op
    assert "my_cell" in model_names()
    task = mb.get_task("adding", length=8)
    keras.utils.set_random_seed(0)
    model = mb.build_model(task, "my_cell", units=4)
    assert type(model.layers[1].cell).__name__ == "MyCell"
    model.compile(optimizer="adam", loss=loss_for(task.spec), run_eagerly=True)
    x, y = task.data("train", n=4, seed=0)
    assert np.isfinite(float(model.train_on_batch(x, y)))


def test_model_show_of_a_plugin_cell(capsys):
    code, out, _ = cli(capsys, "model", "show", "my_cell", "--plugin", MY_CELL, "--units", "8")
    assert code == 0
    assert "h_t = (1 - z_t) * h_{t-1} + z_t * n_t" in out  # its docstring: the equations
    assert "parameters: " in out


# -- the installable package, found through its entry point ------------------------------------
@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """The example package installed offline into a private folder (put on PYTHONPATH by the
    tests' subprocesses), so the shared virtual environment is left as it was."""
    tmp = tmp_path_factory.mktemp("plugin")
    src = tmp / "src"
    # build from a copy: setuptools writes build/ and *.egg-info next to the sources
    shutil.copytree(PACKAGE, src)
    target = tmp / "site"
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-index",
         "--no-build-isolation", "--target", str(target), str(src)],
        capture_output=True, text=True, timeout=300,
    )
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["?"])[-1]
        pytest.skip(f"cannot install the example plugin package offline here: {last}")
    return target


def run_python(site, code, timeout=300):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(site), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep),
        "TF_CPP_MIN_LOG_LEVEL": "3"}
    proc = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True,
                          text=True, timeout=timeout, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_entry_point_cell_is_listed_without_importing_it(site):
    result = run_python(site, """
        import io, json, sys, contextlib
        from memorybench.cli import main
        buf = io.StringIO()
        with contextlib.redirect_stdout(buf):
            try:
                main(["list", "models"])
            except SystemExit as e:
                rc = e.code
        print(json.dumps({
            "rc": rc, "listed": buf.getvalue(),
            "imported": [m for m in sys.modules if m.startswith("memorybench_example_plugin")
                         or m.split(".")[0] in ("tensorflow", "keras")],
        }))
    """)
    assert result["rc"] == 0
    assert "example_cell" in result["listed"]
    assert result["imported"] == []


def test_entry_point_cell_builds_trains_saves_and_resolves_as_module_class(site):
    result = run_python(site, """
        import json, os, sys, tempfile
        import numpy as np
        import keras
        import memorybench as mb
        from memorybench.models.build import loss_for
        keras.utils.set_random_seed(0)
        task = mb.get_task("adding", length=10)
        model = mb.build_model(task, "example_cell", units=8)
        model.compile(optimizer="adam", loss=loss_for(task.spec), jit_compile=False)
        x, y = task.data("train", n=4, seed=0)
        loss = float(model.train_on_batch(x, y))
        path = os.path.join(tempfile.mkdtemp(), "m.keras")
        model.save(path)
        loaded = keras.saving.load_model(path)
        same = bool(np.allclose(loaded(x), model(x), rtol=1e-6, atol=1e-7))
        other = mb.build_model(task, "memorybench_example_plugin:ExampleCell", units=8)
        print(json.dumps({
            "loss": loss, "same": same,
            "cell": type(model.layers[1].cell).__name__,
            "module_class_cell": type(other.layers[1].cell).__name__,
            "saved_as": keras.saving.get_registered_name(type(model.layers[1].cell)),
        }))
    """)
    assert np.isfinite(result["loss"])
    assert result["cell"] == result["module_class_cell"] == "ExampleCell"
    assert result["saved_as"] == "memorybench>example_cell"
    assert result["same"] is True


# -- broken plugins: one line, naming the file or class and the fix ----------------------------
def test_plugin_with_a_syntax_error_names_file_and_line(tmp_path, capsys):
    path = plugin_file(tmp_path, "typo_plugin.py", "x = 1\ndef broken(:\n    pass\n")
    code, _, err = cli(capsys, "list", "models", "--plugin", path)
    assert_one_line_error(code, err, "typo_plugin.py", "line 2", "syntax error", str(path))


def test_plugin_that_raises_on_import_names_file_and_line(tmp_path, capsys):
    path = plugin_file(tmp_path, "raising_plugin.py", "import os\nraise RuntimeError('boom')\n")
    code, _, err = cli(capsys, "list", "models", "--plugin", path)
    assert_one_line_error(code, err, "raising_plugin.py", "raised on import (line 2)", "boom")


def test_missing_plugin_file(tmp_path, capsys):
    code, _, err = cli(capsys, "list", "models", "--plugin", tmp_path / "nowhere.py")
    assert_one_line_error(code, err, "nowhere.py", "does not exist")


def test_a_taken_name_is_refused(tmp_path, capsys):
    path = plugin_file(tmp_path, "dup_plugin.py", """
        @mb.register_cell("lstm")
        class Dup(keras.layers.Layer):
            pass
    """, CELL_HEADER)
    code, _, err = cli(capsys, "list", "models", "--plugin", path)
    assert_one_line_error(code, err, "dup_plugin.py", "'lstm' is already registered",
                          "choose another name")


def test_a_name_registered_by_two_plugin_files_names_the_first(tmp_path, capsys):
    body = """
        @mb.register_cell("tp_twice_cell")
        class Twice(keras.layers.Layer):
            pass
    """
    first = plugin_file(tmp_path, "first_plugin.py", body, CELL_HEADER)
    second = plugin_file(tmp_path, "second_plugin.py", body.replace("pass", "pass  # another file"),
                         CELL_HEADER)
    load_plugin(first)
    code, _, err = cli(capsys, "list", "models", "--plugin", second)
    assert_one_line_error(code, err, "second_plugin.py", "'tp_twice_cell' is already registered",
                          str(first))


def test_cell_without_state_size(tmp_path, capsys):
    path = plugin_file(tmp_path, "nostate_plugin.py", """
        @mb.register_cell("tp_nostate_cell")
        class NoStateCell(keras.layers.Layer):
            def __init__(self, units, **kwargs):
                super().__init__(**kwargs)
                self.units = units

            def call(self, inputs, states):
                return inputs, states
    """, CELL_HEADER)
    code, _, err = cli(capsys, "model", "show", "tp_nostate_cell", "--plugin", path)
    assert_one_line_error(code, err, "NoStateCell", "has no state_size", "self.state_size = units")


@pytest.mark.parametrize(
    "returns, fragment",
    [
        ("h1, [h1]", "returned output (None, 65) and states [(None, 65)], expected (None, 64)"),
        ("h, [h, h]", "returned output (None, 64) and states [(None, 64), (None, 64)]"),
        ("h", "returned"),
    ],
)
def test_cell_returning_the_wrong_shape(tmp_path, capsys, returns, fragment):
    name = f"tp_wrong_cell_{abs(hash(returns))}"
    path = plugin_file(tmp_path, "wrong_plugin.py", f"""
        @mb.register_cell("{name}")
        class WrongShapeCell(keras.layers.Layer):
            def __init__(self, units, **kwargs):
                super().__init__(**kwargs)
                self.units = units
                self.state_size = units

            def build(self, input_shape):
                self.w = self.add_weight(shape=(input_shape[-1], self.units + 1))

            def call(self, inputs, states):
                h1 = ops.tanh(ops.matmul(inputs, self.w))  # one unit too many
                h = h1[:, :-1]
                return {returns}
    """, CELL_HEADER)
    code, _, err = cli(capsys, "model", "show", name, "--plugin", path)
    assert_one_line_error(code, err, "WrongShapeCell", fragment)


def test_cell_whose_call_raises_reports_the_original_error(tmp_path, capsys):
    path = plugin_file(tmp_path, "raising_cell_plugin.py", """
        @mb.register_cell("tp_raising_cell")
        class RaisingCell(keras.layers.Layer):
            def __init__(self, units, **kwargs):
                super().__init__(**kwargs)
                self.state_size = [units, units]

            def call(self, inputs, states):
                return undefined_name, states  # noqa: F821
    """, CELL_HEADER)
    code, _, err = cli(capsys, "model", "show", "tp_raising_cell", "--plugin", path)
    assert_one_line_error(code, err, "RaisingCell", "failed on one step",
                          "NameError: name 'undefined_name' is not defined",
                          "fix its call(inputs, states)")


def test_model_factory_that_returns_no_layer(tmp_path):
    path = plugin_file(tmp_path, "factory_plugin.py", """
        import memorybench as mb

        @mb.register_model("tp_not_a_layer")
        def not_a_layer(spec, units, return_sequences):
            return 42
    """)
    load_plugin(path)
    with pytest.raises(PluginError, match="must return a keras.layers.Layer"):
        mb.build_model("adding", "tp_not_a_layer", units=4)


def test_unknown_model_name_lists_the_known_ones(capsys):
    code, _, err = cli(capsys, "model", "show", "lstmm")
    assert_one_line_error(code, err, "unknown model 'lstmm'; known:", "lstm,", "ungated")


def test_param_budget_too_small_is_refused():
    with pytest.raises(ConfigError, match=r"param_budget=5 is too small .* smallest model has 12"):
        mb.build_model("adding", "ungated", param_budget=5)
