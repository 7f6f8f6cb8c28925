"""Analyses of agents' behaviour in memenvs environments (NumPy only; plotting imports matplotlib lazily).

* :mod:`memenvs.analysis.two_step`: stay probabilities and the model-based index of the two-step task.
* :mod:`memenvs.analysis.agents`: scripted model-free, model-based and Bayes-optimal two-step agents.
"""
