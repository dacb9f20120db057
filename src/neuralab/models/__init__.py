"""Architectures, one concept per file, registered by family (one import per line)."""

import neuralab.models.cnn.alexnet
import neuralab.models.cnn.cnn1d
import neuralab.models.cnn.googlenet
import neuralab.models.cnn.lenet5
import neuralab.models.cnn.resnet
import neuralab.models.cnn.vgg
import neuralab.models.cnn.zfnet
import neuralab.models.linear.logistic
import neuralab.models.linear.threshold_unit
import neuralab.models.mlp.mlp
import neuralab.models.rnn.text_lstm
import neuralab.models.tabular.qtable
import neuralab.models.text.bow_logistic
import neuralab.models.text.text_cnn
import neuralab.models.transformer.encoder_classifier
import neuralab.models.transformer.masked_lm  # noqa: F401
