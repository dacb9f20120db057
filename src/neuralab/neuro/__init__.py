"""Measures of neural codes that are neither models nor learning rules (curriculum E2): information, sparseness and
the notes' four-shapes example of localist, distributed and sparse codes."""
