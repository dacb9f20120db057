"""Learning rules; importing this package registers them all (one import per line)."""

import neuralab.methods.a2c
import neuralab.methods.adversarial
import neuralab.methods.alphazero
import neuralab.methods.autoencoding
import neuralab.methods.boltzmann_learning
import neuralab.methods.continual
import neuralab.methods.contrastive_divergence
import neuralab.methods.cyclegan
import neuralab.methods.dbn
import neuralab.methods.decomposition
import neuralab.methods.delta_rule
import neuralab.methods.detection
import neuralab.methods.dqn
import neuralab.methods.dynamic_programming
import neuralab.methods.elbo
import neuralab.methods.fastica
import neuralab.methods.hebbian
import neuralab.methods.hebbian_storage
import neuralab.methods.icm
import neuralab.methods.language_model
import neuralab.methods.lif_simulation
import neuralab.methods.manual_backprop
import neuralab.methods.masked_lm
import neuralab.methods.neural_coding
import neuralab.methods.perceptron
import neuralab.methods.pix2pix
import neuralab.methods.ppo
import neuralab.methods.reinforce
import neuralab.methods.seq2seq
import neuralab.methods.shaping
import neuralab.methods.sparse_coding
import neuralab.methods.supervised
import neuralab.methods.tabular
import neuralab.methods.td_prediction
import neuralab.methods.word2vec  # noqa: F401
