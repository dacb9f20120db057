"""Transformer models built from neuralab.nn.transformer blocks."""
