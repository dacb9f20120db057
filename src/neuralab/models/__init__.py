"""Architectures, one concept per file, registered by family (one import per line)."""

import neuralab.models.autoencoders.conv_autoencoder
import neuralab.models.autoencoders.mlp_autoencoder
import neuralab.models.cnn.alexnet
import neuralab.models.cnn.cnn1d
import neuralab.models.cnn.cnn1d_forecaster
import neuralab.models.cnn.googlenet
import neuralab.models.cnn.lenet5
import neuralab.models.cnn.resnet
import neuralab.models.cnn.vgg
import neuralab.models.cnn.zfnet
import neuralab.models.embeddings.word2vec
import neuralab.models.gans.dcgan
import neuralab.models.gans.mlp_gan
import neuralab.models.gans.unet
import neuralab.models.linear.cca
import neuralab.models.linear.ica
import neuralab.models.linear.logistic
import neuralab.models.linear.pca
import neuralab.models.linear.sparse_coding
import neuralab.models.linear.threshold_unit
import neuralab.models.mlp.mlp
import neuralab.models.rnn.char_rnn
import neuralab.models.rnn.forecaster
import neuralab.models.rnn.sequence_classifier
import neuralab.models.rnn.sequence_generator
import neuralab.models.rnn.srn
import neuralab.models.rnn.tagger
import neuralab.models.rnn.text_lstm
import neuralab.models.seq2seq.rnn_encoder_decoder
import neuralab.models.tabular.qtable
import neuralab.models.text.bow_logistic
import neuralab.models.text.text_cnn
import neuralab.models.transformer.encoder_classifier
import neuralab.models.transformer.encoder_decoder
import neuralab.models.transformer.gpt
import neuralab.models.transformer.masked_lm  # noqa: F401
