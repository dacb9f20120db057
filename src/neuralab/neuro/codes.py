"""Localist, distributed and sparse distributed codes on the notes' four-shapes example, and excess kurtosis as a
measure of sparseness (notes 002 sections 1.6-1.7; Hinton, McClelland and Rumelhart, "Distributed
representations", 1986; Field, "What is the goal of sensory coding?", 1994).

Four entities: {rectangle, ellipse} x {horizontal, vertical}.

- Localist: one unit per entity (one-hot over 4 units). Every pair of codes lies at the same Euclidean distance,
  sqrt(2) (the notes say 1, erratum 12 of the inventory: one-hot vectors differ in two places), so the code holds
  no similarity; an entity not seen before needs a new unit.
- Distributed: one unit per micro-feature, shape (0 rectangle, 1 ellipse) and elongation (0 horizontal,
  1 vertical). n binary units tell 2^n entities apart, entities sharing a feature lie closer, and a combination of
  known features never seen together is represented by the units already there.
- Sparse distributed: one unit per feature value out of a larger vocabulary (8 shapes and 8 orientations,
  16 units), so every entity activates 2 units out of 16: few active units, yet compositional like the
  distributed code.

Sparseness is measured as the notes do, by the excess kurtosis of the activity values,
k = mean((r - mean r)^4) / sigma^4 - 3 (0 for a Gaussian, larger for sparser codes). For binary codes it depends
only on the share p of active values, (1 - 6 p (1 - p)) / (p (1 - p)): with just four entities the localist code
(p = 1/4) is less sparse than the 16-unit sparse code (p = 1/8).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from neuralab.neuro.information import binary_entropy, entropy

Entity = tuple[str, str]  # (shape, elongation)
SHAPES = ("rectangle", "ellipse")
ELONGATIONS = ("horizontal", "vertical")
FOUR_SHAPES: tuple[Entity, ...] = tuple((s, e) for s in SHAPES for e in ELONGATIONS)
# The sparse code's vocabulary: the four-shapes values first, then values no entity of the example uses.
SHAPE_VOCABULARY = ("rectangle", "ellipse", "triangle", "hexagon", "star", "cross", "ring", "arrow")
ORIENTATION_VOCABULARY = ("horizontal", "22.5 deg", "45 deg", "67.5 deg", "vertical", "112.5 deg", "135 deg",
                          "157.5 deg")


def excess_kurtosis(r: torch.Tensor, dim: int | None = None) -> torch.Tensor:
    """k = mean((r - mean r)^4) / sigma^4 - 3 over all values (or along `dim`), sigma the population standard
    deviation: scipy.stats.kurtosis(fisher=True, bias=True). NaN for constant values."""
    r = torch.as_tensor(r, dtype=torch.float64)
    centred = r - (r.mean() if dim is None else r.mean(dim, keepdim=True))
    moment = (lambda x: x.mean()) if dim is None else (lambda x: x.mean(dim))
    return moment(centred.pow(4)) / moment(centred.pow(2)).pow(2) - 3.0


@dataclass(frozen=True)
class Code:
    """A code for shapes: what each unit stands for, and the entities it was built for."""

    name: str
    units: tuple[str, ...]
    known: tuple[Entity, ...]

    def encode(self, entity: Entity) -> torch.Tensor | None:
        """The entity's activity vector (units,), or None where the code has no way to represent it."""
        shape, elongation = entity
        if self.name == "localist":
            if entity not in self.known:
                return None  # a new entity needs a new unit
            return torch.eye(len(self.units), dtype=torch.float64)[self.known.index(entity)]
        if self.name == "distributed":
            if shape not in SHAPES or elongation not in ELONGATIONS:
                return None
            return torch.tensor([SHAPES.index(shape), ELONGATIONS.index(elongation)], dtype=torch.float64)
        active = [SHAPE_VOCABULARY.index(shape), len(SHAPE_VOCABULARY) + ORIENTATION_VOCABULARY.index(elongation)]
        out = torch.zeros(len(self.units), dtype=torch.float64)
        out[active] = 1.0
        return out

    def matrix(self, entities: Sequence[Entity]) -> torch.Tensor:
        """Codes (E, units) of entities the code represents."""
        return torch.stack([self.encode(e) for e in entities])


def make_code(name: str, known: Sequence[Entity] = FOUR_SHAPES) -> Code:
    """The `name`d code (localist, distributed or sparse) built from the `known` entities."""
    if name == "localist":
        return Code(name, tuple(f"{s} {e}" for s, e in known), tuple(known))
    if name == "distributed":
        return Code(name, ("shape: ellipse", "elongation: vertical"), tuple(known))
    if name == "sparse":
        return Code(name, SHAPE_VOCABULARY + ORIENTATION_VOCABULARY, tuple(known))
    raise ValueError(f"unknown code {name!r}")


CODES = ("localist", "distributed", "sparse")


def new_combination(name: str) -> bool:
    """Whether the code built from three of the four shapes can represent the fourth (a vertical ellipse), whose
    features it has seen but never together."""
    return make_code(name, FOUR_SHAPES[:3]).encode(FOUR_SHAPES[3]) is not None


def pairwise_distances(codes: torch.Tensor) -> torch.Tensor:
    """Euclidean distances (E, E) between the rows of `codes`."""
    return torch.cdist(codes, codes)


def describe(name: str) -> dict[str, float]:
    """Measures of the `name`d code on the four shapes: units, active units per entity, mean pairwise distance,
    the mean distance of pairs sharing a feature and of pairs sharing none, excess kurtosis of all activity values,
    the summed entropy of the units (bits; the entities themselves carry log2 4 = 2 bits) and whether it represents
    a new combination (1) or not (0)."""
    code = make_code(name)
    x = code.matrix(FOUR_SHAPES)
    d = pairwise_distances(x)
    pairs = [(i, j) for i in range(len(x)) for j in range(i + 1, len(x))]
    shared = [float(d[i, j]) for i, j in pairs if set(FOUR_SHAPES[i]) & set(FOUR_SHAPES[j])]
    disjoint = [float(d[i, j]) for i, j in pairs if not set(FOUR_SHAPES[i]) & set(FOUR_SHAPES[j])]
    return {"units": len(code.units), "active": float(x.sum(1).mean()),
            "distance": sum(float(d[i, j]) for i, j in pairs) / len(pairs),
            "distance_shared": sum(shared) / len(shared), "distance_disjoint": sum(disjoint) / len(disjoint),
            "kurtosis": float(excess_kurtosis(x)), "unit_entropy": float(binary_entropy(x.mean(0)).sum()),
            "entity_entropy": float(entropy(torch.ones(len(x)))), "new_combination": float(new_combination(name))}
