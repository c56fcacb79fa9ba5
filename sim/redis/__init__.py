"""Measuring a real Redis: round trips, the FIFO delay proxy, calibration and validation."""
