"""Sphinx extension that generates the memenvs docs pages that must not drift from the code.

At ``builder-inited`` it writes, from the package itself:

* ``environments/<name>.md`` for every id in :data:`memenvs.registration.ENVS`: the registration summary, the GIF
  from ``gallery/``, spaces and limits read off a constructed env, the arguments with their allowed values (probed
  from the params dataclass's own validation), optimal and best-memoryless returns computed by the env for the
  default and a few other configurations, native-vector throughput from the committed
  ``results/performance.json``, the env class docstring, and the hand-written notes of ``envs/<name>.md``;
* ``baseline/<name>.md`` for every baseline in :data:`memenvs.baselines.hyperparams.BASELINES`: the hand-written
  description from ``baselines/``, the default hyperparameters per env family resolved from the same table
  :func:`~memenvs.baselines.hyperparams.resolve` reads, and the rows about it in the committed results;
* fragments under ``_generated/`` that the hand-written pages (home, performance, results) include.

It is a Sphinx extension rather than a module of the package because it is documentation tooling: it runs on
every build (so a page cannot go stale and a new id gets its page without anyone writing one), it keeps
``import memenvs`` free of docs code, and it measures and trains nothing (numbers that need a run come from JSON
committed under ``results/``). The generated directories hold a ``.gitignore`` of ``*``, so they stay out of git.

Hand-written pages under ``envs/`` and ``baselines/`` (except the compare tutorial) are inlined, not built on
their own; relative links in every hand-written page are rewritten at ``source-read`` to the generated pages.
"""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import json
import os
import math
import posixpath
import re
from pathlib import Path
from typing import Any, Iterable

DOCS = Path(__file__).resolve().parents[1]
ENV_DIR = "environments"  # generated env pages
BASELINE_DIR = "baseline"  # generated baseline pages
FRAGMENTS = "_generated"  # generated includes (not documents)
HANDWRITTEN_ENVS = "envs"
HANDWRITTEN_BASELINES = "baselines"
GALLERY = "gallery"
RESULTS = "results"
PERFORMANCE_JSON = "results/performance.json"
# Hand-written pages that stay documents of their own (everything else under envs/ and baselines/ is inlined).
STANDALONE = ("baselines/compare.md",)

# Configurations whose returns each env page tables besides the default (the numbers come from the env itself).
# An id missing here gets its default configuration only.
EXAMPLE_CONFIGS: dict[str, list[dict[str, Any]]] = {
    "memenvs/TMaze-v0": [{"length": 100}, {"length": 1000, "variant": "passive"}, {"variant": "active"},
                         {"corridor_noise": 0.1}],
    "memenvs/Maze4x4-v0": [{"random_start": True}],
    "memenvs/BlindMaze4x4-v0": [{"random_start": True}, {"step_cost": 0.0}],
    "memenvs/RandomMaze-v0": [{"regenerate": "never"}, {"regenerate": "never", "size": 16, "maze_seed": 1}],
    "memenvs/TwoStep-v0": [{"variant": "wang2016"}, {"variant": "daw2011"}, {"switch_prob": 0.1}],
    "memenvs/Warehouse-v0": [{"moves": "cross"}],
    "memenvs/Traffic-v0": [{"n_cars": 10}],
}


# ----------------------------------------------------------------------------------------------- names and files
def page_name(env_id: str) -> str:
    """``"memenvs/BlindMaze4x4-v0"`` -> ``"blind_maze4x4"``: the stem of the env's page and of its GIF."""
    name = env_id.split("/")[-1]
    name = re.sub(r"-v\d+$", "", name)
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name).lower()


def _squash(name: str) -> str:
    return name.replace("_", "").replace("-", "").lower()


def gif_path(env_id: str) -> Path:
    """Where the env's GIF (made by ``memenvs render``) lives: ``gallery/<name>.gif``, underscores optional
    (``nonstationary_cartpole.gif`` serves ``NonstationaryCartPole-v0``)."""
    default = DOCS / GALLERY / f"{page_name(env_id)}.gif"
    if not default.exists():
        for path in sorted((DOCS / GALLERY).glob("*.gif")):
            if _squash(path.stem) == _squash(page_name(env_id)):
                return path
    return default


def _title_line(path: Path) -> str:
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("# "):
            return line
    return ""


def handwritten_env_page(env_id: str) -> Path | None:
    """The hand-written page about ``env_id``: ``envs/<name>.md`` (underscores optional), else a page whose title
    names the id (one page may cover a family of ids)."""
    folder = DOCS / HANDWRITTEN_ENVS
    if not folder.is_dir():
        return None
    pages = sorted(folder.glob("*.md"))
    for path in pages:
        if _squash(path.stem) == _squash(page_name(env_id)):
            return path
    for path in pages:
        if f"`{env_id}`" in _title_line(path):
            return path
    return None


def handwritten_baseline_page(name: str) -> Path | None:
    """The hand-written page whose title names the baseline (``# `lstm`, `gru` — ...``) or ``baselines/<name>.md``."""
    folder = DOCS / HANDWRITTEN_BASELINES
    if not folder.is_dir():
        return None
    pages = sorted(folder.glob("*.md"))
    for path in pages:
        if path.stem == name:
            return path
    for path in pages:
        if f"`{name}`" in _title_line(path):
            return path
    return None


def _entries() -> list[Any]:
    import memenvs

    return list(memenvs.ENVS)


def _baselines() -> dict[str, Any]:
    from memenvs.baselines.hyperparams import BASELINES

    return dict(BASELINES)


# ----------------------------------------------------------------------------------------------- markdown helpers
def _fmt(value: Any) -> str:
    """A value as it would be typed in Python, for a table cell."""
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        return f"{value:.6g}"
    if isinstance(value, type):
        return value.__name__
    return repr(value)


def _cell(text: Any) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _code(text: Any) -> str:
    text = str(text)
    fence = "``" if "`" in text else "`"
    pad = " " if "`" in text else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def _table(header: Iterable[str], rows: Iterable[Iterable[Any]]) -> str:
    header = list(header)
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def rst_to_markdown(text: str) -> str:
    """A Gymnasium-style docstring (Markdown headings, reST inline markup) as MyST Markdown."""
    def role(match: re.Match) -> str:  # :class:`~a.b.C` -> `C`, :func:`a.b` -> `a.b`
        target = match.group(2)
        return f"`{target.split('.')[-1] if match.group(1) else target}`"

    text = re.sub(r":[a-z]+:`(~?)([^`]+)`", role, text)
    text = re.sub(r"``(.+?)``", r"`\1`", text)
    out: list[str] = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        # reST literal block ("text::" then an indented block) -> fenced code
        if line.rstrip().endswith("::") and not line.lstrip().startswith(("*", "-")) or line.strip() == "::":
            out.append(line.rstrip()[:-1].rstrip() if line.strip() != "::" else "")
            j = i + 1
            block: list[str] = []
            while j < len(lines) and (not lines[j].strip() or lines[j].startswith((" ", "\t"))):
                block.append(lines[j])
                j += 1
            while block and not block[-1].strip():
                block.pop()
            if block:
                out += ["", "```python", *inspect.cleandoc("\n".join(block)).splitlines(), "```", ""]
                i = j
                continue
        out.append(line)
        i += 1
    return "\n".join(out)


