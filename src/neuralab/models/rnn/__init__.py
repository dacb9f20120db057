"""Recurrent networks: Elman RNN, LSTM and GRU cells and the models built on them."""
