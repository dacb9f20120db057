"""Evaluating a recipe beyond one run: stratified and nested k-fold cross-validation, ensembles of seeds."""
