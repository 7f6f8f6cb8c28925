import os
import sys

import pytest

os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
os.environ.setdefault("SDL_AUDIODRIVER", "dummy")
os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")
os.environ.setdefault("MPLBACKEND", "Agg")

# Let test modules import the shared contract checks as `contract`.
sys.path.insert(0, os.path.dirname(__file__))


@pytest.fixture
def torch_one_thread():
    """One torch thread for the test: the same summation order on every run (the learning checks promise the
    same numbers), and no contention with the other xdist worker."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
