import os
import shutil
import sys
import tempfile

import pytest

os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
os.environ.setdefault("SDL_AUDIODRIVER", "dummy")
os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")
os.environ.setdefault("MPLBACKEND", "Agg")

# SB3 writes a logger folder (SB3-<date>) under the temp dir for every model that logs nowhere else; one folder per
# test session, removed at its end (sessionfinish below), keeps them from piling up in /tmp.
_SB3_LOGDIR = None
if "SB3_LOGDIR" not in os.environ:
    _SB3_LOGDIR = os.environ["SB3_LOGDIR"] = tempfile.mkdtemp(prefix="memenvs-tests-sb3-")


def pytest_sessionfinish(session, exitstatus):
    if _SB3_LOGDIR is not None and not hasattr(session.config, "workerinput"):  # the controller, not an xdist worker
        shutil.rmtree(_SB3_LOGDIR, ignore_errors=True)


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
