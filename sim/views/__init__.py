"""The views wing: static pictures (charts) drawn from tidy tables, never from a live model."""

#: The standard charts an experiment can draw, in the order they are drawn: one of each per design point, then
#: ``sweep`` (one per power, across the points). Scenario files name them in ``outputs.charts``.
CHART_NAMES = ("overview", "regional-shares", "total-shares", "channels", "dominance", "map", "sweep")
