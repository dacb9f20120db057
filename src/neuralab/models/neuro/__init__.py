"""Neuroscience models (curriculum E1-E3): spiking neurons, receptive fields and Hebbian neurons."""
