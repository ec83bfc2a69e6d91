"""The analysis wing: what is computed from stored results (patterns, comparison, calibration)."""