def demote_headings(text: str, levels: int = 1) -> str:
    """Add ``levels`` to every ATX heading outside code fences."""
    out, fenced = [], False
    for line in text.splitlines():
        if line.lstrip().startswith(("```", "~~~")):
            fenced = not fenced
        if not fenced and re.match(r"#{1,5} ", line):
            line = "#" * levels + line
        out.append(line)
    return "\n".join(out)


def docstring_sections(doc: str) -> tuple[str, list[tuple[str, str]]]:
    """Split a Gymnasium-style docstring into its summary and ``(heading, body)`` sections."""
    summary, sections, current, body = [], [], None, []
    for line in doc.splitlines():
        match = re.match(r"##\s+(.*)", line)
        if match:
            if current is not None:
                sections.append((current, "\n".join(body).strip()))
            current, body = match.group(1).strip(), []
        elif current is None:
            summary.append(line)
        else:
            body.append(line)
    if current is not None:
        sections.append((current, "\n".join(body).strip()))
    return "\n".join(summary).strip(), sections


# ----------------------------------------------------------------------------------------------- link rewriting
_LINK = re.compile(r"(!?\[[^\]]*\]\()([^)\s]+)((?:\s+\"[^\"]*\")?\))")


def link_targets() -> dict[str, str]:
    """Hand-written page (docs-relative path) -> the generated document that shows it (``/environments/x.md``)."""
    claimed = _claimed_targets()
    return {**claimed, **orphan_pages(claimed)}


def _claimed_targets() -> dict[str, str]:
    """The hand-written pages that an id or a baseline claims, and the baselines index."""
    targets: dict[str, str] = {}
    for entry in _entries():
        page = handwritten_env_page(entry.id)
        if page is not None:
            targets.setdefault(page.relative_to(DOCS).as_posix(), f"/{ENV_DIR}/{page_name(entry.id)}.md")
    try:
        baselines = _baselines()
    except ImportError:
        baselines = {}
    for name in baselines:
        page = handwritten_baseline_page(name)
        if page is not None:
            targets.setdefault(page.relative_to(DOCS).as_posix(), f"/{BASELINE_DIR}/{name}.md")
    if (DOCS / HANDWRITTEN_BASELINES / "index.md").exists():
        targets[f"{HANDWRITTEN_BASELINES}/index.md"] = f"/{BASELINE_DIR}/index.md"
    return targets


def orphan_pages(claimed: dict[str, str]) -> dict[str, str]:
    """Hand-written pages under ``envs/`` and ``baselines/`` that no id or baseline claims (a page about a wrapper,
    say): each becomes a generated page of its own, so nothing written is left out of the site."""
    out: dict[str, str] = {}
    for folder, target in ((HANDWRITTEN_ENVS, ENV_DIR), (HANDWRITTEN_BASELINES, BASELINE_DIR)):
        taken = {posixpath.basename(doc) for doc in claimed.values() if doc.startswith(f"/{target}/")}
        for path in sorted((DOCS / folder).glob("*.md")) if (DOCS / folder).is_dir() else []:
            source = path.relative_to(DOCS).as_posix()
            if source in claimed or source in STANDALONE or path.name == "index.md":
                continue
            name = path.name if path.name not in taken else f"{path.stem}_notes.md"
            out[source] = f"/{target}/{name}"
    return out


def rewrite_links(text: str, source: str, targets: dict[str, str]) -> str:
    """Make the relative links of the hand-written page ``source`` (docs-relative) absolute from the docs root, and
    point the ones to inlined hand-written pages at the generated pages that show them."""

    def fix(match: re.Match) -> str:
        target = match.group(2)
        if re.match(r"^[a-z]+:", target) or target.startswith(("#", "/")) or target.startswith("<"):
            return match.group(0)
        path, _, anchor = target.partition("#")
        resolved = posixpath.normpath(posixpath.join(posixpath.dirname(source), path))
        if resolved in targets:
            new = targets[resolved]
        elif resolved.startswith("..") or not (DOCS / resolved).exists():
            return match.group(0)  # outside the docs or missing: left for Sphinx to report
        else:
            new = "/" + resolved + (f"#{anchor}" if anchor else "")
        return match.group(1) + new + match.group(3)

    out, fenced = [], False
    for line in text.splitlines():
        if line.lstrip().startswith(("```", "~~~")):
            fenced = not fenced
        out.append(line if fenced else _LINK.sub(fix, line))
    return "\n".join(out)


def split_handwritten(path: Path, targets: dict[str, str]) -> tuple[str, str]:
    """A hand-written page without its title and gallery GIF, as ``(intro, sections)``, links rewritten."""
    text = rewrite_links(path.read_text(encoding="utf-8"), path.relative_to(DOCS).as_posix(), targets)
    lines, dropped_title = [], False
    for line in text.splitlines():
        if not dropped_title and line.startswith("# "):
            dropped_title = True
            continue
        if re.match(rf"^!\[[^\]]*\]\(/{GALLERY}/[^)]*\)\s*$", line.strip()):
            continue
        lines.append(line)
    intro, rest, fenced, in_rest = [], [], False, False
    for line in lines:
        if line.lstrip().startswith(("```", "~~~")):
            fenced = not fenced
        if not fenced and line.startswith("## "):
            in_rest = True
        (rest if in_rest else intro).append(line)
    return "\n".join(intro).strip(), "\n".join(rest).strip()


# ----------------------------------------------------------------------------------------------- env facts
def _load(entry_point: str) -> Any:
    module, _, name = entry_point.partition(":")
    return getattr(importlib.import_module(module), name)


