"""Hyper-parameter search: search spaces from the command line, Optuna studies, and the random-vs-grid
experiment of Bergstra and Bengio (2012)."""
