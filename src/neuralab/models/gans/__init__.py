"""Generative adversarial networks: generators and discriminators (curriculum G4)."""
