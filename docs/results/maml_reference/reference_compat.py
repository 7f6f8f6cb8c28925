"""Make a checkout of tristandeleu/pytorch-maml-rl (2020) importable on today's NumPy and PyTorch.

Two names it uses are gone: NumPy 2 removed the alias ``np.float_`` (its vector env's reward buffer) and PyTorch
removed ``torch.lstsq`` (its linear baseline's solver, ``lstsq(B, A)`` for ``A X = B``). Both are put back as their
replacements, and the checkout goes first on ``sys.path``. Used by ``run_reference.py`` and ``one_step_check.py``.
"""

from __future__ import annotations

import sys


def use_reference(repo: str) -> None:
    import numpy as np
    import torch

    np.float_ = np.float64
    torch.lstsq = lambda b, a: (torch.linalg.lstsq(a, b).solution, None)
    sys.path.insert(0, repo)
