"""Closed forms the model is checked against, the text and JSON report of a run, and tables of
repetition means."""
