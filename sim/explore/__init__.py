"""``repsim explore``: a local web page for teaching, rerunning a short simulation at every
change of a control (Panel; the optional dependencies ``repsim[explore]``).

- :mod:`sim.explore.settings` — the controls as one record, and the experiment they mean;
- :mod:`sim.explore.presets` — the notebooks' stories as starting points;
- :mod:`sim.explore.theory` — the closed forms shown beside the simulation, where they apply;
- :mod:`sim.explore.compute` — one rerun: simulate, trace, compare, draw (no web code);
- :mod:`sim.explore.runner` — the newest request in a background thread, older ones cancelled;
- :mod:`sim.explore.app` — the Panel page; :mod:`sim.explore.serve` — the server on 127.0.0.1.

Only the first four work without Panel installed.
"""
