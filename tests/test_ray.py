"""The Ray executor: same runs as the local executor, plugins in workers, crashes, GPU requests.

The real cluster runs in a subprocess inside a network namespace of its own with only loopback
(``unshare --net`` as root, ``unshare --map-root-user --net`` otherwise): Ray binds to the
machine's network address by design, and there it can only bind 127.0.0.1, so no traffic leaves
the machine. The test is skipped only when neither is permitted or Ray is not installed.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from memorybench.errors import ConfigError
from memorybench.models import resolve as R
from memorybench.run import store
from memorybench.run.executors import get_executor
from memorybench.settings import expand, merge_layers, profile

SETS = {"model.units": 8, "train.steps": 20, "train.eval_every": 10, "train.batch_size": 16,
        "train.n_train": 128, "train.n_val": 32, "train.n_test": 32, "train.early_stop": False}
GRID = {"tasks": "adding", "lengths": "5,8", "models": "simple_rnn,lstm"}

HAS_RAY = importlib.util.find_spec("ray") is not None

PLUGIN = Path(__file__).parent / "plugins" / "faulty.py"

SCRIPT = '''
import json, os, sys
os.environ["MEMORYBENCH_OFFLINE"] = "1"
import ray
from memorybench import config as C
from memorybench.models import resolve as R
from memorybench.registry import load_plugin
from memorybench.run import store
from memorybench.run.ray_executor import RayExecutor
from memorybench.run.sweep import sweep
from memorybench.settings import expand, merge_layers, profile

out, plugin = sys.argv[1], sys.argv[2]
sets, grid = json.loads(sys.argv[3]), json.loads(sys.argv[4])
statuses = lambda res: {r.run_id: r.status for r in res.results}
report = {}

plan = expand(merge_layers(profile("smoke"), sets, grid))
report["local"] = statuses(sweep(plan.configs, out + "/local", executor="local"))

ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
report["node_ip"] = ray.util.get_node_ip_address()
ex = RayExecutor()
report["ray"] = statuses(sweep(plan.configs, out + "/ray", executor=ex))
report["options"] = ex.options

class Counting(RayExecutor):
    submitted = 0
    def map(self, fn, configs):
        configs = list(configs)
        Counting.submitted += len(configs)
        yield from super().map(fn, configs)

res = sweep(plan.configs, out + "/ray", executor=Counting())  # resume: nothing left to run
report["resumed"] = {"submitted": Counting.submitted,
                     "skipped": sum(r.skipped for r in res.results)}

load_plugin(plugin)  # workers must load it too
plan2 = expand(merge_layers(profile("smoke"), sets,
                              {**grid, "lengths": "5", "models": "test_tiny,test_crash"}))
res = sweep(plan2.configs, out + "/plugin", executor=RayExecutor())
report["plugin"] = {r.summary["model"]: [r.status, r.reason] for r in res.results}
report["plugin_on_disk"] = {s["model"]: s["status"] for s in store.iter_summaries(out + "/plugin")}
ray.shutdown()
print("REPORT " + json.dumps(report))
'''


def _unshare() -> tuple[list[str] | None, str]:
    """The ``unshare`` command that gives a network namespace with loopback up here (as root,
    or through a user namespace when not root), or None and why there is none."""
    if shutil.which("unshare") is None or shutil.which("ip") is None:
        return None, "unshare / ip not found"
    why = ""
    for cmd in (["unshare", "--net"], ["unshare", "--map-root-user", "--net"]):
        try:
            p = subprocess.run([*cmd, "sh", "-c", "ip link set lo up"], capture_output=True,
                               text=True, timeout=30)
        except (OSError, subprocess.TimeoutExpired) as exc:
            why = str(exc)
            continue
        if p.returncode == 0:
            return cmd, ""
        why = p.stderr.strip()[:200]
    return None, f"unshare --net is not permitted here: {why}"


# what a run computed (not how long it took or where): equal under every executor
OUTCOME_KEYS = ("status", "dataset", "params", "test_metric", "test_loss", "score", "solved",
                "val_metric", "steps_trained", "steps_to_solve", "n_train", "n_val", "n_test")


def _outcome(run_dir: Path) -> dict:
    summary = store.load_summary(run_dir)
    history = [{k: v for k, v in row.items() if k != "seconds"}
               for row in store.load_history(run_dir)]
    assert history and summary["test_metric"] is not None, run_dir
    return {"summary": {k: summary.get(k) for k in OUTCOME_KEYS}, "history": history}


@pytest.mark.skipif(not HAS_RAY, reason="ray is not installed (pip install 'memorybench[ray]')")
def test_ray_sweep_matches_local_resumes_loads_plugins_and_survives_a_crash(tmp_path):
    unshare, why = _unshare()
    if unshare is None:
        pytest.skip(why)
    (tmp_path / "script.py").write_text(textwrap.dedent(SCRIPT))
    cmd = " ".join([
        "ip link set lo up &&", "exec", sys.executable, str(tmp_path / "script.py"),
        str(tmp_path), str(PLUGIN),
        "'" + json.dumps(SETS) + "'", "'" + json.dumps(GRID) + "'",
    ])
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "RAY_USAGE_STATS_ENABLED": "0"}
    p = subprocess.run([*unshare, "sh", "-c", cmd], capture_output=True, text=True,
                       timeout=300, env=env, cwd=tmp_path)
    lines = [ln for ln in p.stdout.splitlines() if ln.startswith("REPORT ")]
    assert p.returncode == 0 and lines, p.stdout[-3000:] + p.stderr[-3000:]
    r = json.loads(lines[-1][len("REPORT "):])

    assert r["node_ip"] == "127.0.0.1"  # only loopback in the namespace
    # the same runs (ids and statuses) as the local executor, all of them complete
    assert len(r["local"]) == 4 and r["ray"] == r["local"]
    assert set(r["ray"].values()) == {"completed"}
    for rid in r["ray"]:
        assert store.load_summary(tmp_path / "ray" / "runs" / rid)["status"] == "completed"
        # and the same numbers, bit for bit: same data, same initialisation, same training
        local, ray_ = (_outcome(tmp_path / ex / "runs" / rid) for ex in ("local", "ray"))
        assert ray_ == local, rid
    assert r["options"] == {"num_cpus": 1, "max_retries": 0}  # no GPU: no num_gpus
    # resume: the driver skips complete runs before submitting anything
    assert r["resumed"] == {"submitted": 0, "skipped": 4}
    # a plugin cell runs in the workers; a worker that dies is a failed run, the sweep goes on
    assert r["plugin"]["test_tiny"] == ["completed", None]
    status, reason = r["plugin"]["test_crash"]
    assert status == "failed" and "did not come back" in reason, reason
    assert r["plugin_on_disk"] == {"test_tiny": "completed", "test_crash": "failed"}


# -- without a cluster: a fake ``ray`` module records what would be requested ----------------
class FakeRay:
    """The part of Ray's API the executor uses; tasks run at once, in this process."""

    def __init__(self, resources):
        self.resources = resources
        self.init_kwargs = None
        self.options = None
        self.shut = False
        self._results = {}

    def is_initialized(self):
        return self.init_kwargs is not None and not self.shut

    def init(self, **kwargs):
        self.init_kwargs = kwargs

    def shutdown(self):
        self.shut = True

    def cluster_resources(self):
        return dict(self.resources)

    def put(self, obj):
        return obj

    def remote(self, fn):
        fake = self

        class Remote:
            def options(self, **opts):
                fake.options = opts
                return self

            def remote(self, *args):
                ref = object()
                try:
                    fake._results[ref] = (True, fn(*args))
                except Exception as exc:
                    fake._results[ref] = (False, exc)
                return ref

        return Remote()

    def wait(self, refs, num_returns=1):
        return refs[:num_returns], refs[num_returns:]

    def get(self, ref):
        ok, value = self._results.pop(ref)
        if not ok:
            raise value
        return value

    def cancel(self, ref, force=False):
        pass