def _probe_allowed(params_class: type, field: dataclasses.Field, fixed: dict[str, Any]) -> str:
    """The allowed values of one argument, read from the ``ValueError`` its validation raises for a bad value
    (so the docs state exactly what the code enforces)."""

    class _Bad:
        def __repr__(self) -> str:
            return "<bad>"

    try:
        params_class(**{**fixed, field.name: _Bad()})
    except ValueError as err:
        message = str(err)
    except Exception:  # noqa: BLE001 - a validator that does not raise ValueError: say nothing rather than guess
        return ""
    else:
        return "any value"
    message = re.sub(r"[,;] got <bad>.*$", "", message)
    prefix = f"{field.name} must be "
    allowed = message[len(prefix):] if message.startswith(prefix) else message
    allowed = re.sub(r"^a finite number ", "a number ", allowed)
    if "None" in str(field.type) and "None" not in allowed:
        allowed += ", or None"
    return allowed


def _argument_docs(doc: str) -> dict[str, str]:
    """``name -> description`` from the docstring's Arguments section (``* ``name`` (...): text``)."""
    _, sections = docstring_sections(doc)
    body = next((b for h, b in sections if h.lower().startswith("argument")), "")
    found: dict[str, str] = {}
    for item in re.split(r"\n(?=\s*\* )", body):
        match = re.match(r"\s*\*\s+``(\w+)``(.*)", item, re.S)
        if match:
            text = " ".join(match.group(2).split("\n\n")[0].split())
            text = re.sub(r"^\s*\([^()]*(?:\([^()]*\)[^()]*)*\)\s*:?\s*", "", text) or text
            text = text.lstrip(": ")
            found[match.group(1)] = rst_to_markdown(text) if text.strip(" .") else ""
    return found


def _arguments_table(obj: Any, fixed: dict[str, Any]) -> str:
    doc = inspect.getdoc(obj) or ""
    described = _argument_docs(doc)
    core = getattr(obj, "core_class", None)
    rows = []
    if core is not None:
        params = core.Params
        for field in dataclasses.fields(params):
            if not field.init or field.name in fixed:
                continue
            default = repr(field.default) if field.default is not dataclasses.MISSING else "(required)"
            rows.append((_code(field.name), _code(default), _probe_allowed(params, field, fixed),
                         described.get(field.name, "")))
        note = ("Allowed values are those the argument's validation enforces, shown at the default values of the "
                "other arguments; anything else raises `ValueError` naming the argument.\n")
    else:
        for name, p in inspect.signature(obj).parameters.items():
            if p.kind in (p.VAR_KEYWORD, p.VAR_POSITIONAL) or name in fixed or name == "render_mode":
                continue
            default = "(required)" if p.default is p.empty else repr(p.default)
            rows.append((_code(name), _code(default), "", described.get(name, "")))
        note = "Arguments of the entry point's signature; see the description for their ranges.\n"
    if fixed:
        note += "\nFixed by this id: " + ", ".join(f"`{k}={v!r}`" for k, v in fixed.items()) + ".\n"
    return _table(["argument", "default", "allowed values", "meaning"], rows) + "\n" + note


def _returns(env_id: str, kwargs: dict[str, Any]) -> tuple[Any, Any, Any]:
    import gymnasium as gym

    env = gym.make(env_id, **kwargs)
    try:
        base = env.unwrapped
        values = []
        for method in ("optimal_return", "memoryless_return", "max_steps"):
            if method == "max_steps":
                values.append(getattr(getattr(base, "core", None), "max_steps", None))
            else:
                fn = getattr(base, method, None)
                values.append(fn() if callable(fn) else "n/a")
        return tuple(values)
    finally:
        env.close()


def _num(value: Any) -> str:
    if value is None:
        return "not known analytically"
    if isinstance(value, str):
        return value
    return f"{float(value):.4g}"


def _returns_section(env_id: str) -> str:
    rows = []
    for kwargs in [{}, *EXAMPLE_CONFIGS.get(env_id, [])]:
        label = "default" if not kwargs else ", ".join(f"`{k}={v!r}`" for k, v in kwargs.items())
        try:
            opt, mem, limit = _returns(env_id, kwargs)
        except Exception as err:  # noqa: BLE001 - e.g. an optional extra missing where the docs are built
            rows.append((label, f"cannot build here: {type(err).__name__}", "", "", ""))
            continue
        gap = (f"{float(opt) - float(mem):.4g}" if isinstance(opt, (int, float)) and isinstance(mem, (int, float))
               else "")
        rows.append((label, _num(opt), _num(mem), gap, limit if limit is not None else ""))
    intro = ("Expected undiscounted return per episode of the best policy with memory (`optimal_return()`) and of "
             "the best reactive policy, observation to action (`memoryless_return()`), computed by the env when this "
             "page was built. The gap between them is what memory is worth; `None` means no closed form (see the "
             "notes for Monte-Carlo figures).\n\n")
    return intro + _table(["configuration", "optimal", "best memoryless", "gap", "episode limit"], rows)


def _space(space: Any) -> str:
    return _code(" ".join(str(space).replace("[ ", "[").split()))


def _glance(entry: Any) -> tuple[str, dict[str, Any]]:
    """The facts read off a constructed env, and the constructed env's facts for other tables."""
    import gymnasium as gym

    spec = gym.spec(entry.id)
    rows: list[tuple[str, str]] = [("id", _code(entry.id)),
                                   ("entry point", _code(spec.entry_point)),
                                   ("native vector env", _code(spec.vector_entry_point) if spec.vector_entry_point
                                    else "none (`gym.make_vec` uses Gymnasium's sync vectorisation)")]
    facts: dict[str, Any] = {}
    try:
        env = gym.make(entry.id)
    except Exception as err:  # noqa: BLE001
        rows.append(("spaces", f"cannot build the env where the docs were built ({type(err).__name__}: {err})"))
        return _table(["", ""], rows), facts
    try:
        base = env.unwrapped
        core = getattr(base, "core", None)
        rows.append(("action space", _space(env.action_space)))
        names = getattr(core, "action_names", ()) if core is not None else ()
        if names:
            rows.append(("actions", ", ".join(f"{i} {n}" for i, n in enumerate(names))))
        rows.append(("observation space", _space(env.observation_space)))
        if core is not None:
            rows.append(("episode limit (default)", f"{core.max_steps} steps"))
            options = getattr(core, "reset_options", ())
            rows.append(("`reset(options=...)` keys", ", ".join(f"`{o}`" for o in options) or "none"))
        env.reset(seed=0)
        hidden = getattr(base, "hidden_state", None)
        if callable(hidden):
            try:
                rows.append(("`hidden_state()` keys", ", ".join(f"`{k}`" for k in hidden())))
            except Exception:  # noqa: BLE001
                pass
        _, info = env.reset(seed=0)
        if info:
            rows.append(("`info` keys", ", ".join(f"`{k}`" for k in info)))
        rows.append(("render modes", ", ".join(f"`{m}`" for m in env.metadata.get("render_modes", [])) +
                     f" at {env.metadata.get('render_fps', '?')} fps"))
    finally:
        env.close()
    return _table(["", ""], rows), facts


