"""Recurrent architectures (curriculum S1-S4)."""
