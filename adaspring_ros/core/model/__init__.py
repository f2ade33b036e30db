"""The self-evolutionary network: backbone plus retraining-free operator variants (paper §4).

* ``search_space``: operator ids (δ1 fire, δ2 svd/dws, δ3 conv@w, δ4 skip), the architecture and
  exact costs (MACs, parameter and activation bytes) of any configuration.
* ``operators``: the torch modules of every operator, built from stored tensors.
* ``supernet``: ``SelfEvolutionaryNet`` with ``set_active_config`` / ``get_active_subnet``.
* ``profile``: measured per-operator accuracy-drop and latency tables, ``Profile.predict``.
* ``checkpoint``: the one versioned checkpoint format (``torch.load(weights_only=True)``).
* ``energy``: joules per inference window and the robot's energy budget.
* ``latency_table``, ``device_table``, ``latency_meter``, ``latency_feedback``: timing networks
  and fitting the latency table, a quick table for this machine, measured latency per
  configuration, and the correction it feeds back.
"""
