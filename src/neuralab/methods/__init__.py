"""Learning rules; importing this package registers them all (one import per line)."""

import neuralab.methods.adversarial
import neuralab.methods.delta_rule
import neuralab.methods.language_model
import neuralab.methods.manual_backprop
import neuralab.methods.masked_lm
import neuralab.methods.perceptron
import neuralab.methods.seq2seq
import neuralab.methods.supervised
import neuralab.methods.tabular
import neuralab.methods.word2vec  # noqa: F401
