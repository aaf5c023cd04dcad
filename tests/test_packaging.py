"""The package as a user gets it: ``python -m memorybench``, a quiet terminal, an installable
wheel that carries the bench suite."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# TensorFlow's C++ log lines (absl / tsl format) and the notes it prints at start-up
TF_LINE = re.compile(
    r"^[IWEF]\d{4} \d\d:\d\d:\d\d\.\d+|absl::InitializeLog|cuInit|cudart_stub|oneDNN|"
    r"cpu_feature_guard|rebuild TensorFlow", re.MULTILINE,
)


def _env(**extra) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("TF_CPP_MIN_LOG_LEVEL", "MEMORYBENCH_VERBOSE", "PYTHONPATH")}
    return {**env, "MEMORYBENCH_OFFLINE": "1", **extra}


def test_python_m_memorybench_is_the_cli(tmp_path):
    out = subprocess.run([sys.executable, "-m", "memorybench", "list", "tasks"], cwd=tmp_path,
                         env=_env(), capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("tasks:") and "copy_memory" in out.stdout
    bad = subprocess.run([sys.executable, "-m", "memorybench", "list", "nope"], cwd=tmp_path,
                         env=_env(), capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and bad.stderr.startswith("error: unknown list 'nope'")


def test_a_command_that_imports_tensorflow_prints_no_tensorflow_log_lines(tmp_path):
    # ``model show`` builds the model, so TensorFlow is imported and initialised
    code = ("import sys; from memorybench.cli import main\n"
            "try:\n    main(['model', 'show', 'lstm'])\n"
            "finally:\n    print('TF imported:', 'tensorflow' in sys.modules, file=sys.stderr)\n")
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=_env(),
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert "model lstm" in out.stdout
    assert out.stderr.strip() == "TF imported: True", out.stderr
    assert not TF_LINE.search(out.stdout + out.stderr)


@pytest.mark.parametrize("args, env", [(["--verbose"], {}), (["-v"], {}),
                                       ([], {"MEMORYBENCH_VERBOSE": "1"})])
def test_verbose_keeps_tensorflow_logging(monkeypatch, args, env):
    from memorybench import quiet
    from memorybench.cli import main

    monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", "")  # restored after the test
    monkeypatch.delenv("TF_CPP_MIN_LOG_LEVEL")
    monkeypatch.delenv("MEMORYBENCH_VERBOSE", raising=False)
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    monkeypatch.setattr(sys, "meta_path", list(sys.meta_path))
    with pytest.raises(SystemExit) as exc:
        main([*args, "list", "tasks"])
    assert exc.value.code == 0
    assert os.environ["TF_CPP_MIN_LOG_LEVEL"] == "0"  # TensorFlow's own default: log everything
    assert not any(isinstance(f, quiet._QuietImport) for f in sys.meta_path)


def test_the_default_quiets_tensorflow_and_respects_a_level_the_user_set(monkeypatch):
    from memorybench import quiet
    from memorybench.cli import main

    monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", "1")
    monkeypatch.delenv("MEMORYBENCH_VERBOSE", raising=False)
    monkeypatch.setattr(sys, "meta_path", list(sys.meta_path))
    with pytest.raises(SystemExit):
        main(["list", "tasks"])
    assert os.environ["TF_CPP_MIN_LOG_LEVEL"] == "1"
    monkeypatch.delenv("TF_CPP_MIN_LOG_LEVEL")
    with pytest.raises(SystemExit):
        main(["list", "tasks"])
    assert os.environ["TF_CPP_MIN_LOG_LEVEL"] == "3"
    hooks = [f for f in sys.meta_path if isinstance(f, quiet._QuietImport)]
    assert len(hooks) == ("tensorflow" not in sys.modules)  # only before TensorFlow is imported


def test_the_wheel_carries_the_package_and_its_bench_suite_runs_installed(tmp_path):
    # build from a copy, so the working tree gets no build/ folder
    src = tmp_path / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, src / name)
    shutil.copytree(ROOT / "memorybench", src / "memorybench",
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    subprocess.run([*pip, "wheel", "--no-deps", "--no-build-isolation", "--no-index",
                    "-w", str(tmp_path / "dist"), str(src)],
                   check=True, capture_output=True, timeout=300, cwd=tmp_path)
    (wheel,) = (tmp_path / "dist").glob("memorybench-*.whl")
    assert wheel.stat().st_size < 5e6  # the shipped results stay small (about 2.5 MB packed)

    with zipfile.ZipFile(wheel) as z:
        names = set(z.namelist())
        entry_points = next(z.read(n).decode() for n in names if n.endswith("entry_points.txt"))
    sources = {p.relative_to(src).as_posix() for p in (src / "memorybench").rglob("*.py")}
    bench = {"memorybench/bench/__init__.py", "memorybench/bench/suite.py",
             "memorybench/bench/sections.py",
             "memorybench/bench/cells.py", "memorybench/bench/generators.py",
             "memorybench/bench/pipeline.py", "memorybench/__main__.py"}
    assert bench <= sources and sources <= names, sorted(sources - names)
    assert re.search(r"^memorybench = memorybench\.cli:main$", entry_points, re.MULTILINE)

    # installed on its own (dependencies from this venv): it, not the working tree, is imported
    site = tmp_path / "site"
    subprocess.run([*pip, "install", "--no-deps", "--no-index", "--target", str(site),
                    str(wheel)], check=True, capture_output=True, timeout=300, cwd=tmp_path)
    code = (
        "import json, sys, memorybench\n"
        "from memorybench.bench import cells, generators, pipeline, suite\n"
        "r = suite.bench_generators(length=10, n=64, loop_n=8, repeats=1)\n"
        "from memorybench.run.study import shipped\n"
        "f = shipped('why-lstm', 'cpu')\n"
        "print(json.dumps({'file': memorybench.__file__, 'suite': suite.__file__,\n"
        "                  'speedup': r['generator_speedup_vs_loop'], 'shipped': str(f),\n"
        "                  'runs': len(list(f.glob('runs/*/summary.json'))),\n"
        "                  'weights': len(list(f.glob('runs/*/*.h5')))}))\n"
    )
    env = _env(PYTHONPATH=str(site))
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    got = json.loads(out.stdout)
    assert Path(got["file"]).is_relative_to(site) and Path(got["suite"]).is_relative_to(site)
    assert got["speedup"] > 0
    # the shipped study results (`study --with` adds to them) come with the wheel, weightless
    assert Path(got["shipped"]).is_relative_to(site) and got["runs"] >= 260
    assert got["weights"] == 0
    cli = subprocess.run([sys.executable, "-m", "memorybench", "bench", "--help"], cwd=tmp_path,
                         env=env, capture_output=True, text=True, timeout=120)
    assert cli.returncode == 0 and "--quick" in cli.stdout, cli.stderr
