"""Energy-based models (curriculum E4-E7): Hopfield networks, Boltzmann machines, RBMs and deep belief networks."""
