"""Object detectors (curriculum C8)."""
