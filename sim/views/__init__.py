"""The views wing: static pictures (charts) drawn from tidy tables, never from a live model."""