def performance() -> dict[str, Any] | None:
    path = DOCS / PERFORMANCE_JSON
    if not path.exists():
        return None
    return json.loads(path.read_text(encoding="utf-8"))


def _rate(value: float) -> str:
    if value >= 1e6:
        return f"{value / 1e6:.1f} M"
    if value >= 1e3:
        return f"{value / 1e3:.0f} k"
    return f"{value:.0f}"


MODES = (("single", "single env (`gym.make`)"), ("sync_vector", "Gymnasium `SyncVectorEnv`"),
         ("native_vector", "native vector env"), ("sb3_adapter", "SB3 `VecEnv` adapter"))


def _rows_by(perf: dict[str, Any]) -> dict[tuple[str, str, int], dict[str, Any]]:
    return {(r["env_id"], r["mode"], r["num_envs"]): r for r in perf["results"]}


def _measured(row: dict[str, Any] | None) -> bool:
    return row is not None and "skipped" not in row


def _ratio(row: dict[str, Any] | None) -> str:
    """``median x [min-max]`` of the per-round ratios to the row's reference, or – ."""
    if not _measured(row) or "ratio" not in row:
        return "–"
    r = row["ratio"]
    return f"{r['median']:.2f}x [{r['min']:.2f}–{r['max']:.2f}]"


def _reference_label(row: dict[str, Any]) -> str:
    ref = row.get("reference")
    if not ref:
        return ""
    names = {"single": "`gym.make`", "sync_vector": "`SyncVectorEnv`", "native_vector": "native vector env"}
    if ref["env_id"] == "CartPole-v1" and ref["mode"] == "native_vector":
        return f"Gymnasium's `CartPoleVectorEnv`, {ref['num_envs']:,} copies"
    if ref["mode"] == "single":
        return f"`{ref['env_id']}` through `gym.make`"
    return f"`{ref['env_id']}` {names.get(ref['mode'], ref['mode'])}, {ref['num_envs']:,} copies"


def _measured_by(perf: dict[str, Any]) -> str:
    s, machine = perf["settings"], perf["machine"]
    load = perf.get("load_average", {}).get("before", [])
    return (f"Measured by `{perf['command']}` on {machine.get('cpu')} ({machine.get('cores')} cores, one used), "
            f"{perf['started']}, {s['rounds']} interleaved rounds of {s['seconds']} s, load average "
            f"{' '.join(f'{x:.2f}' for x in load)} at the start (a shared machine); see "
            "[Performance](/performance.md).\n")


def _throughput_section(env_id: str) -> str:
    perf = performance()
    if perf is None:
        return f"No committed measurement (`{PERFORMANCE_JSON}` is missing).\n"
    rows = []
    for r in perf["results"]:
        if r["env_id"] == env_id and _measured(r):
            label = dict(MODES).get(r["mode"], r["mode"])
            rows.append((label, f"{r['num_envs']:,}", _rate(r["env_steps_per_s"]), _ratio(r), _reference_label(r)))
    if not rows:
        return (f"Not measured in the committed run (`{PERFORMANCE_JSON}`); run `{perf['command']}` to add it.\n")
    return (_table(["mode", "copies", "env-steps/s (median)", "ratio, median [min–max] over rounds",
                    "reference (same rounds)"], rows) + "\n" + _measured_by(perf))


def env_page(entry: Any, targets: dict[str, str], first_with_page: dict[str, str]) -> str:
    obj = _load(entry.entry_point)
    doc = inspect.getdoc(obj) or ""
    summary, sections = docstring_sections(doc)
    name = page_name(entry.id)
    handwritten = handwritten_env_page(entry.id)
    title = entry.id.split("/")[-1]
    parts = [f"# {title}\n", f"`{entry.id}` · {entry.summary}\n",
             "```{only} html\n" + f"![{title}](/{GALLERY}/{gif_path(entry.id).name})\n```\n"
             if gif_path(entry.id).exists()
             else "*No GIF yet: make it with* " + f"`memenvs render {entry.id} --out docs/{GALLERY}/{name}.gif`.\n"]
    intro, notes = split_handwritten(handwritten, targets) if handwritten else ("", "")
    if intro:
        parts.append(intro + "\n")
    else:
        description = next((b for h, b in sections if h.lower() == "description"), summary)
        parts.append(rst_to_markdown(description) + "\n")
    glance, _ = _glance(entry)
    parts += ["## At a glance\n", glance,
              "## How much memory it takes\n", _returns_section(entry.id),
              "## Arguments\n", f"`gym.make(\"{entry.id}\", **kwargs)` and "
              f"`gym.make_vec(\"{entry.id}\", num_envs=N, **kwargs)` accept:\n", _arguments_table(obj, entry.kwargs),
              "## Throughput\n", _throughput_section(entry.id)]
    parts.append("## Specification\n")
    parts.append(f"From the docstring of `{obj.__module__}.{obj.__qualname__}`.\n")
    if summary:
        parts.append(rst_to_markdown(summary) + "\n")
    for heading, body in sections:
        parts.append(f"### {rst_to_markdown(heading)}\n")
        parts.append(rst_to_markdown(body) + "\n")
    if notes and handwritten is not None:
        owner = first_with_page.get(handwritten.relative_to(DOCS).as_posix())
        parts.append("## Notes\n")
        if owner == name:
            parts.append(demote_headings(notes) + "\n")
        else:
            parts.append(f"The notes shared by this family of ids are on [{owner}]({owner}.md).\n")
    return "\n".join(parts)


# ----------------------------------------------------------------------------------------------- baselines
def _families() -> dict[str, list[str]]:
    from memenvs.baselines.hyperparams import env_family

    families: dict[str, list[str]] = {}
    for entry in _entries():
        families.setdefault(env_family(entry.id), []).append(entry.id)
    return families


def _flatten(prefix: str, value: Any, out: dict[str, Any]) -> None:
    if isinstance(value, dict) and value:
        for key, sub in value.items():
            _flatten(f"{prefix}.{key}" if prefix else key, sub, out)
    else:
        out[prefix] = value


def _record_params(record: Any) -> dict[str, Any]:
    flat: dict[str, Any] = {"algorithm": record.algorithm, "policy": record.policy}
    _flatten("policy_kwargs", record.policy_kwargs, flat)
    _flatten("algo_kwargs", record.algo_kwargs, flat)
    for name, kwargs in record.wrappers:
        _flatten(f"wrappers.{name}", kwargs or {"": "on"}, flat) if kwargs else flat.__setitem__(f"wrappers.{name}",
                                                                                                 "on")
    return flat


