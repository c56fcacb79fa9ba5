"""The SimPy components of one run: kernel (callback events, FIFO links), records, random
streams, workload, client, master, replica, cache, routing, faults, and the builder that wires
them from a Config. Imports ``sim.config`` only."""