def _tiny_plan():
    return expand(merge_layers(profile("smoke"), SETS, GRID))


@dataclasses.dataclass
class StubJob:
    """Stands in for ``RunJob``: records the run without training (and can raise)."""

    out_dir: Path
    fail_model: str | None = None

    def __call__(self, cfg):
        from memorybench.run.store import RunResult

        assert self.out_dir.is_absolute()  # workers may run elsewhere: the executor made it so
        if cfg.model.name == self.fail_model:
            raise MemoryError("worker ran out of memory")
        rid = R.run_id(cfg)
        return RunResult(rid, Path("/elsewhere") / rid, "completed", {"run_id": rid})


@pytest.mark.parametrize("resources, gpus_per_run, expected", [
    ({"CPU": 16.0, "GPU": 2.0}, None, {"num_cpus": 1, "num_gpus": 1, "max_retries": 0}),
    ({"CPU": 16.0, "GPU": 2.0}, 0.5, {"num_cpus": 1, "num_gpus": 0.5, "max_retries": 0}),
    ({"CPU": 2.0}, None, {"num_cpus": 1, "max_retries": 0}),
    ({"CPU": 2.0}, 0.5, {"num_cpus": 1, "max_retries": 0}),  # no GPU in the cluster: none asked
])
def test_each_run_asks_for_one_gpu_where_the_cluster_has_gpus(
    monkeypatch, tmp_path, resources, gpus_per_run, expected
):
    fake = FakeRay(resources)
    monkeypatch.setitem(sys.modules, "ray", fake)
    monkeypatch.chdir(tmp_path)
    ex = get_executor("ray", gpus_per_run=gpus_per_run)
    plan = _tiny_plan()
    results = list(ex.map(StubJob(Path("res")), plan.configs))  # the worker gets it absolute
    assert fake.options == expected
    assert [r.run_id for r in results] == [R.run_id(c) for c in plan.configs]
    # results point at the driver's results folder, as given, not the worker's
    assert all(r.run_dir == store.run_dir("res", r.run_id) for r in results)
    # no address: a local cluster over every CPU, no dashboard, shut down afterwards
    assert fake.init_kwargs["num_cpus"] == os.cpu_count()
    assert fake.init_kwargs["include_dashboard"] is False and fake.shut


