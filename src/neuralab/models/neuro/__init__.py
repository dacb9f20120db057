"""Models of biological neurons and sensory coding (curriculum E1-E3): the leaky integrate-and-fire neuron,
difference-of-Gaussians and Gabor receptive fields, and the linear neuron Hebbian rules train."""