def hyperparameter_table(name: str) -> str:
    from memenvs.baselines.hyperparams import BASELINES, resolve

    families = _families()
    generic = _record_params(BASELINES[name])
    columns = {family: _record_params(resolve(name, ids[0])) for family, ids in families.items()}
    keys = list(generic)
    for flat in columns.values():
        keys += [k for k in flat if k not in keys]
    header = ["parameter", "generic default", *[f"{f}" for f in columns]]
    rows = []
    for key in keys:
        base = generic.get(key, "–")
        cells = []
        for flat in columns.values():
            value = flat.get(key, "–")
            text = _fmt(value) if value != "–" else "–"
            cells.append(f"**{text}**" if value != base else "·")
        rows.append((_code(key), _fmt(base) if base != "–" else "–", *cells))
    legend = ("Resolved with `memenvs.baselines.hyperparams.resolve(name, env_id)` per env family; `·` = the "
              "generic default, **bold** = the family's override, `–` = not set. Families: " +
              "; ".join(f"`{f}`: " + ", ".join(f"`{i}`" for i in ids) for f, ids in families.items()) + ".\n")
    return _table(header, rows) + "\n" + legend


def _diagram(name: str) -> str:
    from memenvs.baselines.hyperparams import BASELINES

    record = BASELINES[name]
    kwargs = record.policy_kwargs
    stages = ["observation"]
    stages += [f"{w} wrapper ({', '.join(f'{k}={v}' for k, v in kw.items()) or 'on'})" for w, kw in record.wrappers]
    features = kwargs.get("features_extractor_class", "flatten")
    stages.append(f"features: {features}")
    if record.policy == "memory":
        core = kwargs.get("core", "lstm")
        extra = kwargs.get("core_kwargs", {})
        stages.append(f"memory core: {core} (hidden {kwargs.get('lstm_hidden_size')}"
                      + (", " + ", ".join(f"{k}={v}" for k, v in extra.items()) if extra else "") + ")")
    stages.append(f"MLP {kwargs.get('net_arch', '[64, 64]')}")
    stages.append("linear heads: policy logits, value")
    body = "\n".join(("    " if i else "") + ("↓  " if i else "") + s for i, s in enumerate(stages))
    return f"Generic defaults (families override sizes; table below):\n\n```text\n{body}\n```\n"


def results_rows(name: str) -> str:
    """Table rows of the committed results pages whose first cell names the baseline, under their header."""
    folder = DOCS / RESULTS
    needles = {_squash(name), _squash({"framestack": "frame stack"}.get(name, name))}
    blocks = []
    for path in sorted(folder.rglob("*.md")) if folder.is_dir() else []:
        lines = path.read_text(encoding="utf-8").splitlines()
        title = _title_line(path)[2:] or path.stem
        i = 0
        while i < len(lines):
            if lines[i].startswith("|") and i + 1 < len(lines) and re.match(r"^\|[\s:|-]+\|\s*$", lines[i + 1]):
                header, sep, j, hits = lines[i], lines[i + 1], i + 2, []
                while j < len(lines) and lines[j].startswith("|"):
                    first = re.sub(r"[`*]", "", lines[j].strip("|").split("|")[0]).strip()
                    if any(_squash(first.split(" ")[0]).startswith(n) or _squash(first).startswith(n)
                           for n in needles):
                        hits.append(lines[j])
                    j += 1
                if hits:
                    link = path.relative_to(DOCS).as_posix()
                    blocks.append(f"From [{title}](/{link}):\n\n" + "\n".join([header, sep, *hits]))
                i = j
            else:
                i += 1
    if not blocks:
        return "No committed results mention this baseline yet; see [Results](/results.md).\n"
    return "\n\n".join(blocks) + "\n"


def baseline_page(name: str, record: Any, targets: dict[str, str]) -> str:
    handwritten = handwritten_baseline_page(name)
    parts = [f"# `{name}`\n", f"{record.summary}.\n"]
    if handwritten is not None:
        intro, rest = split_handwritten(handwritten, targets)
        parts.append("\n\n".join(p for p in (intro, rest) if p) + "\n")
    policy = ("`MemoryActorCriticPolicy` (a memory core inside sb3-contrib's `RecurrentPPO`)"
              if record.policy == "memory" else f"`{record.policy}`")
    parts += ["## Data flow\n", _diagram(name),
              "## Usage\n",
              f"`make_model(\"{name}\", env_id)` builds `{record.algorithm}` with policy {policy}"
              " on the batched VecEnv of `memenvs.sb3.make_vec_env`; `evaluate(model)` replays the same observation "
              "pipeline. See [the baselines overview](/baseline/index.md).\n",
              "```python\nfrom memenvs.baselines import make_model, evaluate\n\n"
              f"model = make_model(\"{name}\", \"memenvs/TMaze-v0\", seed=0, n_envs=16)\n"
              "model.learn(24_000)\nprint(evaluate(model, n_episodes=200))\n```\n",
              "## Default hyperparameters\n", hyperparameter_table(name),
              "## Results\n", results_rows(name)]
    return "\n".join(parts)


def baseline_index(targets: dict[str, str], extra: list[str] = ()) -> str:
    baselines = _baselines()
    parts = ["# Baselines\n"]
    index = DOCS / HANDWRITTEN_BASELINES / "index.md"
    if index.exists():
        intro, rest = split_handwritten(index, targets)
        parts.append("\n\n".join(p for p in (intro, rest) if p) + "\n")
    parts.append("## Every baseline\n")
    parts.append(_table(["baseline", "algorithm", "policy", "summary"],
                        [(f"[`{n}`]({n}.md)", b.algorithm, _code(b.policy), b.summary) for n, b in baselines.items()]))
    pages = [f"{n}" for n in baselines] + list(extra)
    extra = [f"/{p[:-3]}" for p in STANDALONE if (DOCS / p).exists()]
    parts.append("```{toctree}\n:hidden:\n\n" + "\n".join(pages + extra) + "\n```\n")
    return "\n".join(parts)


