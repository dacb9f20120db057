"""Learning rules; importing this package registers them all (one import per line)."""

import neuralab.methods.activation_compare
import neuralab.methods.delta_rule
import neuralab.methods.init_depth
import neuralab.methods.init_symmetry
import neuralab.methods.manual_backprop
import neuralab.methods.optimizer_comparison
import neuralab.methods.perceptron
import neuralab.methods.second_order_compare
import neuralab.methods.supervised
import neuralab.methods.tabular
import neuralab.methods.width_sweep  # noqa: F401
