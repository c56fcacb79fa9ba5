"""Matplotlib figures for the command line and the notebooks (no pyplot global state)."""
