"""The recurrent PPO baselines on the passive T-maze with extra policy arguments (a JSON object) patched into their
T-maze rows in this process, run by ``memenvs compare`` with the other arguments given
(docs/results/tmaze_acceptance.md, "Four episodes per minibatch walk the corridor sooner"):

    python docs/results/tmaze_acceptance_not_kept/ppo_L200_policy_kwargs.py \\
        '{"logit_radius": 6, "obs_shortcut": true}' --envs memenvs/TMaze-v0:variant=passive,length=200 \\
        --baselines gru --seeds 0 --workers 1 --steps 4020000 --overrides ent_coef=0.001,batch_size=804 --out OUT

``logit_radius`` bounds the centred logits (memenvs.baselines.policies.distributions); ``obs_shortcut`` lets the
heads read the step's features beside the core's output (memenvs.baselines.policies.memory_policy).
"""

import json
import sys

import memenvs.baselines.hyperparams as hyperparams
from memenvs.cli import main

extra = json.loads(sys.argv[1])
for name in hyperparams.TMAZE_RECURRENT_PPO_BASELINES:
    row = hyperparams.OVERRIDES[(name, "tmaze")]
    row["policy_kwargs"] = {**row["policy_kwargs"], **extra}
sys.exit(main(["compare", *sys.argv[2:]]))
