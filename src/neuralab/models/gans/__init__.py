"""Generative adversarial networks and the image-to-image networks they train."""
