"""Sequence-to-sequence recipes (curriculum S3, S8, S9): 3-digit addition and string reversal (synthetic), and
English -> Spanish verse translation with a GRU encoder-decoder without attention, with Bahdanau attention, and a
transformer encoder-decoder (the method is `neuralab.methods.seq2seq`).

The translation recipes keep to verses of at most 20 words and a few minutes on 2 CPU cores; `--run.full` trains
on verses of up to 40 words with wider networks, for GPUs.
"""

from neuralab.config import RunConfig
from neuralab.recipes.recipe import Recipe, register

register(Recipe(
    name="addition-seq2seq", family="seq2seq", curriculum="S3",
    summary="The Keras addition example: '123+45' -> '168' (numbers of up to 3 digits, question read backwards), "
            "a GRU encoder-decoder with Bahdanau attention; exact match on unseen questions.",
    model="rnn-encoder-decoder", method="seq2seq", data="addition",
    model_config=dict(attention="bahdanau", embed_dim=32, hidden=128, attention_dim=64, max_length=8),
    method_config=dict(lr=3e-3, schedule="onecycle", reverse_source=True, beam=1, decode_size=2000),
    data_config=dict(batch_size=128),
    run=RunConfig(epochs=12, eval_every=500, log_every=100, threads=1),
    expect={"test/exact": (">=", 0.99)},  # measured 0.993 on 2,000 unseen questions (seed 0)
))

register(Recipe(
    name="reversal-seq2seq", family="seq2seq", curriculum="S3",
    summary="Reverse strings of 3-10 letters with a GRU encoder-decoder with Bahdanau attention; exact match on "
            "unseen strings.",
    model="rnn-encoder-decoder", method="seq2seq", data="reversal",
    model_config=dict(attention="bahdanau", embed_dim=32, hidden=64, attention_dim=64, max_length=16),
    method_config=dict(lr=3e-3, schedule="onecycle", beam=1),
    data_config=dict(batch_size=128),
    run=RunConfig(epochs=8, eval_every=400, log_every=100, threads=1),
    expect={"test/exact": (">=", 0.99)},
))

TRANSLATION_DATA = dict(max_length=20, max_size=4000, batch_size=64)
TRANSLATION_RUN = RunConfig(epochs=10, eval_every=400, log_every=50, threads=1)
FULL_DATA = {"data": dict(max_length=40, max_size=20000), "run": dict(epochs=30)}

register(Recipe(
    name="translation-gru", family="seq2seq", curriculum="S8",
    summary="English -> Spanish Bible verses (<= 20 words) with a GRU encoder-decoder and no attention: the source "
            "squeezed into one vector (Cho et al. 2014); BLEU on held-out verses.",
    model="rnn-encoder-decoder", method="seq2seq", data="verse-pairs",
    model_config=dict(attention="none", embed_dim=64, hidden=128),
    method_config=dict(lr=2e-3, schedule="onecycle"),
    data_config=TRANSLATION_DATA, run=TRANSLATION_RUN,
    expect={"test/bleu": (">=", 5.0)},  # measured 6.40 (seed 0; 485 s on 2 busy cores)
    full={"model": dict(embed_dim=256, hidden=512), **FULL_DATA},
))

register(Recipe(
    name="translation-bahdanau", family="seq2seq", curriculum="S8",
    summary="English -> Spanish Bible verses (<= 20 words) with a bidirectional GRU encoder and Bahdanau attention "
            "(Bahdanau et al. 2015); BLEU on held-out verses, attention heat maps.",
    model="rnn-encoder-decoder", method="seq2seq", data="verse-pairs",
    model_config=dict(attention="bahdanau", embed_dim=64, hidden=128, attention_dim=128),
    method_config=dict(lr=2e-3, schedule="onecycle"),
    data_config=TRANSLATION_DATA, run=TRANSLATION_RUN,
    expect={"test/bleu": (">=", 11.0)},  # measured 13.12 (seed 0, 2026-11-30; the plain GRU: 6.40)
    full={"model": dict(embed_dim=256, hidden=512, attention_dim=512), **FULL_DATA},
))

register(Recipe(
    name="translation-transformer", family="seq2seq", curriculum="S9",
    summary="English -> Spanish Bible verses (<= 20 words) with a transformer encoder-decoder (Vaswani et al. "
            "2017), 2+2 pre-norm blocks; BLEU on held-out verses.",
    model="transformer-encoder-decoder", method="seq2seq", data="verse-pairs",
    model_config=dict(d_model=128, heads=4, d_ff=256, encoder_layers=2, decoder_layers=2, dropout=0.1),
    method_config=dict(lr=1e-3, schedule="onecycle", label_smoothing=0.1),
    data_config=TRANSLATION_DATA, run=TRANSLATION_RUN,
    # Measured 3.73 (seed 0, 2026-11-30): below the GRU without attention (6.40); at 10 epochs on 8,501 pairs its
    # training loss is still 4.24, so this CPU setting leaves it undertrained.
    expect={"test/bleu": (">=", 3.0)},
    full={"model": dict(d_model=256, d_ff=1024, encoder_layers=3, decoder_layers=3), **FULL_DATA},
))
