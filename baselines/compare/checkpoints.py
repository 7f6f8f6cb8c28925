"""Mid-run checkpoints: a long run saves its progress every few minutes, so that a comparison interrupted in the
middle of a run (Ctrl-C, a closed session, a crash) resumes that run where it stood instead of from step 0.

What a checkpoint holds, in ``out/runs/<run_id>/checkpoint/``: the model's weights and optimizer state
(``model-<steps>.zip``, SB3's format), the learning curve and periodic evaluations so far, the training time spent,
the TensorBoard event files, and ``state.json``, written last and atomically, which names the model file it belongs
to. A resumed run loads them into a model built afresh from the same spec and trains the remaining steps with SB3's
``reset_num_timesteps=False``, so its step count, learning-rate schedule and curve continue where they were.

A resumed run is not bit-identical to one that ran through: its env copies start new episodes and its random
generators start again from the run's seed at the resume point. Its result row says so (``resumed_at``: the step
counts it resumed from). Only on-policy algorithms (PPO, A2C and their recurrent versions) are checkpointed: an
off-policy learner's replay buffer is not saved, and resuming without it would train a different run, so those
runs restart from step 0. The Ray backend does not checkpoint (its nodes need not share the driver's disk).
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path
from typing import Any, Callable

from .storage import write_atomically

#: Seconds of training between checkpoints: a run interrupted at any moment loses at most this much.
CHECKPOINT_EVERY_S = 600.0
_STATE = "state.json"
_TENSORBOARD = "tensorboard"


def supports(model: Any) -> bool:
    """Whether ``model`` is checkpointed: on-policy algorithms, whose whole training state is their weights and
    optimizer (an off-policy learner's replay buffer is not saved)."""
    from stable_baselines3.common.on_policy_algorithm import OnPolicyAlgorithm

    return isinstance(model, OnPolicyAlgorithm)


def load(folder: Path) -> dict[str, Any] | None:
    """The state of the checkpoint in ``folder``, or None when there is none (or it is incomplete)."""
    try:
        state = json.loads((folder / _STATE).read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return None
    return state if (folder / state["model"]).is_file() else None


def restore(model: Any, folder: Path, state: dict[str, Any], tensorboard_dir: Path | None = None) -> None:
    """Load the checkpoint's weights, optimizer state and step count into ``model`` (built from the same spec) and
    its TensorBoard files into ``tensorboard_dir``, where SB3 goes on logging when resumed."""
    model.set_parameters(str(folder / state["model"]), exact_match=True, device=model.device)
    model.num_timesteps = int(state["num_timesteps"])
    saved = folder / _TENSORBOARD
    if tensorboard_dir is not None and saved.is_dir():
        shutil.copytree(saved, tensorboard_dir, dirs_exist_ok=True)


def remove(folder: Path) -> None:
    """Delete a checkpoint (its run is stored, or will restart)."""
    shutil.rmtree(folder, ignore_errors=True)


class Checkpointer:
    """Saves a checkpoint when a rollout starts once ``every_s`` seconds have passed since the last one (then every
    step counted has been trained on).

    ``progress()`` returns the JSON-able rest of the run's state (curve, evaluations, time spent); the callback adds
    the step count and the model file; ``tensorboard_dir`` (None: none kept) is copied along. ``every_s`` defaults to
    :data:`CHECKPOINT_EVERY_S`. Used through :meth:`callback`, an SB3 callback.
    """

    def __init__(self, folder: Path, tensorboard_dir: Path | None, progress: Callable[[], dict[str, Any]],
                 every_s: float | None = None) -> None:
        self.folder, self.tensorboard_dir, self.progress = folder, tensorboard_dir, progress
        self.every_s = CHECKPOINT_EVERY_S if every_s is None else every_s
        self._last = time.monotonic()

    def due(self) -> bool:
        return time.monotonic() - self._last >= self.every_s

    def save(self, model: Any) -> None:
        """Write the model first, then ``state.json`` naming it (so a checkpoint is never half-written), then drop the
        older model files."""
        self.folder.mkdir(parents=True, exist_ok=True)
        steps = int(model.num_timesteps)
        name = f"model-{steps}.zip"
        model.save(self.folder / name)
        if self.tensorboard_dir is not None and self.tensorboard_dir.is_dir():
            shutil.copytree(self.tensorboard_dir, self.folder / _TENSORBOARD, dirs_exist_ok=True)
        write_atomically(self.folder / _STATE, json.dumps({**self.progress(), "num_timesteps": steps, "model": name}))
        for old in self.folder.glob("model-*.zip"):
            if old.name != name:
                old.unlink(missing_ok=True)
        self._last = time.monotonic()

    def callback(self) -> Any:
        """An SB3 callback that checkpoints when a rollout starts and one is due."""
        from stable_baselines3.common.callbacks import BaseCallback

        checkpointer = self

        class _Checkpoint(BaseCallback):
            def _on_step(self) -> bool:
                return True

            def _on_rollout_start(self) -> None:
                if checkpointer.due():
                    checkpointer.save(self.model)

        return _Checkpoint()
