"""`elman-letters`: a simple recurrent network reads a stream of letters without spaces and predicts the next one
(Elman, "Finding structure in time", 1990; curriculum S5; notes 002 section 3.1).

Sentences come from Elman's small grammar: sixteen templates such as NOUN-HUM VERB-EAT NOUN-FOOD over a lexicon of
words in twelve classes (his Tables 2 and 3; here each word belongs to one class, so `see` and `break` appear
once). Their letters are concatenated into one stream, with no spaces and no sentence marks. Nothing tells the
network where a word ends, yet once it has learnt the stream its prediction error is high at a word's first letter
(which word comes next is a choice of the grammar) and falls within the word (the rest is nearly determined): the
error curve marks the word boundaries. Elman's second finding is that the hidden states sort words by class; here
each word's hidden state, averaged over its occurrences at its last letter, is projected to 2-D (PCA) and scored
by the silhouette of its twelve classes and of nouns against verbs, and by whether each word's nearest other
word belongs to its class. The same scores of the untrained network are the baseline. At the last letter the
state also predicts the next word, which after a noun depends on its role (a subject is followed by a verb, an
object by the next sentence's noun), so here the fine classes group more clearly than nouns against verbs.

Training is truncated backpropagation through time: the training stream is cut into `batch_size` lanes, each
step reads the next `window` letters of every lane, and the hidden state is carried from one chunk to the next
(detached, `neuralab.models.rnn.state`) and kept in checkpoints, so a resumed run continues the same stream.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from neuralab.config import field
from neuralab.contracts import Method, RunContext
from neuralab.data.tensors import DataMeta
from neuralab.data.vocab import Vocabulary
from neuralab.errors import UserError
from neuralab.methods.optim import OPTIMIZERS, make_optimizer
from neuralab.models.rnn.state import State, detach_state, reset_state_where
from neuralab.registry import register_data, register_method

LEXICON = {  # Elman 1990, Table 2, each word in one class
    "NOUN-HUM": ("man", "woman"), "NOUN-ANIM": ("cat", "mouse"), "NOUN-INANIM": ("book", "rock"),
    "NOUN-AGRESS": ("dragon", "monster"), "NOUN-FRAG": ("glass", "plate"), "NOUN-FOOD": ("cookie", "bread"),
    "VERB-INTRAN": ("think", "sleep"), "VERB-TRAN": ("see", "chase"), "VERB-AGPAT": ("move",),
    "VERB-PERCEPT": ("smell",), "VERB-DESTROY": ("break", "smash"), "VERB-EAT": ("eat",),
}
TEMPLATES = (  # Elman 1990, Table 3
    ("NOUN-HUM", "VERB-EAT", "NOUN-FOOD"), ("NOUN-HUM", "VERB-PERCEPT", "NOUN-INANIM"),
    ("NOUN-HUM", "VERB-DESTROY", "NOUN-FRAG"), ("NOUN-HUM", "VERB-INTRAN"), ("NOUN-HUM", "VERB-TRAN", "NOUN-HUM"),
    ("NOUN-HUM", "VERB-AGPAT", "NOUN-INANIM"), ("NOUN-HUM", "VERB-AGPAT"), ("NOUN-ANIM", "VERB-EAT", "NOUN-FOOD"),
    ("NOUN-ANIM", "VERB-TRAN", "NOUN-ANIM"), ("NOUN-ANIM", "VERB-AGPAT", "NOUN-INANIM"), ("NOUN-ANIM", "VERB-AGPAT"),
    ("NOUN-INANIM", "VERB-AGPAT"), ("NOUN-AGRESS", "VERB-DESTROY", "NOUN-FRAG"),
    ("NOUN-AGRESS", "VERB-EAT", "NOUN-HUM"), ("NOUN-AGRESS", "VERB-EAT", "NOUN-ANIM"),
    ("NOUN-AGRESS", "VERB-EAT", "NOUN-FOOD"),
)
WORDS = tuple(w for words in LEXICON.values() for w in words)
WORD_CLASS = {w: c for c, words in LEXICON.items() for w in words}
LETTERS = sorted({ch for w in WORDS for ch in w})
STRETCH = slice(40, 100)  # letters of the test stream drawn in the error plot, once the state has warmed up


def sentences(n: int, seed: int) -> list[list[str]]:
    """`n` sentences of the grammar, each a list of words: a template drawn uniformly, then each word uniformly
    from its class."""
    rng = random.Random(seed)
    return [[rng.choice(LEXICON[c]) for c in rng.choice(TEMPLATES)] for _ in range(n)]


def letter_stream(text: list[list[str]], vocab: Vocabulary) -> dict[str, torch.Tensor]:
    """The letters of `text` concatenated: ids (N,), each letter's position in its word (N,) and its word's index
    in WORDS (N,)."""
    words = [w for sentence in text for w in sentence]
    ids = [vocab.index[ch] for w in words for ch in w]
    position = [i for w in words for i in range(len(w))]
    word = [WORDS.index(w) for w in words for _ in w]
    return {k: torch.tensor(v, dtype=torch.long) for k, v in (("ids", ids), ("position", position), ("word", word))}


@dataclass(frozen=True)
class ElmanSentencesConfig:
    sentences: int = field(3000, "Training sentences drawn from the grammar.", ge=1)
    test_sentences: int = field(300, "Held-out sentences (another draw) on which errors and hidden states are "
                                     "measured.", ge=2)
    window: int = field(32, "Letters per lane per step: how far back truncated BPTT reaches.", ge=1)
    batch_size: int = field(16, "Lanes the training stream is cut into, read side by side.", ge=1)
    train_limit: int = field(0, "Use only the first this many training sentences (0: all).", ge=0)
    test_limit: int = field(0, "Measure on only the first this many test sentences (0: all; at least 2 are used).",
                            ge=0)


class ElmanSentences:
    """The training stream as `batch_size` lanes read `window` letters at a time, and the test stream whole.

    A batch is (x, y, first): x (B, W) letter ids, y (B, W) the letters one step later, first (B,) True where the
    lane starts again from its beginning (a new epoch), where a carried state must be reset.
    """

    def __init__(self, cfg: ElmanSentencesConfig, seed: int) -> None:
        self.cfg, self.pos = cfg, 0
        self.vocab = Vocabulary(LETTERS, "char")
        train = sentences(min(cfg.train_limit, cfg.sentences) if cfg.train_limit else cfg.sentences, seed)
        tests = max(2, min(cfg.test_limit, cfg.test_sentences)) if cfg.test_limit else cfg.test_sentences
        test = sentences(tests, seed + 7_919)  # another draw of the grammar (sentences repeat: it is small)
        ids = letter_stream(train, self.vocab)["ids"]
        lane = (len(ids) - 1) // cfg.batch_size
        if lane < cfg.window:
            raise UserError(f"elman-sentences: {len(ids)} training letters make lanes of {lane} for batch_size "
                            f"{cfg.batch_size}, shorter than one window of {cfg.window}; use more sentences, fewer "
                            "lanes or a shorter window")
        self.lanes = ids[:lane * cfg.batch_size + 1]  # one extra letter: the target of each lane's last input
        self.lane = lane
        self.test = letter_stream(test, self.vocab)
        self.meta = DataMeta(kind="text", input_shape=[cfg.window], num_classes=0, class_names=[],
                             vocab=self.vocab.tokens, tokenizer="char", source="elman-sentences")

    @property
    def steps_per_epoch(self) -> int:
        return self.lane // self.cfg.window

    def to(self, device: torch.device | str) -> ElmanSentences:
        self.lanes = self.lanes.to(device)
        self.test = {k: v.to(device) for k, v in self.test.items()}
        return self

    def next_batch(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        b, w = self.cfg.batch_size, self.cfg.window
        chunk = self.pos % self.steps_per_epoch
        self.pos += 1
        starts = torch.arange(b, device=self.lanes.device) * self.lane + chunk * w  # (B,)
        index = starts[:, None] + torch.arange(w + 1, device=self.lanes.device)  # (B, W + 1)
        letters = self.lanes[index]
        first = torch.full((b,), chunk == 0, dtype=torch.bool, device=self.lanes.device)
        return letters[:, :-1], letters[:, 1:], first

    def state_dict(self) -> dict[str, Any]:
        return {"pos": self.pos}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.pos = int(state["pos"])


@register_data("elman-sentences", config=ElmanSentencesConfig)
def build_elman_sentences(cfg: ElmanSentencesConfig, seed: int) -> ElmanSentences:
    return ElmanSentences(cfg, seed)


@dataclass(frozen=True)
class ElmanLettersConfig:
    optimizer: str = field("adam", "Optimiser.", choices=OPTIMIZERS)
    lr: float = field(3e-3, "Learning rate.", gt=0)
    clip: float = field(1.0, "Largest gradient norm; larger gradients are scaled down to it (0: no clipping).", ge=0)


@torch.no_grad()
def measure(model: nn.Module, test: dict[str, torch.Tensor]) -> dict[str, Any]:
    """On the test stream: surprisal in bits of every next letter (N-1,), the hidden state after every letter
    (N-1, H), and per word of WORDS that occurs, its mean hidden state at its last letter."""
    ids, position, word = test["ids"], test["position"], test["word"]
    hidden, _ = model.features(ids[None, :-1])  # (1, N-1, H)
    hidden = hidden[0].double()
    logits = model.head(hidden.to(model.head.weight.dtype)).double()
    bits = F.cross_entropy(logits, ids[1:], reduction="none") / math.log(2)
    last = position[1:] == 0  # the letter after the input starts a word: the input ends one
    present = sorted(set(word[:-1][last].tolist()))
    means = torch.stack([hidden[last & (word[:-1] == w)].mean(0) for w in present])
    return {"bits": bits, "onset": position[1:] == 0, "hidden": hidden, "words": present, "means": means}


def class_scores(means: torch.Tensor, words: list[int]) -> dict[str, float]:
    """How per-word mean hidden states (W, H) group by class: the silhouette of the twelve word classes and of
    nouns against verbs, and the share of words whose nearest other word (Euclidean) is of the same class, among
    the words that have a class mate."""
    from sklearn.metrics import silhouette_score

    classes = [WORD_CLASS[WORDS[w]] for w in words]
    kinds = [c.split("-")[0] for c in classes]
    x = means.cpu().numpy()
    dist = torch.cdist(means, means).fill_diagonal_(float("inf"))
    nearest = dist.argmin(1).tolist()
    mates = [i for i, c in enumerate(classes) if classes.count(c) > 1]
    return {"class_silhouette": float(silhouette_score(x, classes)) if 1 < len(set(classes)) < len(classes) else 0.0,
            "noun_verb_silhouette": float(silhouette_score(x, kinds)) if len(set(kinds)) == 2 else 0.0,
            "nearest_same_class": sum(classes[i] == classes[nearest[i]] for i in mates) / max(len(mates), 1)}


def summarise(m: dict[str, Any]) -> dict[str, float]:
    """The numbers of one measurement: mean bits at word onsets and within words, their ratio, the class scores."""
    onset, within = float(m["bits"][m["onset"]].mean()), float(m["bits"][~m["onset"]].mean())
    return {"loss": float(m["bits"].mean()) * math.log(2), "bits_per_letter": float(m["bits"].mean()),
            "onset_bits": onset, "within_bits": within, "onset_over_within": onset / within,
            **class_scores(m["means"], m["words"])}


@register_method("elman-letters", config=ElmanLettersConfig)
class ElmanLetters(Method):
    """Next-letter training with truncated BPTT and a carried state; evaluation on the held-out stream."""

    def __init__(self, cfg: ElmanLettersConfig, model: nn.Module, data: ElmanSentences, ctx: RunContext) -> None:
        if not hasattr(model, "features"):
            raise UserError(f"method elman-letters: model {ctx.model_name} has no per-step features; use srn")
        self.cfg, self.model, self.data, self.device = cfg, model, data, ctx.device
        self.opt = make_optimizer(cfg.optimizer, model.parameters(), cfg.lr)
        self.state: State = None  # the hidden state carried from the previous chunk
        self.baseline = summarise(measure(model, data.test))  # the untrained network's scores

    def step(self, batch: tuple[torch.Tensor, torch.Tensor, torch.Tensor]) -> dict[str, float]:
        x, y, first = batch
        self.model.train()
        hidden, state = self.model.features(x, reset_state_where(self.state, first))
        logits = self.model.head(hidden)  # (B, W, V)
        loss = F.cross_entropy(logits.flatten(0, 1), y.flatten())
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        if self.cfg.clip:
            nn.utils.clip_grad_norm_(self.model.parameters(), self.cfg.clip)
        self.opt.step()
        self.state = detach_state(state)
        return {"train/loss": loss.item()}

    def evaluate(self) -> dict[str, float]:
        """Loss (nats per letter), onset / within-word error ratio and the class scores on the test stream, beside
        the untrained network's; the report has the rest."""
        self.model.eval()
        measured = summarise(measure(self.model, self.data.test))
        metrics = {f"test/{k}": measured[k] for k in ("loss", "onset_over_within", "class_silhouette",
                                                      "noun_verb_silhouette", "nearest_same_class")}
        metrics.update({f"untrained/{k}": self.baseline[k] for k in ("onset_over_within", "class_silhouette",
                                                                      "nearest_same_class")})
        return metrics

    def report(self, run_dir: Path | None = None) -> str:
        from neuralab.studies.tables import markdown_table

        self.model.eval()
        m = measure(self.model, self.data.test)
        trained = summarise(m)
        by_position = [float(m["bits"][pos].mean()) for pos in self._positions(m)]
        rows = [[name, s["bits_per_letter"], s["onset_bits"], s["within_bits"], s["onset_over_within"],
                 s["class_silhouette"], s["noun_verb_silhouette"], s["nearest_same_class"]]
                for name, s in (("untrained", self.baseline), ("trained", trained))]
        table = markdown_table(["network", "bits/letter", "bits at word onsets", "bits within words",
                                "onset / within", "class silhouette", "noun-verb silhouette",
                                "nearest word same class"], rows)
        letters = len(m["bits"])
        positions = " | ".join(f"{b:.2f}" for b in by_position)
        return (f"Next-letter surprisal on {letters} held-out letters ({int(m['onset'].sum())} word onsets), and "
                f"how {len(m['words'])} words' mean hidden states group by class:\n\n{table}\n\n"
                f"Trained network, mean bits by the predicted letter's position in its word (1st, 2nd, ...): "
                f"{positions}")

    def _positions(self, m: dict[str, Any]) -> list[torch.Tensor]:
        """Masks over the predicted letters, by position in their word (the first 6 positions)."""
        position = self.data.test["position"][1:]
        return [position == p for p in range(6) if bool((position == p).any())]

    def plot(self, plots_dir: Path) -> list[Path]:
        """plots/elman_letters.png: surprisal along a stretch of the test stream with word onsets marked, and the
        2-D PCA projection of the words' mean hidden states coloured by class."""
        import matplotlib.pyplot as plt  # plotting libraries load only when a plot is drawn
        from sklearn.decomposition import PCA

        from neuralab.viz.curves import save_figure

        self.model.eval()
        m = measure(self.model, self.data.test)
        ids = self.data.test["ids"][1:][STRETCH].tolist()  # the predicted letters
        bits, onset = m["bits"][STRETCH].tolist(), m["onset"][STRETCH].tolist()
        fig, (ax, bx) = plt.subplots(1, 2, figsize=(15, 4.8), width_ratios=(1.6, 1), layout="constrained")
        ax.plot(range(len(bits)), bits, "o-", ms=3, color="C0")
        for t, is_onset in enumerate(onset):
            if is_onset:
                ax.axvline(t, color="C3", alpha=0.35, lw=1)
        ax.set_xticks(range(len(bits)), [self.data.vocab.tokens[i] for i in ids], fontsize=7)
        ax.set(xlabel="predicted letter (red lines: first letter of a word)", ylabel="surprisal (bits)",
               title="Next-letter error along the held-out stream")
        ax.grid(alpha=0.3, axis="y")
        points = PCA(n_components=2).fit_transform(m["means"].cpu().numpy())
        classes = list(LEXICON)
        cmap = {c: plt.get_cmap("Blues" if c.startswith("NOUN") else "Reds")(0.35 + 0.6 * (i % 6) / 5)
                for i, c in enumerate(classes)}
        for (px, py), w in zip(points, m["words"], strict=True):
            c = WORD_CLASS[WORDS[w]]
            bx.scatter(px, py, color=cmap[c], edgecolors="k", s=40, marker="o" if c.startswith("NOUN") else "s")
            bx.annotate(f"{WORDS[w]} ({c.split('-')[1].lower()})", (px, py), fontsize=7, xytext=(3, 3),
                        textcoords="offset points")
        bx.set(xlabel="PC 1", ylabel="PC 2", title="Words' mean hidden state at their last letter "
                                                   "(blue nouns, red verbs)")
        bx.grid(alpha=0.3)
        return [save_figure(fig, plots_dir / "elman_letters.png")]

    def state_dict(self) -> dict[str, Any]:
        return {"model": self.model.state_dict(), "opt": self.opt.state_dict(), "state": self.state}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.model.load_state_dict(state["model"])
        self.opt.load_state_dict(state["opt"])
        carried = state["state"]  # checkpoints hold tensors on the CPU
        self.state = None if carried is None else (carried.to(self.device) if isinstance(carried, torch.Tensor)
                                                   else tuple(s.to(self.device) for s in carried))
