"""The recurrent PPO baselines on the passive T-maze with their logits bounded to a ball of radius ``R``
(``logit_radius``, memenvs.baselines.policies.distributions) in this process, run by ``memenvs compare`` with the
other arguments given (docs/results/tmaze_acceptance.md, "What was tried and not kept"):

    python docs/results/tmaze_acceptance_not_kept/ppo_gru_L200_radius6_ent0.py 6 \\
        --envs memenvs/TMaze-v0:variant=passive,length=200 --baselines gru --seeds 0 --workers 1 \\
        --overrides ent_coef=0.0 --out OUT [--steps 4020000]

Radius 6 keeps every action at or above 3.3e-4 and the greedy one at most 0.997 (the other three then 1e-3 each), so
once the corridor is learned 0.997^200 = 55 % of episodes stay on schedule to the junction; ``ent_coef`` 0 leaves
nothing that pulls the corridor's steps back toward uniform, where the default bonus held them stochastic.

The same as ``ppo_L200_policy_kwargs.py '{"logit_radius": R}' ...``, which it runs.
"""

import json
import os
import runpy
import sys

general = os.path.join(os.path.dirname(os.path.abspath(__file__)), "ppo_L200_policy_kwargs.py")
sys.argv = [general, json.dumps({"logit_radius": float(sys.argv[1])}), *sys.argv[2:]]
runpy.run_path(general, run_name="__main__")
