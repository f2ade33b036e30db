"""The deployment context and where its parts come from (paper §3, §6.6).

* ``deployment_context``: ``DeploymentContext`` (battery, storage and latency budgets,
  accuracy-loss threshold, λ1/λ2, event rate) with validation and the battery → λ mapping.
* ``battery``: battery level sources and the energy model of one inference.
* ``cache_budget``: storage budget under cache contention, (2 − σ) MB.
* ``evolution_policy``: when to re-evolve (triggers, event rate, stale-context fallback).
* ``evolution_scheduler``: the evolution node's decisions over time (stale context, minimum
  interval between searches, pending requests, period).
"""
