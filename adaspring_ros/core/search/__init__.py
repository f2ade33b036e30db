"""Runtime3C and the machinery every search shares (paper §5).

* ``objective``: the one Eq. (1) evaluator every search prices candidates with.
* ``encoding``: the progressive shortest encoding of a configuration.
* ``elite_space``: Δ', the hardware-efficient space built once per profile.
* ``runtime3c``: the search itself; ``baselines``: exhaustive, greedy, random and the paper's
  fixed-operator optimizer.
* ``search_result``: what every search returns; ``gc_pause``: the cyclic GC paused during a
  search.
"""
