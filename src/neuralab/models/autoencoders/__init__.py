"""Autoencoders: networks trained to reproduce their input through a code (curriculum G2, G3)."""
