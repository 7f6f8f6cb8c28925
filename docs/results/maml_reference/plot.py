"""The table and figure of docs/results/maml_reference/README.md from the run files in this folder.

    python docs/results/maml_reference/plot.py

Reads ``reference_s*.jsonl`` (``run_reference.py``) and ``memenvs_<average>_s*.jsonl`` (the ``runs.jsonl`` rows of
``memenvs reproduce maml run``), prints the mean post-adaptation return of the sampled trajectories per window of
20 meta-iterations as a Markdown table and writes ``post_adaptation.png``.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

HERE = Path(__file__).parent
WINDOW = 20


def load() -> dict[str, np.ndarray]:
    runs = {}
    for path in sorted(HERE.glob("*.jsonl")):
        rows = [json.loads(line) for line in path.read_text().splitlines()]
        who, seed = path.stem.rsplit("_s", 1)
        label = {"reference": "pytorch-maml-rl", "memenvs_trajectories": "memenvs, trajectory means",
                 "memenvs_steps": "memenvs, every step alike"}[who]
        runs[f"{label}, seed {seed}"] = np.array([r["post_return"] for r in sorted(rows, key=lambda r: r["iteration"])])
    return runs


def main() -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    runs = load()
    n = max(len(v) for v in runs.values())
    starts = range(0, n, WINDOW)
    print("| run | " + " | ".join(f"{s}-{s + WINDOW - 1}" for s in starts) + " |")
    print("|---|" + "---|" * len(starts))
    for label, post in runs.items():
        cells = [f"{post[s:s + WINDOW].mean():.1f}" if len(post) >= s + WINDOW else "–" for s in starts]
        print(f"| {label} | " + " | ".join(cells) + " |")
    fig, ax = plt.subplots(figsize=(7, 4))
    for label, post in runs.items():
        smooth = np.convolve(post, np.ones(WINDOW) / WINDOW, mode="valid")
        style = "-" if "trajectory" in label or "pytorch" in label else "--"
        ax.plot(np.arange(WINDOW - 1, len(post)), smooth, style, label=label)
    ax.set_xlabel("meta-iteration")
    ax.set_ylabel(f"post-adaptation return ({WINDOW}-iteration mean)")
    ax.set_ylim(-30, -12)
    ax.set_title("Navigation2D, MAML-TRPO, pytorch-maml-rl's 2D-navigation config", fontsize=10)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(HERE / "post_adaptation.png", dpi=110)


if __name__ == "__main__":
    main()
