"""Tables, Markdown and plots of a comparison (:mod:`memenvs.baselines.compare`), and the memory score.

Everything here works on plain run rows (dicts, as written to ``runs.json``), so a finished comparison can be
re-reported without training: ``report.write_all(json.load(open("out/runs.json"))["runs"], "out")``.
Plots use Matplotlib's object API (no pyplot), so importing this never changes the user's Matplotlib backend.
"""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from ..statistics import mean_se

#: Columns of ``runs.csv`` (and keys of each row in ``runs.json``), in order.
ROW_COLUMNS: tuple[str, ...] = (
    "run_id", "env", "kwargs", "label", "baseline", "seed", "steps", "n_envs", "eval_episodes", "wall_s",
    "train_s", "env_steps_per_s", "final_return", "return_se", "success_rate", "success_se", "best_return",
    "best_success", "best_step", "optimal_return",
    "memoryless_return", "memory_score", "sweep_key", "sweep_value", "sweep_group", "resumed_at",
)

#: Shown wherever a memory score cannot be computed.
NO_BOUND = "n/a"
NO_BOUND_NOTE = (
    "memory score = (R - R_memoryless) / (R_optimal - R_memoryless) from the env's analytic bounds; "
    f"{NO_BOUND} where the env does not provide both bounds (or they are equal)."
)


def memory_score(ret: float, optimal: float | None, memoryless: float | None) -> float:
    """``(ret - memoryless) / (optimal - memoryless)``: 0 at the best memoryless return, 1 at the optimum.

    ``nan`` when either bound is unknown (``None``/``nan``) or the two are equal (the env needs no memory).
    """
    if optimal is None or memoryless is None:
        return math.nan
    optimal, memoryless = float(optimal), float(memoryless)
    if not (math.isfinite(optimal) and math.isfinite(memoryless)) or math.isclose(optimal, memoryless):
        return math.nan
    return (float(ret) - memoryless) / (optimal - memoryless)


def _fmt(mean: float, se: float, digits: int = 3) -> str:
    if not math.isfinite(mean):
        return NO_BOUND
    if not math.isfinite(se):
        return f"{mean:.{digits}f}"
    return f"{mean:.{digits}f} ± {se:.{digits}f}"


# ----------------------------------------------------------------------------- summary
def summarize(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """One entry per (env label, baseline), in first-seen order: means and standard errors over seeds."""
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault((row["label"], row["baseline"]), []).append(row)
    out = []
    for (label, baseline), group in groups.items():
        ret, ret_se = mean_se(r["final_return"] for r in group)
        succ, succ_se = mean_se(r["success_rate"] for r in group)
        best, best_se = mean_se(r.get("best_success", math.nan) for r in group)
        score, score_se = mean_se(r["memory_score"] for r in group)
        out.append({
            "label": label, "env": group[0]["env"], "kwargs": group[0]["kwargs"], "baseline": baseline,
            "seeds": sorted(r["seed"] for r in group), "n": len(group),
            "return": ret, "return_se": ret_se, "success": succ, "success_se": succ_se,
            "best_success": best, "best_success_se": best_se,
            "memory_score": score, "memory_score_se": score_se,
            "optimal_return": group[0]["optimal_return"], "memoryless_return": group[0]["memoryless_return"],
            "env_steps_per_s": float(np.mean([r["env_steps_per_s"] for r in group])),
            "wall_s": float(np.mean([r["wall_s"] for r in group])),
            "steps": int(np.mean([r["steps"] for r in group])),
        })
    return out


SUMMARY_HEADERS = ("env", "baseline", "seeds", "return", "success", "best success", "memory score", "env-steps/s",
                   "wall s")


def summary_cells(entry: dict[str, Any]) -> list[str]:
    """The cells of one summary line, in the order of :data:`SUMMARY_HEADERS`."""
    return [
        entry["label"], entry["baseline"], str(entry["n"]),
        _fmt(entry["return"], entry["return_se"]), _fmt(entry["success"], entry["success_se"]),
        _fmt(entry.get("best_success", math.nan), entry.get("best_success_se", math.nan)),
        _fmt(entry["memory_score"], entry["memory_score_se"]),
        f"{entry['env_steps_per_s']:,.0f}", f"{entry['wall_s']:.1f}",
    ]


def bounds_line(summary: Sequence[dict[str, Any]]) -> list[str]:
    """One line per env: its analytic bounds (or that it has none)."""
    lines, seen = [], set()
    for e in summary:
        if e["label"] in seen:
            continue
        seen.add(e["label"])
        opt, ml = e["optimal_return"], e["memoryless_return"]
        show = [f"optimal {opt:.3f}" if opt is not None else "optimal unknown",
                f"memoryless {ml:.3f}" if ml is not None else "memoryless unknown"]
        lines.append(f"{e['label']}: {', '.join(show)}")
    return lines


def summary_markdown(summary: Sequence[dict[str, Any]], title: str = "Comparison") -> str:
    """The summary as a Markdown document: the table (mean ± SE over seeds), the bounds and the score's meaning."""
    lines = [f"# {title}", "", "| " + " | ".join(SUMMARY_HEADERS) + " |", "|" + "---|" * len(SUMMARY_HEADERS)]
    for entry in summary:
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in summary_cells(entry)) + " |")
    lines += ["", "Mean ± standard error over seeds; return and success of the final policy (deterministic "
              "evaluation); best success: the best of the periodic deterministic evaluations during training "
              "(a final below it is a collapse). " + NO_BOUND_NOTE, "", "Analytic bounds:", ""]
    lines += [f"- {line}" for line in bounds_line(summary)]
    return "\n".join(lines) + "\n"


