"""Packaging and registration: light imports, the id table, and both ways of making an env."""

import subprocess
import sys

import gymnasium as gym
import pytest

import memenvs
from memenvs.registration import ENVS, env_entry, register_envs


def test_import_is_light():
    code = (
        "import sys, memenvs, gymnasium as gym; gym.make('memenvs/TMaze-v0').reset(seed=0); "
        "heavy = [m for m in ('torch', 'stable_baselines3', 'sb3_contrib', 'pygame') if m in sys.modules]; "
        "print(heavy)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_make_without_import_uses_module_prefix():
    code = (
        "import gymnasium as gym; env = gym.make('memenvs:memenvs/TMaze-v0', length=7); "
        "print(env.unwrapped.core.params.length)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "7"


def test_every_id_registered_once_and_twice_is_harmless(recwarn):
    register_envs()
    register_envs()
    assert not [w for w in recwarn if "Overriding" in str(w.message)]
    ids = [e.id for e in ENVS]
    assert len(ids) == len(set(ids))
    for env_id in ids:
        assert env_id in gym.registry and env_id.startswith("memenvs/")


def test_native_vector_entry_point():
    envs = gym.make_vec("memenvs/TMaze-v0", num_envs=16, length=5)
    assert type(envs).__name__ == "TMazeVectorEnv"
    assert envs.metadata["autoreset_mode"] is gym.vector.AutoresetMode.NEXT_STEP
    envs = gym.make_vec("memenvs/TMaze-v0", num_envs=2, max_episode_steps=3)
    assert envs.unwrapped.core.max_steps == 3


def test_env_entry_errors_name_the_known_ids():
    assert env_entry("memenvs/TMaze-v0").entry_point.endswith(":TMazeEnv")
    with pytest.raises(ValueError, match="memenvs/TMaze-v0"):
        env_entry("memenvs/Nope-v0")


def test_baselines_importable_under_memenvs():
    import memenvs.baselines

    assert memenvs.baselines.__name__ == "memenvs.baselines"


def test_version():
    assert memenvs.__version__.count(".") == 2


def test_keyboard_play_game_builds_headless():
    from gymnasium.utils.play import PlayableGame

    env = gym.make("memenvs/TMaze-v0", render_mode="rgb_array")
    env.reset(seed=0)
    game = PlayableGame(env, keys_to_action=env.unwrapped.get_keys_to_action())
    assert len(game.relevant_keys) == 8  # arrows and WASD


@pytest.mark.parametrize("env_id", [e.id for e in ENVS])
def test_every_id_passes_check_env_and_remakes_from_its_own_spec(env_id):
    """As a user would check an id: Gymnasium's ``check_env`` on ``gym.make(id)`` with default kwargs (it re-makes
    the env from its spec for each render mode), and ``gym.make(env.spec, render_mode=...)`` directly."""
    import warnings

    from gymnasium.utils.env_checker import check_env

    if env_entry(env_id).vector_entry_point is None:  # the Atari ids
        pytest.importorskip("ale_py")
        pytest.importorskip("cv2")
    mujoco_id = env_entry(env_id).entry_point.startswith("memenvs.envs.half_cheetah_dir:")
    if mujoco_id:
        pytest.importorskip("mujoco")
    env = gym.make(env_id)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # check_env warns that a made env is wrapped; that is what is checked
        check_env(env, skip_render_check=mujoco_id)  # MuJoCo rendering needs an OpenGL context
    for mode in env.metadata["render_modes"]:
        remade = gym.make(env.spec, render_mode=mode)
        assert remade.spec.id == env_id and remade.render_mode == mode
        remade.close()
    env.close()


ROOT = __import__("pathlib").Path(__file__).resolve().parents[1]


def test_license_is_an_spdx_string_with_its_file():
    """PEP 639: ``license`` is an SPDX expression and ``license-files`` names the file (the TOML table form is
    deprecated by setuptools); the MIT text the metadata promises is in the repository."""
    tomllib = pytest.importorskip("tomllib")
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["license"] == "MIT" and project["license-files"] == ["LICENSE"]
    text = (ROOT / "LICENSE").read_text()
    assert text.startswith("MIT License") and "Permission is hereby granted, free of charge" in text


def test_wheel_carries_the_license_and_its_spdx_expression(tmp_path):
    import importlib.metadata
    import zipfile

    setuptools_version = tuple(int(p) for p in importlib.metadata.version("setuptools").split(".")[:2])
    if setuptools_version < (77, 0):
        pytest.skip(f"building needs setuptools>=77 (PEP 639 license fields); this has {setuptools_version}")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", str(ROOT), "--no-deps", "--no-build-isolation", "-q", "-w",
         str(tmp_path)],
        check=True, capture_output=True,
    )
    (wheel,) = tmp_path.glob("memenvs-*.whl")
    with zipfile.ZipFile(wheel) as zf:
        names = zf.namelist()
        metadata = zf.read(next(n for n in names if n.endswith(".dist-info/METADATA"))).decode()
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names)
    assert "License-Expression: MIT" in metadata.splitlines()


@pytest.mark.parametrize("blocked", ["torch", "stable_baselines3", "sb3_contrib"])
def test_baselines_without_their_extra_name_the_install(blocked):
    """Without torch (or SB3, sb3-contrib): importing the baselines says which extra to install, and the commands
    that need them are one-line errors (exit 2) saying the same."""
    hide = f"import sys; sys.modules[{blocked!r}] = None; "
    out = subprocess.run([sys.executable, "-c", hide + "import memenvs.baselines"], capture_output=True, text=True)
    assert out.returncode == 1
    assert 'ImportError: memenvs.baselines needs the baselines extra: pip install "memenvs[baselines]"' in out.stderr
    for argv in (["reproduce", "two-step"], ["compare", "--steps", "16"]):
        code = hide + f"from memenvs.cli import main; sys.exit(main({argv!r}))"
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
        assert out.returncode == 2 and "Traceback" not in out.stderr
        assert 'pip install "memenvs[baselines]"' in out.stderr


def test_compare_help_lists_every_baseline_without_importing_torch():
    from memenvs.cli import build_parser

    code = "import sys; from memenvs.cli import build_parser; build_parser(); print('torch' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout.strip() == "False"
    help_text = " ".join(build_parser()._subparsers._group_actions[0].choices["compare"].format_help().split())
    pytest.importorskip("torch")
    from memenvs.baselines.hyperparams import BASELINES

    assert "baselines, any of: " + ", ".join(BASELINES) in help_text
