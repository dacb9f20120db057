"""Hyper-parameter search: search spaces from the command line, Optuna studies, and the grid-vs-random
experiment of Bergstra and Bengio (2012)."""
