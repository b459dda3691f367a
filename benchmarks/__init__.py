"""Measured performance scripts (run them as files: `python benchmarks/NAME.py`)."""