# ----------------------------------------------------------------------------------------------- indexes, fragments
def env_table() -> str:
    rows = []
    perf = performance()
    rows_by = _rows_by(perf) if perf else {}
    for entry in _entries():
        try:
            opt, mem, _ = _returns(entry.id, {})
        except Exception:  # noqa: BLE001
            opt = mem = "n/a"
        native = rows_by.get((entry.id, "native_vector", 1024))
        single = rows_by.get((entry.id, "single", 1))
        rows.append((f"[{entry.id.split('/')[-1]}](/{ENV_DIR}/{page_name(entry.id)}.md)", entry.summary,
                     _short(opt), _short(mem),
                     _rate(native["env_steps_per_s"]) if _measured(native) else "–",
                     _rate(single["env_steps_per_s"]) if _measured(single) else "–"))
    return _table(["env", "what it asks", "optimal return", "best memoryless", "vector steps/s", "single steps/s"],
                  rows) + ("\nReturns of the default configuration; – : no closed form (the env page gives Monte-Carlo "
                           "figures) or not offered. Steps/s: native vector env at 1,024 copies and single env, from "
                           "the committed benchmark.\n")


def _short(value: Any) -> str:
    return "–" if value is None or isinstance(value, str) else f"{float(value):.4g}"


def env_index(entries: list[Any], extra: list[str] = ()) -> str:
    gallery = []
    for entry in entries:
        name = page_name(entry.id)
        if gif_path(entry.id).exists():
            gallery.append(f"[![{name}](/{GALLERY}/{gif_path(entry.id).name})](/{ENV_DIR}/{name}.md)")
    return "\n".join([
        "# Environments\n",
        "Every registered id, with the numbers that make its memory demand a checked claim: the best return with "
        "memory and the best without, both computed by the env itself. Throughput: native vector env at 1,024 "
        "copies and single env through `gym.make`, from the committed benchmark "
        "([Performance](/performance.md)).\n",
        env_table(),
        "```{only} html\n" + " ".join(gallery) + "\n```\n" if gallery else "",
        "```{toctree}\n:hidden:\n\n" + "\n".join([*(page_name(e.id) for e in entries), *extra]) + "\n```\n",
    ])


def performance_fragment() -> str:
    perf = performance()
    if perf is None:
        return (f"No committed measurement: run `python benchmarks/performance_page.py` to write "
                f"`{PERFORMANCE_JSON}`.\n")
    rows_by = _rows_by(perf)
    s = perf["settings"]
    ref_id = perf["reference_id"]
    ours = [e.id for e in _entries()]
    peers = sorted({r["env_id"] for r in perf["results"]} - set(ours) - {ref_id})

    def label(env_id: str) -> str:
        if env_id == ref_id:
            return f"{env_id} (ref)"
        if env_id in ours:  # without its namespace, which keeps the tables inside the page's column
            return f"[{env_id.split('/')[-1]}](/{ENV_DIR}/{page_name(env_id)}.md)"
        return env_id  # a peer: its package's namespace stays

    def cells(env_id: str, mode: str, n: int) -> tuple[str, str]:
        r = rows_by.get((env_id, mode, n))
        if not _measured(r):
            return "–", "–"
        return _rate(r["env_steps_per_s"]), ("reference" if "reference" not in r else _ratio(r))

    machine = ", ".join(f"{k} {v}" for k, v in perf["machine"].items())
    load = perf.get("load_average", {})
    loads = "; ".join(f"{when.replace('_', ' ')}: {' '.join(f'{x:.2f}' for x in values)}"
                      for when, values in load.items())
    text = [
        f"Command: `{perf['command']}` (started {perf['started']}). Machine: {machine}. Load average (1, 5, 15 "
        f"min) {loads}. This run was made on a machine shared with other processes, so the absolute figures move "
        "with their load; the ratios, each to a reference measured in the same round, are what to compare, and "
        "their min–max shows how far the load moved them.\n",
        f"Env-steps per second, median over {s['rounds']} interleaved rounds of {s['seconds']} s of uniform random "
        "actions per case (pregenerated; episodes reset as they end). Ratio: median [min–max] over the rounds of "
        "the case divided by its reference in the same round (ref: the reference itself). Env names without a "
        "namespace are the `memenvs/` ids; the others are peers.\n",
        "### Single env and Gymnasium's sync vector env\n",
        f"Reference: Gymnasium's `{ref_id}` through `gym.make`, and its `SyncVectorEnv` of {s['sync_envs']} copies.\n",
        _table(["env", "single", "÷ CartPole-v1", f"sync ({s['sync_envs']})", "÷ CartPole's"],
               [(label(e), *cells(e, "single", 1), *cells(e, "sync_vector", s["sync_envs"]))
                for e in [ref_id, *ours, *peers] if (e, "single", 1) in rows_by or
                (e, "sync_vector", s["sync_envs"]) in rows_by]),
        "### Native vector env, by number of copies\n",
        "Ratio to Gymnasium's `CartPoleVectorEnv` at the same number of copies; scaling: the median env-steps/s at "
        f"{max(s['num_envs']):,} copies over that at 1,024. The env-steps/s themselves follow the ratios.\n",
    ]
    envs_native = [e for e in [ref_id, *ours, *peers] if any((e, "native_vector", n) in rows_by for n in s["num_envs"])]
    native_rows = []
    for e in envs_native:
        big, mid = rows_by.get((e, "native_vector", max(s["num_envs"]))), rows_by.get((e, "native_vector", 1024))
        native_rows.append([label(e), *(cells(e, "native_vector", n)[1] for n in s["num_envs"]),
                            f"{big['env_steps_per_s'] / mid['env_steps_per_s']:.2f}x"
                            if _measured(big) and _measured(mid) else "–"])
    text.append(_table(["env", *(f"{n:,} copies" for n in s["num_envs"]), "scaling"], native_rows))
    text.append(_table(["env-steps/s", *(f"{n:,} copies" for n in s["num_envs"])],
                       [[label(e), *(cells(e, "native_vector", n)[0] for n in s["num_envs"])] for e in envs_native]))
    text.append("### SB3 adapter\n")
    text.append("`memenvs.sb3.make_vec_env` as SB3 trains on it (finished copies reset in the same step, SB3's "
                "per-copy infos, the episode monitor): ratio to the same id's native vector env at the same copies "
                "(ids without one: to their `SyncVectorEnv` row). The per-copy infos are made when SB3 reads them; "
                "SB3's own loop over every copy's info in each training step is SB3's cost, not counted here.\n")
    sb3_heads = ["env"] + [f"{n:,} copies" for n in s["num_envs"]]
    sb3_rows = []
    for e in ours:
        if any((e, "sb3_adapter", n) in rows_by for n in s["num_envs"]):
            sb3_rows.append([label(e)] + [cells(e, "sb3_adapter", n)[1] for n in s["num_envs"]])
    text.append(_table(sb3_heads, sb3_rows))
    sync_sb3 = [(label(e), *cells(e, "sb3_adapter", s["sync_envs"])) for e in ours
                if (e, "sb3_adapter", s["sync_envs"]) in rows_by and not any(
                    (e, "sb3_adapter", n) in rows_by for n in s["num_envs"])]
    if sync_sb3:
        text.append(_table(["env", f"{s['sync_envs']} copies (sync)", "vs its `SyncVectorEnv`"], sync_sb3))
    skipped = [r for r in perf["results"] if "skipped" in r]
    if skipped:
        text.append("Skipped: " + "; ".join(f"`{r['env_id']}` {r['mode']} ({r['skipped']})" for r in skipped) + "\n")
    text.append("### Training speed of the recurrent baseline\n")
    train = perf.get("training")
    if train:
        spread = train.get("round_ratios") or []
        ratio = (f"**{train['ratio']:.1f}x** (per round {min(spread):.1f}–{max(spread):.1f}x)" if spread
                 else f"**{train['ratio']:.1f}x**")
        text.append(
            f"`{train['command']}`: the memenvs `lstm` baseline (`make_model(\"lstm\", ...)`) against sb3-contrib's "
            "`RecurrentPPO` with `MlpLstmPolicy`, same PPO settings, recurrent width and seed, interleaved rounds. "
            "Settings: "
            f"{train.get('settings') or 'see the command'}; torch on the CPU with 1 thread. The speed-up (whole "
            "sequences through the LSTM instead of upstream's per-timestep loop in every minibatch) is measured at "
            "these settings only; other settings give other ratios ([training throughput]"
            "(/results/training_throughput.md) has 64 and 256 copies), so measure yours by rerunning the command "
            "with them.\n\n" +
            _table(["policy", "training env-steps/s (median)", "per round"],
                   [("sb3-contrib `MlpLstmPolicy`", f"{train['sb3_contrib']:.0f}",
                     ", ".join(f"{x:.0f}" for x in train.get("rounds", {}).get("sb3-contrib MlpLstmPolicy", []))),
                    ("memenvs `lstm` baseline", f"{train['memenvs']:.0f}",
                     ", ".join(f"{x:.0f}" for x in train.get("rounds", {}).get("memenvs LSTM policy", []))),
                    ("**ratio**", ratio, "")]) +
            f"\n{train['machine']}.\n")
    else:
        text.append("Not in the committed run (it was made with `--no-train`).\n")
    return "\n".join(text)


