"""The memenvs command line: list, render, bench, and its errors."""

import json

import pytest
from PIL import Image

from memenvs.cli import main, parse_kwargs


def test_list_shows_every_id_with_spaces(capsys):
    from memenvs.registration import ENVS

    assert main(["list"]) == 0
    out = capsys.readouterr().out
    for entry in ENVS:
        assert entry.id in out and entry.summary in out
    assert "Discrete(4)" in out and "Box(0.0, 1.0, (3,), float32)" in out


def test_render_writes_gif_with_one_frame_per_step(tmp_path, capsys):
    out = tmp_path / "tmaze.gif"
    assert main(["render", "memenvs/TMaze-v0", "--episodes", "2", "--seed", "3", "--out", str(out),
                 "-k", "length=4"]) == 0
    # Replay the same seeded random policy to count the steps the GIF must hold.
    import gymnasium as gym

    env = gym.make("memenvs/TMaze-v0", length=4)
    env.action_space.seed(3)
    expected = 0
    for episode in range(2):
        env.reset(seed=3 if episode == 0 else None)
        expected += 1
        done = False
        while not done:
            _, _, term, trunc, _ = env.step(env.action_space.sample())
            expected += 1
            done = term or trunc
    with Image.open(out) as gif:
        assert gif.n_frames == expected
    assert f"{expected} frames" in capsys.readouterr().out


def test_render_mp4(tmp_path):
    pytest.importorskip("imageio_ffmpeg")
    out = tmp_path / "tmaze.mp4"
    assert main(["render", "memenvs/TMaze-v0", "--out", str(out), "-k", "length=3"]) == 0
    assert out.stat().st_size > 1000


@pytest.mark.parametrize(
    "argv,message",
    [
        (["render", "memenvs/Nope-v0", "--out", "x.gif"], "unknown env id"),
        (["render", "memenvs/TMaze-v0", "--out", "x.gif", "-k", "length=0"], "length"),
        (["render", "memenvs/TMaze-v0", "--out", "x.gif", "-k", "colour=3"], "colour"),
        (["render", "memenvs/TMaze-v0", "--out", "x.png"], ".gif or .mp4"),
        (["render", "memenvs/TMaze-v0", "--out", "x.gif", "-k", "length"], "KEY=VALUE"),
        (["bench", "memenvs/Nope-v0"], "unknown env id"),
        (["bench", "memenvs/TMaze-v0", "--seconds", "0"], "--seconds"),
        (["compare", "--ray-runtime-env", "{bad"], "--ray-runtime-env must be a JSON object"),
        (["compare", "--ray-runtime-env", "[1]"], "--ray-runtime-env must be a JSON object"),
        (["bench", "memenvs/TMaze-v0", "--rounds", "2"], "--rounds"),
    ],
)
def test_errors_are_clear(argv, message, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(argv) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "x.gif").exists()


def test_every_subcommand_has_help(capsys):
    for sub in ("list", "play", "render", "bench"):
        with pytest.raises(SystemExit) as exc:
            main([sub, "--help"])
        assert exc.value.code == 0
        assert "usage: memenvs " + sub in capsys.readouterr().out


def test_bench_tiny_budget(tmp_path, capsys):
    out = tmp_path / "bench.json"
    assert main(["bench", "memenvs/TMaze-v0", "--seconds", "0.02", "--num-envs", "4", "64",
                 "--sync-envs", "2", "--json", str(out)]) == 0
    text = capsys.readouterr().out
    assert "machine: cpu" in text and "numpy" in text and "gymnasium" in text and "load average" in text
    data = json.loads(out.read_text())
    rows = {(r["env_id"], r["mode"], r["num_envs"]): r for r in data["results"]}
    for mode, n in [("single", 1), ("sync_vector", 2), ("native_vector", 4), ("native_vector", 64)]:
        ours, ref = rows[("memenvs/TMaze-v0", mode, n)], rows[("CartPole-v1", mode, n)]
        # every row is divided by CartPole in the same rounds, and says so
        assert ours["reference"] == {"env_id": "CartPole-v1", "mode": mode, "num_envs": n}
        assert len(ours["ratio"]["rounds"]) == 3 and len(ours["rates"]) >= 3 and len(ref["rates"]) >= 3
        # each round's ratio is one measurement of the row over one of the reference (the one beside it)
        for ratio in ours["ratio"]["rounds"]:
            assert any(ratio == pytest.approx(a / b) for a in ours["rates"] for b in ref["rates"])
        assert ours["ratio"]["min"] <= ours["ratio"]["median"] <= ours["ratio"]["max"]
    # the SB3 adapter is divided by the same id's native vector env
    assert rows[("memenvs/TMaze-v0", "sb3_adapter", 64)]["reference"]["mode"] == "native_vector"
    assert all(r["env_steps_per_s"] > 0 for r in data["results"])
    assert "CartPole-v1 native_vector 64" in text  # the reference is printed beside the row


def test_parse_kwargs():
    assert parse_kwargs(["length=100", "variant=passive", "p=0.5", "x=None", "flag=True"]) == {
        "length": 100, "variant": "passive", "p": 0.5, "x": None, "flag": True,
    }
