"""Workload presets: the YCSB core workloads (Cooper et al., "Benchmarking Cloud Serving
Systems with YCSB", SoCC 2010), as their property files in YCSB's ``workloads/`` folder set
them (``workloada`` ... ``workloadf``): 1,000 records, requests chosen by YCSB's "zipfian"
(which is :mod:`scrambled <sim.model.ycsb>`, constant 0.99) or "latest", records of ten
100-byte fields, and a closed loop of clients sending the next operation when the last
returns (YCSB's threads, no target rate).

``[workload] preset = "ycsb-a"`` (or ``repsim run --preset ycsb-a``) sets these keys; any
key set beside it, in the same file or with ``--set``, wins. Workload E (scans) is left out:
the model has no range reads.
"""

from __future__ import annotations

from typing import Any

__all__ = ["PRESETS", "preset_values"]

_YCSB = {"mode": "closed", "keys": 1000, "key_distribution": "scrambled_zipf",
         "zipf_s": 0.99, "value_size": 1000}

#: Workload keys each preset sets, and the YCSB file it follows.
PRESETS: dict[str, dict[str, Any]] = {
    # workloada: readproportion=0.5, updateproportion=0.5, requestdistribution=zipfian
    "ycsb-a": {**_YCSB, "read_fraction": 0.5},
    # workloadb: readproportion=0.95, updateproportion=0.05, requestdistribution=zipfian
    "ycsb-b": {**_YCSB, "read_fraction": 0.95},
    # workloadc: readproportion=1, requestdistribution=zipfian
    "ycsb-c": {**_YCSB, "read_fraction": 1.0},
    # workloadd: readproportion=0.95, insertproportion=0.05, requestdistribution=latest
    "ycsb-d": {**_YCSB, "read_fraction": 0.95, "key_distribution": "latest"},
    # workloadf: readproportion=0.5, readmodifywriteproportion=0.5, requestdistribution=zipfian.
    # A read-modify-write is a read and an update of one record; the model's closed loop
    # draws each command's kind and key on its own, so F is the same commands in the same
    # proportions, 3 reads to 1 update, without tying an update to the key just read or
    # making it wait for that read's reply.
    "ycsb-f": {**_YCSB, "read_fraction": 0.75},
}
NO_PRESET = "none"


def preset_values(name: str) -> dict[str, Any]:
    """``{"workload.key": value}`` of preset ``name`` (``"none"``: nothing)."""
    if name == NO_PRESET:
        return {}
    return {f"workload.{key}": value for key, value in PRESETS[name].items()}