# A command quoted inline (`python -m ...`) or on its own line of a code block.
_COMMAND = re.compile(
    r"`((?:python|memenvs|pytest)\s[^`]+)`"  # an inline command
    r"|^[ \t]*((?:python|memenvs)\s(?:[^\n#\\]|\\\n)+?)[ \t]*(?:#.*)?$",  # a command line, with \ continuations
    re.M,
)


def _command_text(match: re.Match) -> str:
    """The command of a match on one line: continuation backslashes and the indentation after them removed."""
    return re.sub(r"\s*\\\n\s*", " ", match.group(1) or match.group(2)).strip()


def _recorded_command(path: Path) -> str:
    """The ``command`` recorded beside a result: in the JSON of the same name, else in the ``config.json`` of its
    folder (``memenvs compare`` writes one with the fully expanded command)."""
    for sidecar in (path.with_suffix(".json"), path.parent / "config.json"):
        if sidecar == path or not sidecar.exists():
            continue
        try:
            data = json.loads(sidecar.read_text(encoding="utf-8"))
        except ValueError:
            continue
        if isinstance(data, dict) and isinstance(data.get("command"), str):
            return data["command"]
    return ""


def _figure_command(figure: Path) -> str:
    """The command that produced a committed figure: recorded beside it (:func:`_recorded_command`), else the
    command quoted nearest after (or before) a link to this very file in a hand-written page."""
    recorded = _recorded_command(figure)
    if recorded:
        return recorded
    for path in sorted(DOCS.glob("**/*.md")):
        if any(part.startswith("_") for part in path.relative_to(DOCS).parts) or ENV_DIR in path.parts:
            continue
        text = path.read_text(encoding="utf-8")
        links = [m for m in _LINK.finditer(text) if (path.parent / m.group(2)).resolve() == figure.resolve()]
        if not links:
            continue
        at = links[0].end()
        after = _COMMAND.search(text, at)
        if after:
            return _command_text(after)
        before = list(_COMMAND.finditer(text[:at]))
        if before:
            return _command_text(before[-1])
    return ""


def results_fragment() -> str:
    folder = DOCS / RESULTS
    if not folder.is_dir():
        return "No committed results yet.\n"
    pages = sorted(folder.rglob("*.md"))
    parts = ["## Tables and write-ups\n"]
    rows = []
    for path in pages:
        quoted = _COMMAND.search(path.read_text(encoding="utf-8"))
        command = _command_text(quoted) if quoted else _recorded_command(path)
        rel = path.relative_to(DOCS).as_posix()
        rows.append((f"[{_title_line(path)[2:] or path.stem}](/{rel})",
                     _code(command) if command else "not stated on the page"))
    parts.append(_table(["page", "command (the first one the page quotes, else the one recorded beside it)"], rows))
    figures = sorted(p for p in folder.rglob("*") if p.suffix in (".png", ".svg", ".jpg"))
    if figures:
        parts.append("## Figures\n")
    for figure in figures:
        command = _figure_command(figure)
        rel = figure.relative_to(DOCS).as_posix()
        parts.append(f"### {figure.relative_to(folder).with_suffix('').as_posix().replace('_', ' ')}\n")
        parts.append(f"![{figure.stem}](/{rel})\n")
        parts.append(f"Produced by `{command}`.\n" if command else "The command is not recorded next to it.\n")
    perf = performance()
    if perf is not None:
        parts.append("## Throughput\n")
        parts.append(f"`{PERFORMANCE_JSON}`, produced by `{perf['command']}`, is shown on "
                     "[Performance](/performance.md).\n")
    if pages:
        parts.append("```{toctree}\n:hidden:\n\n" + "\n".join(
            "/" + p.relative_to(DOCS).with_suffix("").as_posix() for p in pages) + "\n```\n")
    return "\n".join(parts)


def tutorial_fragment() -> str:
    page = DOCS / "baselines" / "compare.md"
    if page.exists():
        return "```{toctree}\n:maxdepth: 2\n\n/baselines/compare\n```\n"
    return ("The `memenvs compare` tutorial is not written yet; until then, "
            "`memenvs compare --help` describes the command that trains several baselines over seeds "
            "(see [Baselines](/baseline/index.md)).\n")


API_PACKAGES = ("memenvs", "memenvs.baselines")
API_SKIP = ("__main__",)


