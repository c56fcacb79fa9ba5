"""Configuration: the schema (frozen dataclasses), value parsers, distributions and the fault
schedule, validated once at the edge. Imports nothing else of the package but ``sim.errors``."""
