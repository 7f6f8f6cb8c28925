"""Tests of ``memenvs compare``: outputs, memory score, resume, interruption, argument errors, sweeps, the process
pool and Ray backends (same table as in-process), and rendering a saved model."""

from __future__ import annotations

import csv
import dataclasses
import json
import math
import shlex

import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("sb3_contrib")

import gymnasium as gym  # noqa: E402

import memenvs  # noqa: E402,F401
from memenvs.baselines import compare as cmp  # noqa: E402
from memenvs.baselines.compare import report, running, saved_models  # noqa: E402
from memenvs.cli import build_parser, main  # noqa: E402

ENV = "memenvs/TMaze-v0:variant=passive,length=3"
# Tiny runs: 2 rollouts of 4 copies x 16 steps, one epoch each.
TINY = dict(envs=[ENV], baselines=["mlp", "gru"], seeds=[0, 1], steps=128, n_envs=4, eval_episodes=6,
            overrides={"n_steps": 16, "batch_size": 32, "n_epochs": 1}, curve_points=4, quiet=True)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """The tiny comparison, trained for real by the default local backend (a pool of 2 processes)."""
    out = tmp_path_factory.mktemp("tiny")
    return out, cmp.compare(out=out, workers=2, **TINY)


def table(rows):
    return sorted((r["label"], r["baseline"], r["seed"], r["steps"], r["final_return"], r["success_rate"],
                   tuple(r["curve"]["returns"])) for r in rows)


