"""Studies: many runs of the engine over one recipe or a list of them (results over seeds)."""
