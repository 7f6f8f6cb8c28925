"""The shared pieces of memenvs/envs/core.py that the cores build on."""

import numpy as np

from memenvs.envs.core import PerCopyTable


def test_per_copy_table_serves_every_batch_size_from_one_array():
    built = []

    def offsets(n: int) -> np.ndarray:
        built.append(n)
        return np.arange(n) * 7

    table = PerCopyTable(offsets)
    assert table(4).tolist() == [0, 7, 14, 21]
    for n in (3, 1, 4, 2, 0):  # the vector env also asks for the few copies it resets, a new number each step
        assert table(n).tolist() == (np.arange(n) * 7).tolist()
    assert built == [0, 4]  # nothing rebuilt, nothing kept per size
    assert table(6).tolist() == (np.arange(6) * 7).tolist() and built == [0, 4, 6]