def api_modules() -> list[str]:
    """Every module of the package and of ``memenvs.baselines``, found by walking them (a new module appears in the
    API reference without an edit)."""
    import pkgutil

    names: list[str] = []
    for package in API_PACKAGES:
        module = importlib.import_module(package)
        names.append(package)
        for info in pkgutil.walk_packages(module.__path__, prefix=package + "."):
            if info.name.split(".")[-1] in API_SKIP or info.name.startswith("memenvs.baselines.") and \
                    package == "memenvs" or info.name in names:
                continue
            names.append(info.name)
    return names


def api_fragment() -> str:
    parts = []
    for name in api_modules():
        module = importlib.import_module(name)
        is_package = hasattr(module, "__path__")
        parts.append(f"## `{name}`\n")
        parts.append("```{eval-rst}\n" + f".. automodule:: {name}\n" + ("   :no-members:\n" if is_package else "")
                     + "```\n")
    return "\n".join(parts)


# ----------------------------------------------------------------------------------------------- writing
def _write(path: Path, text: str) -> None:
    """Write only when the text changed, so Sphinx rebuilds only what changed."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists() or path.read_text(encoding="utf-8") != text:
        # Atomic replace: two builds at once (parallel test workers) must never read a half-written page.
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)


def _ignored_dir(path: Path) -> None:
    """A generated directory that git ignores whole (the way a virtualenv does)."""
    path.mkdir(parents=True, exist_ok=True)
    _write(path / ".gitignore", "# generated by docs/_ext/memenvs_docs.py at every build\n*\n")


def _clear_stale(path: Path, keep: set[str]) -> None:
    for old in path.glob("*.md"):
        if old.name not in keep:
            old.unlink()


def generate(docs: Path = DOCS) -> list[Path]:
    """Write every generated page and fragment; returns the pages written."""
    entries = _entries()
    targets = link_targets()
    first_with_page: dict[str, str] = {}
    for entry in entries:
        page = handwritten_env_page(entry.id)
        if page is not None:
            first_with_page.setdefault(page.relative_to(DOCS).as_posix(), page_name(entry.id))
    written: list[Path] = []
    env_dir, baseline_dir, fragments = docs / ENV_DIR, docs / BASELINE_DIR, docs / FRAGMENTS
    for folder in (env_dir, baseline_dir, fragments):
        _ignored_dir(folder)
    for entry in entries:
        path = env_dir / f"{page_name(entry.id)}.md"
        _write(path, env_page(entry, targets, first_with_page))
        written.append(path)
    orphans = orphan_pages(_claimed_targets())
    for source, doc in orphans.items():
        path = docs / doc.lstrip("/")
        _write(path, rewrite_links((DOCS / source).read_text(encoding="utf-8"), source, targets))
        written.append(path)
    extra_envs = [posixpath.basename(d)[:-3] for d in orphans.values() if d.startswith(f"/{ENV_DIR}/")]
    extra_baselines = [posixpath.basename(d)[:-3] for d in orphans.values() if d.startswith(f"/{BASELINE_DIR}/")]
    _write(env_dir / "index.md", env_index(entries, extra_envs))
    _clear_stale(env_dir, {p.name for p in written} | {"index.md"})
    baselines = _baselines()
    for name, record in baselines.items():
        path = baseline_dir / f"{name}.md"
        _write(path, baseline_page(name, record, targets))
        written.append(path)
    _write(baseline_dir / "index.md", baseline_index(targets, extra_baselines))
    _clear_stale(baseline_dir, {f"{n}.md" for n in baselines} | {f"{n}.md" for n in extra_baselines} | {"index.md"})
    _write(fragments / "env_table.md", env_table())
    _write(fragments / "performance.md", performance_fragment())
    _write(fragments / "results.md", results_fragment())
    _write(fragments / "tutorial.md", tutorial_fragment())
    _write(fragments / "api.md", api_fragment())
    return written


# ----------------------------------------------------------------------------------------------- Sphinx hooks
def _on_builder_inited(app: Any) -> None:
    generate(Path(app.srcdir))


def _on_source_read(app: Any, docname: str, source: list[str]) -> None:
    if docname.startswith((ENV_DIR + "/", BASELINE_DIR + "/")):
        return
    source[0] = rewrite_links(source[0], docname + ".md", link_targets())


_LITERAL = re.compile(r"(``.+?``)")


def _tolerant_line(line: str) -> str:
    """Markdown habits that reST rejects, fixed in one docstring line: an inline literal glued to a word
    (a literal followed by "s"), and a bar pair read as a substitution reference (escaped outside literals)."""
    if line.lstrip().startswith(("|", "+")):
        return line
    pieces = _LITERAL.split(line)  # text, literal, text, literal, ..., text
    for k in range(0, len(pieces), 2):
        pieces[k] = pieces[k].replace("|", "\\|")
    # Glue is judged per literal from its neighbouring text, never by a regex over the joined line, which would
    # read the text between two literals (``a`` is ``b``) as one more literal.
    for k in range(1, len(pieces), 2):
        if re.search(r"\w$", pieces[k - 1]):
            pieces[k - 1] += "\\ "
        if re.match(r"\w", pieces[k + 1]):
            pieces[k + 1] = "\\ " + pieces[k + 1]
    return "".join(pieces)


def _on_docstring(app: Any, what: str, name: str, obj: Any, options: Any, lines: list[str]) -> None:
    """Make Gymnasium-style docstrings valid reST for the API reference: ``## Heading`` lines become rubrics, a
    bullet list followed directly by a paragraph gets the blank line reST needs, and the inline fixes above."""
    out: list[str] = []
    in_list = False
    for line in lines:
        match = re.match(r"##\s+(.*)", line)
        if match:
            out += ["", f".. rubric:: {match.group(1)}", ""]
            in_list = False
            continue
        stripped = line.lstrip()
        is_item = bool(re.match(r"[*-] ", stripped)) and line == stripped
        if in_list and line.strip() and line == stripped and not is_item:
            out.append("")  # a paragraph right after a list item
        if not line.strip():
            in_list = False
        elif is_item:
            in_list = True
        out.append(_tolerant_line(line))
    lines[:] = out


def setup(app: Any) -> dict[str, Any]:
    app.connect("builder-inited", _on_builder_inited)
    app.connect("source-read", _on_source_read)
    app.connect("autodoc-process-docstring", _on_docstring)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}


def env_pages() -> dict[str, Path]:
    """``env_id -> generated page path`` (the path the build writes)."""
    return {e.id: DOCS / ENV_DIR / f"{page_name(e.id)}.md" for e in _entries()}
