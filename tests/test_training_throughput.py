"""benchmarks/training_throughput.py: every baseline, every copy count, the bare-LSTM reference, clear errors."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

th = pytest.importorskip("torch")
pytest.importorskip("sb3_contrib")

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "training_throughput.py"
TINY = ["--env-kwargs", '{"variant": "passive", "length": 3}', "--rounds", "2", "--n-envs", "2", "3",
        "--n-steps", "8", "--batch-size", "16", "--n-epochs", "1", "--hidden", "4"]


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("training_throughput", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_reports_every_baseline_at_every_copy_count(bench, tmp_path, capsys):
    out = bench.main([*TINY, "--json", str(tmp_path / "t.json")])
    assert set(out["speeds"]) == {"mlp", "lstm", "gru", "gru-torch", "iam", "sb3-lstm"}
    for per_n in out["speeds"].values():
        assert set(per_n) == {2, 3} and all(len(v) == 2 and min(v) > 0 for v in per_n.values())
    assert all(len(v) == 2 and min(v) > 0 for v in out["bare_lstm"].values())
    assert json.loads((tmp_path / "t.json").read_text())["settings"] == out["settings"]
    printed = capsys.readouterr().out
    assert "torch" in printed and "n_steps=8 batch_size=16 n_epochs=1 hidden=4 device=cpu" in printed
    assert "| sb3-lstm |" in printed and "| bare LSTM (samples/s) |" in printed and "x bare" in printed


@pytest.mark.parametrize(
    "argv,message",
    [(["--rounds", "0"], "--rounds"), (["--n-envs", "0"], "--n-envs"), (["--baselines", "nope"], "--baselines")],
)
def test_bad_arguments_name_the_flag(bench, argv, message, capsys):
    with pytest.raises(SystemExit):
        bench.main(argv)
    assert message in capsys.readouterr().err


@pytest.mark.skipif(th.cuda.is_available(), reason="checks the error on machines without CUDA")
def test_cuda_without_a_gpu_is_a_clear_error(bench, capsys):
    with pytest.raises(SystemExit):
        bench.main(["--device", "cuda"])
    assert "no CUDA device" in capsys.readouterr().err


def test_layout_stats_count_padding_in_both_layouts(bench):
    import numpy as np

    np.random.seed(0)
    starts = np.zeros((12, 4), dtype=bool)
    starts[0] = starts[7] = True  # 7-step episodes in 12-step rollouts: sequences of 7 and 5 steps
    free_calls = bench.layout_stats(starts, batch_size=24, chunk_len=12, call_cost=0.0)
    assert free_calls["packed_real"] == 1.0 and free_calls["packed_calls"] == 2.0  # [0, 5) x4 rows, [5, 7) x2
    assert free_calls["sb3_contrib_real"] < 0.9
    one_call = bench.layout_stats(starts, batch_size=24, chunk_len=12, call_cost=1e9)
    assert one_call["packed_real"] == pytest.approx(48 / (2 * 4 * 7)) and one_call["packed_calls"] == 1.0


def test_layout_only_prints_both_layouts(bench, capsys):
    out = bench.main([*TINY, "--layout-only"])
    assert set(out["layout"]) == {2, 3}
    assert all(0 < v["sb3_contrib_real"] <= 1 and 0 < v["packed_real"] <= 1 for v in out["layout"].values())
    assert "| sb3-contrib padded |" in capsys.readouterr().out
