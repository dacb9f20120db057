"""Generative adversarial networks (curriculum G4): generators, discriminators and the image-to-image networks
they train."""
