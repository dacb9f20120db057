"""Side-by-side lessons: several variants of one setup trained together and compared (one import per line)."""

import neuralab.experiments.regularization_compare
import neuralab.experiments.vanishing_gradients  # noqa: F401
