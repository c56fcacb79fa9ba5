"""Streaming measurement: histograms, batch means, the per-run recorder and fault statistics.
Memory does not grow with the number of operations."""
