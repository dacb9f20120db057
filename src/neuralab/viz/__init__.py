"""Plots written as PNG files with matplotlib's Agg backend (no display needed)."""

import matplotlib

matplotlib.use("Agg")
