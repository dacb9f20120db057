"""Side-by-side lessons: variants of one setup trained or measured together and compared; each file is one
lesson, registered as a method under its recipe's name (one import per line)."""

import neuralab.experiments.activations
import neuralab.experiments.beta_sweep
import neuralab.experiments.elman_letters
import neuralab.experiments.forecasting_compare
import neuralab.experiments.hopfield_capacity
import neuralab.experiments.init_depth
import neuralab.experiments.init_symmetry
import neuralab.experiments.optimizers_compare
import neuralab.experiments.random_vs_grid
import neuralab.experiments.random_vs_grid_objective
import neuralab.experiments.regularization_compare
import neuralab.experiments.second_order_logreg
import neuralab.experiments.transfer_compare
import neuralab.experiments.universal_approximation
import neuralab.experiments.vanishing_gradients
import neuralab.experiments.vanishing_gradients_rnn  # noqa: F401
