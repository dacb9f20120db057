"""Models of biological neurons and sensory coding (curriculum E1-E2): the leaky integrate-and-fire neuron and
difference-of-Gaussians and Gabor receptive fields."""
