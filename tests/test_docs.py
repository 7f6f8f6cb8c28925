"""The documentation site: every registered id has a page and a GIF, every baseline has a page, and the site builds
with warnings as errors (``python -m sphinx -W``, the command in the README)."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

import memenvs

DOCS = Path(__file__).resolve().parents[1] / "docs"
sys.path.insert(0, str(DOCS / "_ext"))

import memenvs_docs  # noqa: E402  (the docs' Sphinx extension, importable without Sphinx)

HAS_SPHINX = all(importlib.util.find_spec(m) is not None for m in ("sphinx", "furo", "myst_parser"))


def test_page_names_match_the_existing_gallery_and_pages() -> None:
    assert memenvs_docs.page_name("memenvs/TMaze-v0") == "tmaze"
    assert memenvs_docs.page_name("memenvs/BlindMaze4x4-v0") == "blind_maze4x4"
    assert memenvs_docs.page_name("memenvs/FlickeringPong-v0") == "flickering_pong"
    assert memenvs_docs.page_name("memenvs/MiniWarehouse-v0") == "mini_warehouse"


@pytest.mark.parametrize("env_id", [e.id for e in memenvs.ENVS])
def test_every_registered_id_has_a_gif(env_id: str) -> None:
    gif = memenvs_docs.gif_path(env_id)
    assert gif.exists(), f"make it with: memenvs render {env_id} --out {gif.relative_to(DOCS.parent)}"
    assert gif.read_bytes()[:6] in (b"GIF87a", b"GIF89a")


def test_every_registered_id_and_baseline_gets_a_page(tmp_path: Path) -> None:
    """The generator writes one page per id and per baseline, each with the computed sections."""
    pytest.importorskip("torch")  # the baseline table lives in memenvs.baselines
    from memenvs.baselines.hyperparams import BASELINES

    memenvs_docs.generate(DOCS)
    for entry in memenvs.ENVS:
        page = DOCS / memenvs_docs.ENV_DIR / f"{memenvs_docs.page_name(entry.id)}.md"
        text = page.read_text(encoding="utf-8")
        assert f"`{entry.id}`" in text
        for section in ("## At a glance", "## How much memory it takes", "## Arguments", "## Throughput",
                        "## Specification"):
            assert section in text, (entry.id, section)
    for name in BASELINES:
        text = (DOCS / memenvs_docs.BASELINE_DIR / f"{name}.md").read_text(encoding="utf-8")
        assert text.startswith(f"# `{name}`")
        assert "## Default hyperparameters" in text


def test_env_page_numbers_come_from_the_env() -> None:
    """The returns table holds what the env computes, for the default and the example configurations."""
    import gymnasium as gym

    section = memenvs_docs._returns_section("memenvs/TMaze-v0")
    env = gym.make("memenvs/TMaze-v0", variant="passive", length=1000).unwrapped
    assert f"| `length=1000`, `variant='passive'` | {env.optimal_return():.4g} | {env.memoryless_return():.4g} |" \
        in section
    assert "| default | 4 | 1.95 | 2.05 | 44 |" in section


def test_argument_ranges_are_read_from_validation() -> None:
    from memenvs.envs.tmaze import TMazeEnv

    table = memenvs_docs._arguments_table(TMazeEnv, {})
    assert "| `length` | `10` | an integer >= 1 |" in table
    assert "one of 'bakker', 'bakker_active', 'passive', 'active'" in table


def test_links_to_inlined_pages_are_rewritten() -> None:
    targets = {"envs/maze4x4.md": "/environments/maze4x4.md"}
    text = "[Maze4x4](maze4x4.md) and ![x](../gallery/tmaze.gif) and [web](https://x.org/a.md)"
    out = memenvs_docs.rewrite_links(text, "envs/blind_maze4x4.md", targets)
    assert out == "[Maze4x4](/environments/maze4x4.md) and ![x](/gallery/tmaze.gif) and [web](https://x.org/a.md)"


@pytest.mark.skipif(not HAS_SPHINX, reason="sphinx, furo and myst-parser are in the test extra")
def test_site_builds_with_warnings_as_errors(tmp_path: Path) -> None:
    """The README's docs command; about a minute on 2 cores. Builds into a temporary directory."""
    result = subprocess.run(
        [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-b", "html", "-d", str(tmp_path / "doctrees"),
         str(DOCS), str(tmp_path / "html")],
        capture_output=True, text=True, timeout=900,
    )
    assert result.returncode == 0, result.stderr[-5000:]
    html = tmp_path / "html"
    for entry in memenvs.ENVS:
        assert (html / memenvs_docs.ENV_DIR / f"{memenvs_docs.page_name(entry.id)}.html").exists(), entry.id
    for page in ("index", "getting_started", "tutorial", "results", "performance", "api", "baseline/index"):
        assert (html / f"{page}.html").exists(), page


def test_no_page_or_docstring_cites_a_file_outside_the_repository() -> None:
    """Pages and docstrings state their facts with the paper or repository they come from; the project's internal
    specification is not shipped, so a reader could not follow a reference to it."""
    root = DOCS.parent
    files = [*DOCS.rglob("*.md"), *(root / "memenvs").rglob("*.py"), *(root / "baselines").rglob("*.py"),
             root / "README.md"]
    offenders = [str(f.relative_to(root)) for f in files if "DESIGN" in f.read_text(encoding="utf-8")]
    assert offenders == []


def test_results_page_names_the_recorded_command_under_each_figure() -> None:
    """Under a figure of a ``memenvs compare`` folder, the command recorded in that folder's ``config.json``, whole
    (a command quoted over several lines is joined, not cut at its first backslash)."""
    import json

    text = memenvs_docs.results_fragment()
    for folder in ("compare_default", "tmaze_length_sweep"):
        command = json.loads((DOCS / "results" / folder / "config.json").read_text())["command"]
        block = text.split(f"### {folder.replace('_', ' ')}/curves")[1].split("###")[0]
        assert f"Produced by `{command}`." in block
    assert "\\`" not in text
    assert "not stated on the page" not in text and "is not recorded" not in text  # every result names its command


def test_command_lines_with_continuations_are_joined() -> None:
    text = "Run\n\n```bash\nmemenvs compare --envs a \\\n    --seeds 0 1  # two seeds\n```\n"
    match = memenvs_docs._COMMAND.search(text)
    assert memenvs_docs._command_text(match) == "memenvs compare --envs a --seeds 0 1"


def test_performance_table_fits_a_page_column() -> None:
    """Each row of the throughput table, as a reader sees it (link targets and backticks do not show), is short
    enough for the theme's content column instead of running past it."""
    import re

    text = memenvs_docs.performance_fragment()
    rows = [line for line in text.splitlines() if line.startswith("| ")]
    assert len(rows) > 3
    visible = [re.sub(r"\]\([^)]*\)|[`\[]", "", row) for row in rows]
    assert max(len(row) for row in visible) <= 100, max(visible, key=len)


@pytest.mark.parametrize("line,expected", [
    ("``success_rate`` is ``nan`` when", "``success_rate`` is ``nan`` when"),  # EvalResult's docstring
    ("the caller's ``env_id``/``env_kwargs`` where", "the caller's ``env_id``/``env_kwargs`` where"),
    ("two ``Box``es", "two ``Box``\\ es"),
    ("a|b and ``x|y``", "a\\|b and ``x|y``"),
])
def test_docstring_lines_become_valid_rest_without_touching_text_between_literals(line, expected) -> None:
    assert memenvs_docs._tolerant_line(line) == expected
