"""Run reports (`neuralab report`) and the local results browser (`neuralab serve`)."""
