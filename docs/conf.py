"""Sphinx configuration of the memenvs docs (furo theme, MyST Markdown, autodoc).

Build: ``python -m sphinx -W --keep-going -b html docs docs/_build/html`` from the repository root.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
sys.path.insert(0, str(DOCS / "_ext"))
os.environ.setdefault("SDL_VIDEODRIVER", "dummy")  # envs are constructed to read their spaces; never open a window
os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")

import memenvs  # noqa: E402

project = "memenvs"
author = "memenvs developers"
copyright = "memenvs developers"
release = version = memenvs.__version__

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinx.ext.viewcode",
    "memenvs_docs",
]
source_suffix = {".md": "markdown", ".rst": "restructuredtext"}
root_doc = "index"
# Hand-written env and baseline pages are inlined into the generated pages (memenvs_docs), not built on their own;
# the compare tutorial under baselines/ stays a page. Generated fragments are includes, not documents.
_STANDALONE = {"baselines/compare.md"}
exclude_patterns = [
    "_build", "_generated", "_scripts", "_ext", "README.md", "envs/*.md",
    *sorted(p.relative_to(DOCS).as_posix() for p in (DOCS / "baselines").glob("*.md")
            if p.relative_to(DOCS).as_posix() not in _STANDALONE),
]

myst_enable_extensions = ["colon_fence", "deflist"]
myst_heading_anchors = 3

autodoc_default_options = {"members": True, "show-inheritance": True}
autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_class_signature = "separated"
# Inherited docstrings are Gymnasium's and SB3's own (and their reST style); document what memenvs writes.
autodoc_inherit_docstrings = False
napoleon_google_docstring = True
napoleon_numpy_docstring = False

html_theme = "furo"
html_title = f"memenvs {release}"
html_static_path = ["_static"]
html_theme_options = {"source_repository": "", "navigation_with_keys": True}
suppress_warnings: list[str] = []
nitpicky = False
