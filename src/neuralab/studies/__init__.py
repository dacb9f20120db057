"""Studies: many runs of the engine for one question: cross-validation and nested cross-validation,
ensembles of seeds, hyper-parameter search with Optuna, and results over seeds."""
