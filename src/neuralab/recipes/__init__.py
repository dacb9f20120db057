"""Recipes, one file per family; importing this package registers them all (one import per line)."""

import neuralab.recipes.activations
import neuralab.recipes.approximation
import neuralab.recipes.atari
import neuralab.recipes.autoencoders
import neuralab.recipes.boltzmann
import neuralab.recipes.cnn
import neuralab.recipes.dbn
import neuralab.recipes.diagnostics
import neuralab.recipes.dqn
import neuralab.recipes.embeddings
import neuralab.recipes.forecasting
import neuralab.recipes.foundations
import neuralab.recipes.gans
import neuralab.recipes.hebbian
import neuralab.recipes.hopfield
import neuralab.recipes.image_translation
import neuralab.recipes.initialization
import neuralab.recipes.language
import neuralab.recipes.mlp
import neuralab.recipes.mnist1d
import neuralab.recipes.neuro
import neuralab.recipes.optimization
import neuralab.recipes.rbm
import neuralab.recipes.regimes
import neuralab.recipes.regularization
import neuralab.recipes.rl
import neuralab.recipes.rnn
import neuralab.recipes.search
import neuralab.recipes.seq2seq
import neuralab.recipes.text
import neuralab.recipes.transfer
import neuralab.recipes.unsupervised
import neuralab.recipes.vae  # noqa: F401
