"""Experiments built on runs: sweeps (grid, tasks, executors, the results store), traces of a
short window, and the failover study."""