def rich_table(summary: Sequence[dict[str, Any]], title: str = "memenvs compare") -> Any:
    """The summary for the terminal: one ``rich`` table per env (so it fits a narrow terminal), as a Group."""
    from rich.console import Group
    from rich.table import Table

    tables = []
    for label in dict.fromkeys(e["label"] for e in summary):
        table = Table(title=f"{title}: {label}" if title else label, title_justify="left")
        for header in SUMMARY_HEADERS[1:]:
            table.add_column(header, justify="left" if header == "baseline" else "right")
        for entry in summary:
            if entry["label"] == label:
                table.add_row(*summary_cells(entry)[1:])
        tables.append(table)
    return Group(*tables)


# ----------------------------------------------------------------------------- files
def _plain(value: Any) -> Any:
    """JSON-safe value, recursively: NaN/inf become ``None``."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def _csv_cell(value: Any) -> Any:
    """A row's value in ``runs.csv``: empty for None, a list (``resumed_at``) as its items separated by spaces."""
    if value is None:
        return ""
    return " ".join(map(str, value)) if isinstance(value, list) else value


def write_rows(rows: Sequence[dict[str, Any]], out: str | Path) -> tuple[Path, Path]:
    """``runs.csv`` and ``runs.json`` (one row per run, columns :data:`ROW_COLUMNS`; curves only in the JSON)."""
    out = Path(out)
    csv_path, json_path = out / "runs.csv", out / "runs.json"
    with open(csv_path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(ROW_COLUMNS)
        for row in rows:
            writer.writerow([_csv_cell(row.get(c)) for c in ROW_COLUMNS])
    payload = {"columns": list(ROW_COLUMNS),
               "runs": [_plain(dict(row)) for row in rows]}
    json_path.write_text(json.dumps(payload, indent=1))
    return csv_path, json_path


#: Float columns that JSON stores as ``null`` when they are ``nan`` (JSON has no nan).
NAN_COLUMNS = ("final_return", "return_se", "success_rate", "success_se", "memory_score", "best_return",
               "best_success")


def restore_nans(row: dict[str, Any]) -> dict[str, Any]:
    """A result row read back from JSON, with ``None`` turned back into ``nan`` in :data:`NAN_COLUMNS`."""
    for key in NAN_COLUMNS:
        if row.get(key) is None:
            row[key] = math.nan
    return row


def load_rows(path: str | Path) -> list[dict[str, Any]]:
    """Rows of a ``runs.json``."""
    return [restore_nans(row) for row in json.loads(Path(path).read_text())["runs"]]


# ----------------------------------------------------------------------------- learning curves
def curve_band(rows: Sequence[dict[str, Any]]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Steps, mean and standard error over runs of their training-return curves (all on one step grid)."""
    curves = [r["curve"] for r in rows if r.get("curve") and r["curve"]["steps"]]
    if not curves:
        return np.zeros(0), np.zeros(0), np.zeros(0)
    n = min(len(c["steps"]) for c in curves)
    steps = np.asarray(curves[0]["steps"][:n], dtype=float)
    values = np.asarray([[math.nan if v is None else v for v in c["returns"][:n]] for c in curves], dtype=float)
    # By hand rather than nanmean/nanstd: a window where no run has finished an episode yet (short --steps) is an
    # all-nan column, for which those warn "Mean of empty slice"; here it is simply nan.
    finite = np.isfinite(values)
    count = finite.sum(axis=0)
    filled = np.where(finite, values, 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(count > 0, filled.sum(axis=0) / count, np.nan)
        squares = np.where(finite, (values - mean) ** 2, 0.0).sum(axis=0)
        se = np.where(count > 1, np.sqrt(squares / np.maximum(count - 1, 1)) / np.sqrt(np.maximum(count, 1)), 0.0)
    return steps, mean, se


def _figure(n_panels: int, width: float = 4.2, height: float = 3.2) -> tuple[Any, list[Any]]:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    cols = min(n_panels, 3)
    nrows = math.ceil(n_panels / cols)
    fig = Figure(figsize=(width * cols, height * nrows), layout="constrained")
    FigureCanvasAgg(fig)
    axes = [fig.add_subplot(nrows, cols, i + 1) for i in range(n_panels)]
    return fig, axes


def eval_band(rows: Sequence[dict[str, Any]]) -> tuple[np.ndarray, np.ndarray]:
    """Steps and mean over runs of their periodic deterministic-evaluation returns (``eval_curve``)."""
    curves = [r["eval_curve"] for r in rows if r.get("eval_curve") and r["eval_curve"]["steps"]]
    if not curves:
        return np.zeros(0), np.zeros(0)
    n = min(len(c["steps"]) for c in curves)
    values = np.asarray([[math.nan if v is None else v for v in c["returns"][:n]] for c in curves], dtype=float)
    with np.errstate(invalid="ignore"):
        return np.asarray(curves[0]["steps"][:n], dtype=float), np.nanmean(values, axis=0)


def plot_curves(rows: Sequence[dict[str, Any]], path: str | Path,
                references: dict[str, float] | None = None) -> Path | None:
    """Learning curves per baseline, one panel per env: mean ± SE band over seeds of the training-episode return,
    and (dashed, same colour) the mean return of the periodic deterministic evaluations, whose last point is the
    final policy, so a collapse after solving shows as a dashed line that rises and falls.

    The memoryless and optimal returns are drawn as black lines where the env provides them, and ``references``
    (label -> return, e.g. scripted policies' returns) as grey lines in every panel.
    """
    labels = list(dict.fromkeys(r["label"] for r in rows))
    if not labels:
        return None
    fig, axes = _figure(len(labels))
    for ax, label in zip(axes, labels):
        env_rows = [r for r in rows if r["label"] == label]
        for baseline in dict.fromkeys(r["baseline"] for r in env_rows):
            steps, mean, se = curve_band([r for r in env_rows if r["baseline"] == baseline])
            if steps.size == 0:
                continue
            (line,) = ax.plot(steps, mean, label=baseline)
            ax.fill_between(steps, mean - se, mean + se, color=line.get_color(), alpha=0.25, linewidth=0)
            eval_steps, eval_mean = eval_band([r for r in env_rows if r["baseline"] == baseline])
            if eval_steps.size:
                ax.plot(eval_steps, eval_mean, linestyle="--", marker=".", color=line.get_color(),
                        label=f"{baseline} (deterministic eval)")
        first = env_rows[0]
        for key, style in (("optimal_return", "k--"), ("memoryless_return", "k:")):
            if first.get(key) is not None:
                ax.axhline(first[key], color="k", linestyle=style[1:], linewidth=1,
                           label=key.replace("_return", ""))
        for (name, value), style in zip((references or {}).items(), ("-.", ":", "--", "-")):
            ax.axhline(value, color="0.45", linestyle=style, linewidth=1, label=f"{name} ({value:.1f})")
        ax.set_title(label, fontsize=9)
        ax.set_xlabel("env steps")
        ax.set_ylabel("episode return")
        ax.legend(fontsize=7)
    path = Path(path)
    fig.savefig(path, dpi=110)
    return path


# ----------------------------------------------------------------------------- sweep
def sweep_summary(rows: Sequence[dict[str, Any]], threshold: float = 0.9) -> dict[str, Any]:
    """Success rate (mean ± SE over seeds) per env, baseline and sweep value, and the largest value each baseline
    solves (mean success >= ``threshold``). Uses the return where the env gives no success signal."""
    rows = [r for r in rows if r.get("sweep_key")]
    if not rows:
        return {}
    key = rows[0]["sweep_key"]
    values = list(dict.fromkeys(r["sweep_value"] for r in rows))
    try:
        values = sorted(values)
    except TypeError:
        pass
    envs: dict[str, Any] = {}
    for r in rows:
        group = envs.setdefault(r["sweep_group"], {})
        group.setdefault(r["baseline"], {}).setdefault(_value_key(r["sweep_value"]), []).append(r)
    out: dict[str, Any] = {"key": key, "values": values, "threshold": threshold, "envs": {}}
    for group, by_baseline in envs.items():
        table = {}
        for baseline, by_value in by_baseline.items():
            cells, solved = {}, None
            for value in values:
                runs = by_value.get(_value_key(value), [])
                succ = mean_se(r["success_rate"] for r in runs)
                ret = mean_se(r["final_return"] for r in runs)
                metric = "success" if math.isfinite(succ[0]) else "return"
                n_solved = _n_solved(runs, threshold)
                cells[_value_key(value)] = {"success": succ[0], "success_se": succ[1], "return": ret[0],
                                            "return_se": ret[1], "n": len(runs), "n_solved": n_solved,
                                            "metric": metric}
                if runs and metric == "success" and succ[0] >= threshold:
                    solved = value
            table[baseline] = {"cells": cells, "longest_solved": solved}
        out["envs"][group] = table
    return out


def _value_key(value: Any) -> str:
    return json.dumps(value)


def sweep_markdown(sweep: dict[str, Any]) -> str:
    """The sweep as Markdown: one table per env, baselines x values, plus the largest value solved."""
    if not sweep:
        return ""
    key, values, threshold = sweep["key"], sweep["values"], sweep["threshold"]
    lines = [f"# Sweep over `{key}`", ""]
    for group, table in sweep["envs"].items():
        lines += [f"## {group}", "", "| baseline | " + " | ".join(f"{key}={v}" for v in values)
                  + f" | largest {key} solved (success ≥ {threshold}) |", "|" + "---|" * (len(values) + 2)]
        for baseline, entry in table.items():
            cells = []
            for v in values:
                c = entry["cells"][_value_key(v)]
                cell = _fmt(c[c["metric"]], c[c["metric"] + "_se"], 2) if c["n"] else "–"
                if c["n"] and c["metric"] == "success":
                    cell += f" ({c['n_solved']}/{c['n']})"
                cells.append(cell)
            solved = entry["longest_solved"]
            lines.append(f"| {baseline} | " + " | ".join(cells) + f" | {'none' if solved is None else solved} |")
        lines.append("")
    lines.append("Cells: success rate of the final policy (deterministic evaluation), mean ± SE over seeds, and "
                 f"(in brackets) how many seeds reached {threshold}; the return where the env has no success signal. "
                 "per_seed.md has every run.")
    return "\n".join(lines) + "\n"


def plot_sweep(sweep: dict[str, Any], path: str | Path) -> Path | None:
    """Success rate vs the swept value per baseline (mean ± SE over seeds), one panel per env."""
    if not sweep:
        return None
    key, values = sweep["key"], sweep["values"]
    numeric = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values)
    fig, axes = _figure(len(sweep["envs"]))
    for ax, (group, table) in zip(axes, sweep["envs"].items()):
        xs = values if numeric else list(range(len(values)))
        for baseline, entry in table.items():
            cells = [entry["cells"][_value_key(v)] for v in values]
            metric = cells[0]["metric"]
            ys = np.array([c[metric] for c in cells], dtype=float)
            es = np.nan_to_num(np.array([c[metric + "_se"] for c in cells], dtype=float))
            ax.errorbar(xs, ys, yerr=es, marker="o", capsize=3, label=baseline)
            ax.set_ylabel("success rate" if metric == "success" else "return")
        if numeric and min(values) > 0 and max(values) / min(values) >= 10:
            ax.set_xscale("log")
        if not numeric:
            ax.set_xticks(xs, [str(v) for v in values])
        ax.axhline(sweep["threshold"], color="k", linestyle=":", linewidth=1)
        ax.set_xlabel(key)
        ax.set_title(group, fontsize=9)
        ax.legend(fontsize=7)
    path = Path(path)
    fig.savefig(path, dpi=110)
    return path


# ----------------------------------------------------------------------------- per seed
def _seed_cell(row: dict[str, Any]) -> str:
    succ = row.get("success_rate", math.nan)
    return f"{succ:.2f}" if _finite(succ) else f"R {row.get('final_return', math.nan):.3f}"


def _best_cell(row: dict[str, Any]) -> str:
    best, step = row.get("best_success", math.nan), row.get("best_step")
    if not _finite(best):
        best = row.get("best_return", math.nan)
        if not _finite(best):
            return "–"
        return f"R {best:.3f}" + (f" ({_kilo(step)})" if step is not None else "")
    return f"{best:.2f}" + (f" ({_kilo(step)})" if step is not None else "")


def _n_solved(runs: Sequence[dict[str, Any]], threshold: float) -> int:
    """How many runs' final success reached ``threshold`` (runs without a success signal never count)."""
    return sum(1 for r in runs if _finite(r.get("success_rate")) and r["success_rate"] >= threshold)


def _finite(value: Any) -> bool:
    return isinstance(value, (int, float)) and math.isfinite(value)


def _kilo(steps: Any) -> str:
    steps = int(steps)
    return f"{steps / 1e6:.2f}M" if steps >= 1_000_000 else f"{steps / 1e3:.0f}k"


def _span(values: Sequence[float], fmt: str) -> str:
    values = [v for v in values if _finite(v)]
    if not values:
        return "–"
    low, high = min(values), max(values)
    return format(low, fmt) if format(low, fmt) == format(high, fmt) else f"{format(low, fmt)}–{format(high, fmt)}"


def per_seed_markdown(rows: Sequence[dict[str, Any]], threshold: float = 0.9, title: str = "Per seed") -> str:
    """Every run on one line per (env, baseline): the final policy's success per seed (the return, marked R, where
    the env has no success signal), how many seeds reached ``threshold``, the best periodic evaluation with the step
    it was first reached, the wall time and env-steps/s. Nothing is averaged away: a collapsed or failed seed shows
    as itself."""
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for r in rows:
        groups.setdefault((r["label"], r["baseline"]), []).append(r)
    lines = [f"# {title}", "", "| env | baseline | final success per seed (seeds) | seeds ≥ " f"{threshold} | "
             "best success (step first reached) | steps | wall s per run | env-steps/s |", "|" + "---|" * 8]
    for (label, baseline), runs in groups.items():
        runs = sorted(runs, key=lambda r: r["seed"])
        solved = _n_solved(runs, threshold)
        seeds = ", ".join(str(r["seed"]) for r in runs)
        counted = f"{solved} of {len(runs)}" if any(_finite(r.get("success_rate")) for r in runs) else "–"
        env = label.replace("|", "\\|")
        lines.append(
            f"| {env} | {baseline} | {' / '.join(_seed_cell(r) for r in runs)} ({seeds}) | "
            f"{counted} | {' / '.join(_best_cell(r) for r in runs)} | {_span([r['steps'] for r in runs], ',')} | "
            f"{_span([r['wall_s'] for r in runs], '.0f')} | {_span([r['env_steps_per_s'] for r in runs], ',.0f')} |"
        )
    lines += ["", "Final policy: deterministic evaluation after training (the reported figure). Best: the best of "
              "the periodic deterministic evaluations during training; a final below it is a collapse."]
    return "\n".join(lines) + "\n"


# ----------------------------------------------------------------------------- everything
def _made_by(markdown: str, command: str | None) -> str:
    """``markdown`` with the command that made it under its title."""
    if not command:
        return markdown
    title, _, rest = markdown.partition("\n")
    return f"{title}\n\nMade by: `{command}`\n{rest}"


def write_all(rows: Sequence[dict[str, Any]], out: str | Path, title: str = "Comparison",
              command: str | None = None) -> dict[str, Path]:
    """Write every report file of ``rows`` into ``out``; returns their paths by name. ``command``, the command line
    that made the runs, heads every Markdown file."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    paths: dict[str, Path] = {}
    paths["csv"], paths["json"] = write_rows(rows, out)
    summary = summarize(rows)
    paths["summary"] = out / "summary.md"
    paths["summary"].write_text(_made_by(summary_markdown(summary, title), command))
    paths["per_seed"] = out / "per_seed.md"
    paths["per_seed"].write_text(_made_by(per_seed_markdown(rows, title=f"{title}: per seed"), command))
    (out / "summary.json").write_text(json.dumps(_plain(summary), indent=1))
    curves = plot_curves(rows, out / "curves.png")
    if curves is not None:
        paths["curves"] = curves
    sweep = sweep_summary(rows)
    if sweep:
        paths["sweep"] = out / "sweep.md"
        paths["sweep"].write_text(_made_by(sweep_markdown(sweep), command))
        (out / "sweep.json").write_text(json.dumps(_plain(sweep), indent=1))
        paths["sweep_plot"] = plot_sweep(sweep, out / "sweep.png")
    return paths