def test_address_joins_a_cluster_and_a_running_one_is_left_running(monkeypatch, tmp_path):
    fake = FakeRay({"CPU": 4.0})
    monkeypatch.setitem(sys.modules, "ray", fake)
    list(get_executor("ray", address="ray://head:10001").map(StubJob(tmp_path),
                                                              _tiny_plan().configs))
    assert fake.init_kwargs["address"] == "ray://head:10001" and "num_cpus" not in fake.init_kwargs
    fake2 = FakeRay({"CPU": 4.0})
    fake2.init_kwargs = {}  # already initialised by the caller
    monkeypatch.setitem(sys.modules, "ray", fake2)
    list(get_executor("ray").map(StubJob(tmp_path), _tiny_plan().configs))
    assert fake2.init_kwargs == {} and not fake2.shut


def test_a_task_that_does_not_come_back_is_a_failed_run_on_disk(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "ray", FakeRay({"CPU": 2.0}))
    plan = _tiny_plan()
    results = list(get_executor("ray").map(StubJob(tmp_path, fail_model="lstm"), plan.configs))
    failed = [r for r in results if r.status == "failed"]
    assert len(failed) == 2 and len(results) == 4  # the sweep went on
    for r in failed:
        assert "MemoryError: worker ran out of memory" in r.reason
        s = store.load_summary(tmp_path / "runs" / r.run_id)
        assert s["status"] == "failed" and s["model"] == "lstm" and s["traceback"]
        assert store.load_config(tmp_path / "runs" / r.run_id)["model"]["name"] == "lstm"


def test_ray_missing_is_one_line_with_the_install_command(monkeypatch, capsys):
    from memorybench.cli import main

    monkeypatch.setitem(sys.modules, "ray", None)  # import ray -> ImportError
    with pytest.raises(ConfigError, match=r"pip install 'memorybench\[ray\]'"):
        get_executor("ray")
    with pytest.raises(SystemExit) as exc:
        main(["run", "--executor", "ray", "--tasks", "adding", "--models", "lstm"])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "pip install 'memorybench[ray]'" in err


@pytest.mark.parametrize("args, message", [
    (["--address", "auto"], "--address needs --executor ray"),
    (["--executor", "ray", "--gpus-per-run", "0"], "--gpus-per-run 0.0 is not allowed"),
    (["--executor", "ray", "--gpus-per-run", "1.5"], "a fraction <= 1 or a whole number"),
])
def test_bad_ray_options(capsys, args, message, tmp_path):
    from memorybench.cli import main

    if "ray" in args and not HAS_RAY:
        pytest.skip("ray is not installed")
    with pytest.raises(SystemExit) as exc:
        main(["run", "--tasks", "adding", "--models", "lstm", "--out", str(tmp_path / "o"),
              *args])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err, err
    assert not (tmp_path / "o").exists()
