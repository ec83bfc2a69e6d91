"""The experiment wing: runs (designs x replications, seeds, executors, resume) and their store.

``runner`` runs one replication in memory, ``batch`` runs a whole experiment (the entry): ``plan``
chooses its runs and chunks, ``executors`` where they run, ``chunk`` computes and stores one chunk,
``pipeline`` feeds the chunks to the executor and the engines; ``store`` keeps it on disk, ``tidy``
builds the results table.
"""

from sim.experiment.batch import (
    ExperimentResult,
    remake_charts,
    run_experiment,
    stored_scenario,
)

__all__ = ["ExperimentResult", "remake_charts", "run_experiment", "stored_scenario"]