# ------------------------------------------------------------------ outputs
def test_tiny_comparison_writes_every_output(tiny):
    out, result = tiny
    assert not result.interrupted and not result.failures and result.total == 4 and len(result.rows) == 4
    with open(out / "runs.csv") as f:
        rows = list(csv.DictReader(f))
    assert tuple(rows[0]) == report.ROW_COLUMNS
    assert sorted((r["baseline"], r["seed"]) for r in rows) == [("gru", "0"), ("gru", "1"), ("mlp", "0"),
                                                                ("mlp", "1")]
    for r in rows:
        assert r["env"] == "memenvs/TMaze-v0" and json.loads(r["kwargs"]) == {"variant": "passive", "length": 3}
        assert int(r["steps"]) >= 128 and float(r["wall_s"]) > 0 and float(r["env_steps_per_s"]) > 0
        assert 0.0 <= float(r["success_rate"]) <= 1.0
    runs = json.loads((out / "runs.json").read_text())["runs"]
    assert [r["run_id"] for r in runs] == [r["run_id"] for r in result.rows]
    assert all(len(r["curve"]["steps"]) == 4 for r in runs)

    summary = (out / "summary.md").read_text()
    lines = [line for line in summary.splitlines() if line.startswith("| memenvs/TMaze-v0")]
    assert len(lines) == 2 and "| mlp | 2 |" in lines[0] and "| gru | 2 |" in lines[1]
    assert "optimal 1.000, memoryless 0.500" in summary
    assert [(e["baseline"], e["n"]) for e in result.summary] == [("mlp", 2), ("gru", 2)]
    gru = [r["final_return"] for r in result.rows if r["baseline"] == "gru"]
    assert result.summary[1]["return"] == pytest.approx(np.mean(gru))
    assert result.summary[1]["return_se"] == pytest.approx(np.std(gru, ddof=1) / math.sqrt(2))

    assert (out / "curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    config = json.loads((out / "config.json").read_text())
    assert config["command"].startswith("memenvs compare --envs")
    assert "--overrides n_steps=16,batch_size=32,n_epochs=1" in config["command"]
    assert {"torch", "stable-baselines3", "sb3-contrib", "gymnasium", "numpy", "python"} <= set(config["versions"])
    assert len(config["runs"]) == 4
    for r in result.rows:
        folder = out / "runs" / r["run_id"]
        assert (folder / "model.zip").stat().st_size > 0
        assert list((folder / "tensorboard").glob("events.out.tfevents.*"))


def test_command_line_in_config_rebuilds_the_same_runs(tiny):
    out, result = tiny
    config = json.loads((out / "config.json").read_text())["config"]
    args = shlex.split(cmp.command_line(config))[2:]
    parsed = vars(build_parser().parse_args(["compare", *args]))
    runs = cmp.plan(parsed["envs"], parsed["baselines"], parsed["seeds"], parsed["steps"], parsed["n_envs"],
                    parsed["eval_episodes"], parsed["sweep"], parsed["curve_points"], parsed["overrides"])
    assert [r.run_id for r in runs] == [r["run_id"] for r in result.rows]


# ------------------------------------------------------------------ memory score
def test_memory_score_from_known_bounds(tiny):
    assert report.memory_score(0.75, 1.0, 0.5) == pytest.approx(0.5)
    assert report.memory_score(1.0, 1.0, 0.5) == 1.0 and report.memory_score(0.5, 1.0, 0.5) == 0.0
    assert report.memory_score(0.0, 4.0, 2.0) == pytest.approx(-1.0)
    assert math.isnan(report.memory_score(1.0, None, 0.5)) and math.isnan(report.memory_score(1.0, 1.0, None))
    assert math.isnan(report.memory_score(0.9, 0.9, 0.9))  # no memory gap: the score means nothing
    _, result = tiny
    for r in result.rows:  # the passive T-maze's bounds: optimum 1, best memoryless 0.5
        assert (r["optimal_return"], r["memoryless_return"]) == (1.0, 0.5)
        assert r["memory_score"] == pytest.approx((r["final_return"] - 0.5) / 0.5)


def test_learning_curves_of_short_runs_average_without_warnings():
    """With a small --steps the first windows have no finished episode in any run: nan there, and no numpy
    "Mean of empty slice" warning in the user's terminal."""
    import warnings

    rows = [{"curve": {"steps": [10, 20, 30], "returns": [None, None, r], "success": [None, None, 1.0]}}
            for r in (1.0, 3.0)]
    rows.append({"curve": {"steps": [10, 20, 30], "returns": [None, 2.0, 2.0], "success": [None, 1.0, 1.0]}})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        steps, mean, se = report.curve_band(rows)
    assert np.isnan(mean[0]) and mean[1] == 2.0 and se[1] == 0.0
    assert mean[2] == 2.0 and se[2] == pytest.approx(1.0 / np.sqrt(3))


def test_evaluation_without_a_success_signal_prints_na():
    from memenvs.baselines import EvalResult

    text = str(EvalResult(1.5, 0.25, math.nan, math.nan, 4, (1.0, 2.0, 1.0, 2.0), (3, 3, 3, 3)))
    assert text == "return 1.500 ± 0.250, success n/a (n=4)"
    assert "success 0.500 ± 0.100" in str(EvalResult(1.5, 0.25, 0.5, 0.1, 4, (), ()))


def test_envs_without_bounds_get_nan_scores_shown_as_na():
    rows = [{"label": "x", "env": "x", "kwargs": "{}", "baseline": "mlp", "seed": s, "steps": 10,
             "final_return": 1.0, "success_rate": math.nan, "memory_score": math.nan, "optimal_return": None,
             "memoryless_return": None, "env_steps_per_s": 1.0, "wall_s": 1.0} for s in (0, 1)]
    summary = report.summarize(rows)
    assert math.isnan(summary[0]["memory_score"])
    text = report.summary_markdown(summary)
    assert "| x | mlp | 2 | 1.000 ± 0.000 | n/a | n/a |" in text and "optimal unknown" in text


# ------------------------------------------------------------------ resume and interruption
def fake_payload(spec, progress=None, checkpoint_dir=None):
    success = 1.0 if spec.baseline != "mlp" and spec.env_kwargs.get("length", 0) <= 20 else 0.5
    row = {"run_id": spec.run_id, "env": spec.env_id, "kwargs": json.dumps(spec.env_kwargs), "label": spec.label,
           "baseline": spec.baseline, "seed": spec.seed, "steps": spec.steps, "n_envs": spec.n_envs,
           "eval_episodes": spec.eval_episodes, "wall_s": 1.0, "train_s": 1.0, "env_steps_per_s": 100.0,
           "final_return": success, "return_se": 0.0, "success_rate": success + 0.02 * spec.seed,
           "success_se": 0.0, "optimal_return": spec.optimal_return, "memoryless_return": spec.memoryless_return,
           "memory_score": report.memory_score(success, spec.optimal_return, spec.memoryless_return),
           "sweep_key": spec.sweep_key, "sweep_value": spec.sweep_value, "sweep_group": spec.sweep_group,
           "curve": {"steps": [5, 10], "returns": [0.0, success], "success": [0.0, success]}}
    return {"run_id": spec.run_id, "row": row, "files": {"model.zip": b"fake"}}


def test_resume_skips_finished_runs(tiny, monkeypatch):
    out, first = tiny
    before = {r["run_id"]: (out / "runs" / r["run_id"] / "result.json").stat().st_mtime_ns for r in first.rows}
    calls = []

    def counting(spec, progress=None, checkpoint_dir=None):
        calls.append(spec)
        return fake_payload(spec)

    monkeypatch.setattr(running, "execute", counting)
    result = cmp.compare(out=out, workers=1, **{**TINY, "seeds": [0, 1, 2]})
    assert [(s.baseline, s.seed) for s in calls] == [("mlp", 2), ("gru", 2)]
    assert sorted(result.skipped) == sorted(before) and len(result.rows) == 6
    for run_id, mtime in before.items():
        assert (out / "runs" / run_id / "result.json").stat().st_mtime_ns == mtime
    calls.clear()
    again = cmp.compare(out=out, workers=1, **{**TINY, "seeds": [0, 1, 2]})
    assert calls == [] and len(again.skipped) == 6


def test_a_fresh_clone_of_a_results_folder_resumes_from_its_committed_table(tiny, tmp_path, monkeypatch):
    """A results folder commits ``runs.json`` but not ``runs/``: rerunning its command on a fresh clone retrains only
    the runs the table lacks, keeps every committed row as it was, and a torn ``result.json`` falls back to the
    table's row."""
    import shutil

    out = tmp_path / "clone"
    shutil.copytree(tiny[0], out)
    table = json.loads((out / "runs.json").read_text())
    planned = {s.run_id for s in cmp.plan(TINY["envs"], TINY["baselines"], TINY["seeds"], TINY["steps"],
                                          TINY["n_envs"], TINY["eval_episodes"], curve_points=TINY["curve_points"],
                                          overrides=TINY["overrides"])}
    table["runs"] = [r for r in table["runs"] if r["run_id"] in planned]  # other tests may have added runs
    assert len(table["runs"]) == len(planned) == 4
    dropped = table["runs"].pop()  # this run is missing from the committed table: it must be trained again
    (out / "runs.json").write_text(json.dumps(table))
    shutil.rmtree(out / "runs")
    torn = table["runs"][0]["run_id"]
    (out / "runs" / torn).mkdir(parents=True)
    (out / "runs" / torn / "result.json").write_text('{"run_id": "')
    calls = []

    def counting(spec, progress=None, checkpoint_dir=None):
        calls.append(spec)
        return fake_payload(spec)

    monkeypatch.setattr(running, "execute", counting)
    result = cmp.compare(out=out, workers=1, **TINY)
    assert [s.run_id for s in calls] == [dropped["run_id"]]
    assert sorted(result.skipped) == sorted(r["run_id"] for r in table["runs"])
    by_id = {r["run_id"]: r for r in result.rows}
    for row in table["runs"]:
        assert by_id[row["run_id"]]["final_return"] == row["final_return"]
        assert by_id[row["run_id"]]["curve"] == row["curve"]
    assert {r["run_id"] for r in json.loads((out / "runs.json").read_text())["runs"]} == set(by_id)


def test_an_unreadable_table_is_no_finished_run(tmp_path):
    from memenvs.baselines.compare import plan
    from memenvs.baselines.compare.storage import load_done

    runs = plan(["memenvs/TMaze-v0:length=4"], ["mlp"], [0], 64, 2)
    for text in ("{not json", '{"columns": []}', '{"runs": 5}', '{"runs": [1, {"seed": 0}]}'):
        (tmp_path / "runs.json").write_text(text)
        assert load_done(tmp_path, runs) == {}


def test_a_changed_default_is_a_new_run_not_a_reused_one(tiny, monkeypatch):
    """Resume keys on the run id; the id covers the baseline's resolved defaults, so after a change to the table
    (here the MLP's layer sizes) the finished runs are not reused for settings they were not made with."""
    from memenvs.baselines import hyperparams

    out, first = tiny
    calls = []

    def counting(spec, progress=None, checkpoint_dir=None):
        calls.append(spec)
        return fake_payload(spec)

    monkeypatch.setattr(running, "execute", counting)
    record = hyperparams.BASELINES["mlp"]
    changed = dataclasses.replace(record, policy_kwargs={**record.policy_kwargs, "net_arch": [8]})
    monkeypatch.setitem(hyperparams.BASELINES, "mlp", changed)
    result = cmp.compare(out=out, workers=1, **TINY)
    assert sorted((s.baseline, s.seed) for s in calls) == [("mlp", 0), ("mlp", 1)]
    assert {r["run_id"] for r in result.rows} != {r["run_id"] for r in first.rows}
    assert len(result.skipped) == 2  # the GRU's runs, whose defaults did not change


def test_ctrl_c_keeps_finished_runs_and_rerun_resumes(tmp_path, monkeypatch):
    calls = []

    def interrupted_on_third(spec, progress=None, checkpoint_dir=None):
        calls.append(spec.run_id)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return fake_payload(spec)

    monkeypatch.setattr(running, "execute", interrupted_on_third)
    result = cmp.compare(out=tmp_path, workers=1, **TINY)
    assert result.interrupted and len(result.rows) == 2
    assert len(json.loads((tmp_path / "runs.json").read_text())["runs"]) == 2
    assert len(list((tmp_path / "runs").glob("*/result.json"))) == 2
    monkeypatch.setattr(running, "execute", fake_payload)
    resumed = cmp.compare(out=tmp_path, workers=1, **TINY)
    assert not resumed.interrupted and len(resumed.skipped) == 2 and len(resumed.rows) == 4


def test_two_compares_on_one_folder_share_the_runs_and_both_report_all(tmp_path, monkeypatch):
    """Two invocations on one --out at once: each run is trained once (claims), and each summary holds every run,
    whichever invocation trained it."""
    import threading
    import time

    calls = []

    def slow(spec, progress=None, checkpoint_dir=None):
        calls.append(spec.run_id)
        time.sleep(0.3)  # both invocations are running while runs are in progress
        return fake_payload(spec)

    monkeypatch.setattr(running, "execute", slow)
    results = {}

    def invoke(name):
        results[name] = cmp.compare(out=tmp_path, workers=1, **TINY)

    threads = [threading.Thread(target=invoke, args=(name,)) for name in ("a", "b")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert sorted(calls) == sorted(set(calls)) and len(calls) == 4  # every run trained exactly once
    for result in results.values():
        assert len(result.rows) == 4 and not result.failures
    assert len(json.loads((tmp_path / "runs.json").read_text())["runs"]) == 4
    assert not list((tmp_path / "runs").glob("*/claim.json"))  # claims are released


def test_a_stale_claim_of_a_dead_process_is_taken_over(tmp_path, monkeypatch):
    from memenvs.baselines.compare import storage

    monkeypatch.setattr(running, "execute", fake_payload)
    runs = cmp.plan(TINY["envs"], TINY["baselines"], TINY["seeds"], TINY["steps"], TINY["n_envs"],
                    TINY["eval_episodes"], None, TINY["curve_points"], TINY["overrides"])
    folder = tmp_path / "runs" / runs[0].run_id
    folder.mkdir(parents=True)
    dead = 2 ** 22 + 12345  # above the default pid_max: no such process
    (folder / "claim.json").write_text(json.dumps({"host": __import__("socket").gethostname(), "pid": dead}))
    assert not storage.claim_is_live(tmp_path, runs[0].run_id)
    result = cmp.compare(out=tmp_path, workers=1, **TINY)
    assert runs[0].run_id in {r["run_id"] for r in result.rows} and len(result.rows) == 4
    assert not (folder / "claim.json").exists() and (folder / "result.json").exists()


def test_a_failing_run_is_reported_and_not_stored(tmp_path, monkeypatch, capsys):
    def broken(spec, progress=None, checkpoint_dir=None):
        if spec.baseline == "gru":
            raise RuntimeError("boom")
        return fake_payload(spec)

    monkeypatch.setattr(running, "execute", broken)
    result = cmp.compare(out=tmp_path, workers=1, **TINY)
    assert len(result.failures) == 2 and all("boom" in tb for tb in result.failures.values())
    assert [r["baseline"] for r in result.rows] == ["mlp", "mlp"]


# ------------------------------------------------------------------ argument errors
@pytest.mark.parametrize("change,match", [
    ({"baselines": ["mlp", "transformer"]}, "unknown baseline.*transformer.*known: mlp"),
    ({"envs": ["memenvs/NoSuchEnv-v0"]}, "unknown env id 'memenvs/NoSuchEnv-v0'"),
    ({"envs": ["memenvs/TMaze-v0:length"]}, "malformed env kwargs.*KEY=VALUE"),
    ({"envs": ["memenvs/TMaze-v0:length=5,=3"]}, "malformed env kwargs"),
    ({"envs": ["memenvs/TMaze-v0:"]}, "nothing after ':'"),
    ({"envs": ["memenvs/TMaze-v0:length=0"]}, "rejects its kwargs.*length"),
    ({"envs": ["memenvs/TMaze-v0:colour=3"]}, "rejects its kwargs"),
    ({"steps": 0}, "steps must be an integer >= 1"),
    ({"steps": -5}, "steps must be an integer >= 1"),
    ({"n_envs": 0}, "n_envs must be"),
    ({"eval_episodes": 0}, "eval_episodes must be"),
    ({"seeds": []}, "seeds is empty"),
    ({"seeds": [0, 0]}, "seeds must be distinct"),
    ({"sweep": "length"}, "malformed --sweep"),
    ({"sweep": "length="}, "malformed --sweep"),
    ({"overrides": {"learning_rat": 1e-3}}, "unknown override.*learning_rat"),
    ({"workers": 0}, "workers must be"),
    ({"backend": "slurm"}, "backend must be one of local, ray"),
])
def test_bad_arguments_fail_before_any_training(change, match, tmp_path, monkeypatch):
    def never(spec, progress=None, checkpoint_dir=None):
        raise AssertionError("training started")

    monkeypatch.setattr(running, "execute", never)
    with pytest.raises(cmp.CompareError, match=match):
        cmp.compare(out=tmp_path / "o", **{**TINY, **change})
    assert not (tmp_path / "o").exists()


def test_cli_reports_bad_arguments_without_a_traceback(capsys):
    assert main(["compare", "--baselines", "mlp", "nope"]) == 2
    err = capsys.readouterr().err
    assert "memenvs compare: error: unknown baseline(s) 'nope'" in err and "Traceback" not in err
    assert main(["compare", "--steps", "0"]) == 2
    assert "steps must be an integer >= 1" in capsys.readouterr().err


def test_parsing_env_specs_and_sweeps():
    assert cmp.parse_env("memenvs/TMaze-v0:variant=passive,length=20") == (
        "memenvs/TMaze-v0", {"variant": "passive", "length": 20})
    assert cmp.parse_env("X-v0:sizes=[1,2],p=0.5,name='a,b'") == ("X-v0", {"sizes": [1, 2], "p": 0.5, "name": "a,b"})
    assert cmp.parse_env("memenvs/TMaze-v0") == ("memenvs/TMaze-v0", {})
    assert cmp.parse_sweep("length=10,20,50") == ("length", [10, 20, 50])
    assert cmp.env_label("memenvs/TMaze-v0", {"variant": "passive", "length": 20}) == \
        "memenvs/TMaze-v0:variant=passive,length=20"


def test_unnamed_baselines_are_each_env_familys_and_the_command_line_names_them(tmp_path, monkeypatch):
    # The T-maze runs the recurrent DQNs (the reliable learners there), other families the PPO baselines.
    assert {r.baseline for r in cmp.plan(seeds=[0])} == {"mlp_dqn", "lstm_dqn", "gru_dqn"}
    runs = cmp.plan([ENV, "CartPole-v1"], None, [0], 64, 2, 2)
    assert [r.baseline for r in runs] == ["mlp_dqn", "lstm_dqn", "gru_dqn", "mlp", "lstm", "gru", "iam"]
    monkeypatch.setattr(running, "execute", fake_payload)
    for envs, named in (([ENV], "--baselines mlp_dqn lstm_dqn gru_dqn "), ([ENV, "CartPole-v1"], None)):
        out = tmp_path / str(len(envs))
        cmp.compare(envs=envs, seeds=[0], steps=64, n_envs=2, eval_episodes=2, out=out, workers=1, quiet=True)
        command = json.loads((out / "config.json").read_text())["command"]
        assert (named in command) if named else ("--baselines" not in command)


def test_iam_gets_a_learned_dset_on_envs_without_one():
    runs = cmp.plan([ENV], ["iam", "lstm"], [0], 64, 2, 2)
    assert runs[0].policy_kwargs == {"core_kwargs": {"dset": "learned", "dset_size": 2}}  # the observation's width
    assert runs[1].policy_kwargs is None


# ------------------------------------------------------------------ sweep
def test_sweep_expands_runs_and_reports_the_longest_solved_length(tmp_path, monkeypatch):
    monkeypatch.setattr(running, "execute", fake_payload)
    result = cmp.compare(out=tmp_path, workers=1, **{**TINY, "envs": ["memenvs/TMaze-v0:variant=passive"],
                                                     "sweep": "length=10,20,50"})
    assert result.total == 3 * 2 * 2
    assert sorted({r["sweep_value"] for r in result.rows}) == [10, 20, 50]
    sweep = json.loads((tmp_path / "sweep.json").read_text())
    table = sweep["envs"]["memenvs/TMaze-v0:variant=passive"]
    assert table["gru"]["longest_solved"] == 20 and table["mlp"]["longest_solved"] is None
    assert table["gru"]["cells"]["50"]["success"] == pytest.approx(0.51)
    text = (tmp_path / "sweep.md").read_text()
    assert "| gru | 1.01 ± 0.01 (2/2) | 1.01 ± 0.01 (2/2) | 0.51 ± 0.01 (0/2) | 20 |" in text
    assert "Made by: `memenvs compare --envs memenvs/TMaze-v0:variant=passive --baselines mlp gru" in text
    per_seed = (tmp_path / "per_seed.md").read_text()  # every run, none averaged away
    assert "| memenvs/TMaze-v0:variant=passive,length=50 | gru | 0.50 / 0.52 (0, 1) | 0 of 2 |" in per_seed
    assert (tmp_path / "sweep.png").read_bytes()[:4] == b"\x89PNG"


# ------------------------------------------------------------------ backends give the same table
def test_in_process_run_gives_the_same_numbers_as_the_pool(tiny, tmp_path):
    _, pooled = tiny
    inline = cmp.compare(out=tmp_path, workers=1, **{**TINY, "baselines": ["gru"], "seeds": [1]})
    assert not inline.failures and len(inline.rows) == 1
    assert table(inline.rows) == table([r for r in pooled.rows if (r["baseline"], r["seed"]) == ("gru", 1)])


def test_ray_backend_gives_the_same_table_as_local(tiny, tmp_path):
    ray = pytest.importorskip("ray", reason="ray is not installed (pip install 'memenvs[ray]')")
    _, local = tiny
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        result = cmp.compare(out=tmp_path, backend="ray", **TINY)
    finally:
        ray.shutdown()
    assert not result.failures
    assert table(result.rows) == table(local.rows)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        ["config.json", "curves.png", "per_seed.md", "runs", "runs.csv", "runs.json", "summary.json", "summary.md"])
    for r in result.rows:
        assert (tmp_path / "runs" / r["run_id"] / "model.zip").is_file()


# ------------------------------------------------------------------ rendering a saved model
def test_render_cli_plays_a_saved_recurrent_model(tiny, tmp_path, capsys):
    out, result = tiny
    gru = next(r for r in result.rows if r["baseline"] == "gru")
    gif = tmp_path / "gru.gif"
    assert main(["render", "memenvs/TMaze-v0", "--model", str(out / "runs" / gru["run_id"] / "model.zip"),
                 "--episodes", "2", "--out", str(gif)]) == 0
    printed = capsys.readouterr().out
    assert "2 episode(s)" in printed and "(10 frames" in printed  # passive length 3: 4 steps + reset, twice
    from PIL import Image

    assert Image.open(gif).n_frames == 10


def test_render_cli_names_both_ids_when_the_model_does_not_fit_the_env(tiny, tmp_path, capsys):
    out, result = tiny
    gru = next(r for r in result.rows if r["baseline"] == "gru")
    model = str(out / "runs" / gru["run_id"] / "model.zip")
    assert main(["render", "memenvs/Maze4x4-v0", "--model", model, "--out", str(tmp_path / "x.gif")]) == 2
    err = capsys.readouterr().err
    assert "trained on memenvs/TMaze-v0" in err and "memenvs/Maze4x4-v0 gives observations (16,)" in err
    assert "Error:" not in err and "Traceback" not in err and not (tmp_path / "x.gif").exists()


def test_compare_out_and_address_errors_come_before_training(tmp_path, monkeypatch, capsys):
    def never(spec, progress=None, checkpoint_dir=None):
        raise AssertionError("training started")

    monkeypatch.setattr(running, "execute", never)
    a_file = tmp_path / "a_file"
    a_file.write_text("")
    for out, message in [(a_file, "is a file"), (a_file / "sub", "cannot be made: a part of the path is a file"),
                         ("/sys/memenvs_out", "is not a writable folder")]:
        assert main(["compare", "--out", str(out), "--steps", "16", "--quiet"]) == 2
        err = capsys.readouterr().err
        assert f"memenvs compare: error: --out '{out}' {message}" in err and "Traceback" not in err
    pytest.importorskip("ray")
    for address in ("ray://127.0.0.1:1", "127.0.0.1:1"):
        assert main(["compare", "--backend", "ray", "--address", address, "--out", str(tmp_path / "o")]) == 2
        err = capsys.readouterr().err
        assert f"cannot reach the Ray cluster at --address '{address}'" in err and "Traceback" not in err
    # Something that accepts connections but is no Ray cluster (a proxy): ray.init's ConnectionError, one line.
    import importlib

    import ray

    monkeypatch.setattr(importlib.import_module("memenvs.baselines.compare.main"), "_check_reachable",
                        lambda address: None)

    def refuse(**kwargs):
        raise ConnectionError(f"Failed to connect to Ray cluster at {kwargs['address']}")

    monkeypatch.setattr(ray, "init", refuse)
    assert main(["compare", "--backend", "ray", "--address", "10.0.0.1:6379", "--out", str(tmp_path / "p"),
                 "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "cannot connect to a Ray cluster at --address '10.0.0.1:6379'" in err and "Traceback" not in err


def test_model_policy_resets_memory_each_episode_and_replays_wrappers(tiny, monkeypatch):
    from memenvs.baselines import make_model

    out, result = tiny
    gru = next(r for r in result.rows if r["baseline"] == "gru")
    model = cmp.load_model(out / "runs" / gru["run_id"] / "model.zip")
    starts, states = [], []
    original = model.predict

    def spy(obs, state=None, episode_start=None, deterministic=True):
        starts.append(bool(episode_start[0]))
        states.append(state)
        return original(obs, state=state, episode_start=episode_start, deterministic=deterministic)

    monkeypatch.setattr(model, "predict", spy)
    monkeypatch.setattr(saved_models, "load_model", lambda path: model)
    frames, returns, _ = cmp.render_model("unused.zip", episodes=2)
    assert starts == [True, False, False, False] * 2 and len(returns) == 2
    assert states[0] is None and states[4] is None and states[1] is not None  # memory cleared per episode

    stacked = make_model("framestack", "memenvs/TMaze-v0", n_envs=1, env_kwargs={"variant": "passive", "length": 3},
                         wrappers=[("frame_stack", {"n_stack": 3})])
    env = saved_models._Tap(gym.make("memenvs/TMaze-v0", variant="passive", length=3, render_mode="rgb_array"))
    seen = []
    monkeypatch.setattr(stacked, "predict", lambda x, **kw: (seen.append(x.copy()), (np.array([1]), None))[1])
    policy = cmp.ModelPolicy(stacked, env)
    obs, _ = env.reset(seed=0)
    history = [obs]
    policy(obs)
    for _ in range(2):
        obs = env.step(1)[0]
        history.append(obs)
        policy(obs)
    width = history[0].shape[0]
    expected = np.concatenate([np.zeros(width, np.float32), history[0], history[1], history[2]])
    np.testing.assert_array_equal(seen[0][0], np.concatenate([np.zeros(2 * width, np.float32), history[0]]))
    np.testing.assert_array_equal(seen[2][0], expected[width:])


# ------------------------------------------------------------------ mid-run checkpoints
def tiny_spec(baseline="gru", steps=256, overrides=TINY["overrides"]):
    return cmp.plan(TINY["envs"], [baseline], [0], steps, TINY["n_envs"], TINY["eval_episodes"],
                    curve_points=TINY["curve_points"], overrides=overrides)[0]


def test_a_run_resumes_from_its_mid_run_checkpoint(tmp_path, monkeypatch):
    import torch

    from memenvs.baselines.compare import checkpoints

    monkeypatch.setattr(checkpoints, "CHECKPOINT_EVERY_S", 0.0)  # one at every rollout start
    spec = tiny_spec()
    folder = tmp_path / "checkpoint"
    first = running.execute(spec, checkpoint_dir=folder)["row"]
    saved = checkpoints.load(folder)  # the last one: taken when the last rollout started
    assert first["resumed_at"] == [] and saved["num_timesteps"] == spec.steps - 64
    assert len(list(folder.glob("model-*.zip"))) == 1 and (folder / "tensorboard").is_dir()
    # What the resumed run starts from is exactly what was saved: weights, optimizer state and step count.
    from memenvs.baselines.models import make_model

    model = make_model(spec.baseline, spec.env_id, seed=spec.seed, n_envs=spec.n_envs,
                       env_kwargs=dict(spec.env_kwargs), **spec.overrides)
    checkpoints.restore(model, folder, saved, tmp_path / "tb")
    reference = type(model).load(folder / saved["model"])
    for a, b in zip(model.policy.state_dict().values(), reference.policy.state_dict().values()):
        assert torch.equal(a, b)
    assert model.num_timesteps == saved["num_timesteps"]
    assert model.policy.optimizer.state_dict()["state"], "the optimizer's moments come back too"
    # Resumed, it trains only the remaining rollout and keeps the curve and evaluations of the first session.
    resumed = running.execute(spec, checkpoint_dir=folder)["row"]
    assert resumed["resumed_at"] == [spec.steps - 64] and resumed["steps"] == spec.steps
    assert resumed["eval_curve"]["steps"][:-1] == first["eval_curve"]["steps"][:-1]
    assert resumed["train_s"] > saved["spent"]["train_s"]


def test_off_policy_runs_write_no_checkpoint_and_a_stored_run_drops_its_own(tmp_path, monkeypatch):
    from memenvs.baselines.compare import checkpoints, storage

    monkeypatch.setattr(checkpoints, "CHECKPOINT_EVERY_S", 0.0)
    spec = tiny_spec("mlp_dqn", steps=64, overrides={"learning_starts": 16, "batch_size": 4})
    payload = running.execute(spec, checkpoint_dir=tmp_path / "dqn")
    assert not (tmp_path / "dqn").exists() and payload["row"]["resumed_at"] == []
    ppo = tiny_spec("mlp")
    folder = storage.checkpoint_dir(tmp_path, ppo.run_id)
    payload = running.execute(ppo, checkpoint_dir=folder)
    assert checkpoints.load(folder) is not None
    storage.store(tmp_path, payload)
    assert storage.is_done(tmp_path, ppo.run_id) and not folder.exists()
