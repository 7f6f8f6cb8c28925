"""The copy-major layout of sb3-contrib's recurrent rollout buffer, shared by the buffers that sample it whole.

sb3-contrib's ``RecurrentRolloutBuffer.get`` lays its arrays out once per rollout before sampling: every field
copy-major with time order kept within each copy (``swap_and_flatten``), the recurrent states as
``[sample, layer, hidden]``. :class:`~.packed_ppo.PackedRolloutBuffer` and
:class:`~.recurrent_a2c.WholeSequenceRolloutBuffer` sample differently but from that same layout.
"""

from __future__ import annotations

from sb3_contrib.common.recurrent.buffers import RecurrentRolloutBuffer

_STATES = ("hidden_states_pi", "cell_states_pi", "hidden_states_vf", "cell_states_vf")
_FIELDS = ("observations", "actions", "values", "log_probs", "advantages", "returns", *_STATES, "episode_starts")


def lay_out_copy_major(buffer: RecurrentRolloutBuffer) -> None:
    """Put a full buffer's arrays in sb3-contrib's sampling layout, once per rollout (``generator_ready``)."""
    if buffer.generator_ready:
        return
    for name in _STATES:
        setattr(buffer, name, getattr(buffer, name).swapaxes(1, 2))
    for name in _FIELDS:
        setattr(buffer, name, buffer.swap_and_flatten(getattr(buffer, name)))
    buffer.generator_ready = True
