"""`neuralab fid`: FID on a small neuralab MNIST classifier's features is small for real images and huge for noise,
its reference statistics are cached, runs' draws are chunked and seeded, tables are printed or written between
markers, and user mistakes end in one line with exit code 2. Every recipe whose method draws images is measured."""

from __future__ import annotations

import dataclasses
import json
import math

import pytest
import torch

import neuralab
from neuralab.cli import main
from neuralab.contracts import Drawn
from neuralab.errors import UserError
from neuralab.registry import DATA, METHODS, RECIPES
from neuralab.studies.sample_quality import CHUNK, FeatureClassifier, Score, draw_images, format_table, measure, score

CPU = {"device": "cpu", "threads": 1}
TEST_IMAGES = 2000  # the classifier's test split: the reference of every FID here
DRAWING = [n for n in RECIPES.names() if METHODS.get(RECIPES.get(n).method).build.draws()]


@pytest.fixture(scope="module")
def classifier(tmp_path_factory):
    """LeNet-5 trained 100 steps on 10,000 MNIST digits (about 90% test accuracy), tested on the first 2,000 test
    images."""
    out = tmp_path_factory.mktemp("fid") / "lenet5"
    neuralab.train("lenet5-mnist", {"run": {"steps": 100, "eval_every": 100, "checkpoint_every": 100, **CPU},
                                    "data": {"batch_size": 128, "train_limit": 10000,
                                                                         "test_limit": TEST_IMAGES}}, out=out)
    return out


@pytest.fixture(scope="module")
def tiny_classifier(tmp_path_factory):
    """An MLP on scikit-learn's 8x8 digits: an image classifier of another input size."""
    out = tmp_path_factory.mktemp("fid") / "mlp-digits"
    neuralab.train("mlp-digits", {"run": {"steps": 5, **CPU}}, out=out)
    return out


@pytest.fixture(scope="module")
def baselines(classifier):
    _, reference, scores = measure(classifier, [], n=1000, with_baselines=True)
    return reference, {s.name.split(" (")[0]: s for s in scores}


def test_fid_is_small_for_training_images_huge_for_noise_and_in_between_without_a_class(baselines):
    reference, by_name = baselines
    assert reference.count == TEST_IMAGES and reference.mean.shape == (84,)  # LeNet-5's last hidden layer
    train, noise = by_name["train split"], by_name["uniform noise"]
    without = by_name["test split without class '0'"]
    blurred = by_name["test split blurred"]
    assert train.images == noise.images == 1000
    assert train.fid < without.fid < noise.fid and blurred.fid < noise.fid
    assert train.fid < 0.05 * noise.fid and without.fid < 0.2 * noise.fid
    # Coverage: real digits cover every class about equally; without the zeros few images are labelled 0;
    # noise is labelled a few classes, with little confidence.
    assert train.coverage.covered == 10 and train.coverage.largest < 0.2 and train.coverage.kl_uniform < 0.05
    assert without.coverage.share_of(0) < 0.3 * train.coverage.share_of(0)
    assert noise.coverage.largest > 0.4 and noise.coverage.confident < 0.5 * train.coverage.confident


def test_reference_statistics_are_cached_per_checkpoint_and_recomputed_when_unreadable(classifier, baselines):
    reference, _ = baselines
    [path] = (classifier / "fid").iterdir()
    assert path.name == "reference-step-000000100.safetensors"
    written = path.stat().st_mtime_ns
    again = FeatureClassifier.open(classifier, with_data=False).reference()  # no data: only the cache can answer
    assert path.stat().st_mtime_ns == written
    assert (again.mean == reference.mean).all() and (again.cov == reference.cov).all() and again.count == TEST_IMAGES
    path.write_bytes(b"not safetensors")
    recomputed = FeatureClassifier.open(classifier, with_data=True).reference()
    assert torch.allclose(torch.from_numpy(recomputed.cov), torch.from_numpy(reference.cov), atol=1e-12)
    assert [p.name for p in (classifier / "fid").iterdir()] == [path.name]  # rewritten in place, no temporary left


class StandIn:
    """A generator's method as `neuralab fid` sees it: `draw` returns seeded picks from a pool of images and records
    what it was asked."""

    def __init__(self, pool: torch.Tensor) -> None:
        self.pool, self.calls = pool, []

    def draw(self, n: int, *, label: int | None = None, interpolate: bool = False, seed: int = 0) -> Drawn:
        self.calls.append((n, label, seed))
        pick = torch.randperm(len(self.pool), generator=torch.Generator().manual_seed(seed))[:n]
        return Drawn(self.pool[pick], 8, [])


def test_runs_are_drawn_in_seeded_chunks_whose_first_is_what_sample_draws(classifier, baselines):
    reference, _ = baselines
    model = FeatureClassifier.open(classifier, with_data=True)
    real = StandIn(model.pixels("train", 3000)[0])
    scored = score(model, reference, draw_images(real, 2500, label=3, seed=7), name="stand-in", source="x", seed=0,
                   label=3)
    assert [(n, label) for n, label, _ in real.calls] == [(CHUNK, 3), (CHUNK, 3), (500, 3)]
    seeds = [s for _, _, s in real.calls]
    assert seeds[0] == 7 and len(set(seeds)) == 3  # chunk 0 is `neuralab sample --n 1000 --seed 7`'s draw
    again = StandIn(real.pool)
    list(draw_images(again, 2500, label=3, seed=7))
    assert again.calls == real.calls  # the same seed, the same chunks
    noise = StandIn(torch.rand(3000, 1, 28, 28, generator=torch.Generator().manual_seed(0)))
    noisy = score(model, reference, draw_images(noise, 2500, label=None, seed=7), name="noise", source="x", seed=0,
                  label=None)
    assert scored.images == 2500 and scored.fid < 0.05 * noisy.fid
    assert 0.05 < scored.labelled < 0.2 and noisy.labelled is None  # about a tenth of real digits are 3s


def test_images_of_another_shape_than_the_classifier_takes_are_refused(tiny_classifier):
    small = FeatureClassifier.open(tiny_classifier, with_data=True)
    with pytest.raises(UserError, match=r"images of shape \(1, 28, 28\), but the classifier .* takes \(1, 8, 8\)"):
        score(small, small.reference(), [torch.rand(4, 1, 28, 28)], name="x", source="x", seed=0, label=None)


def _rows(printed: str) -> list[list[str]]:
    """The cells of the printed table's body rows."""
    lines = [line for line in printed.splitlines() if line.startswith("| ")][1:]
    return [[cell.strip() for cell in line.strip("|").split("|")] for line in lines]


def test_baselines_table_is_printed_with_the_label_column(classifier, baselines, capsys):
    assert main(["fid", "--classifier", str(classifier), "--baselines", "--n", "1000", "--label", "3",
                 "--quiet"]) == 0, capsys.readouterr().err
    out, err = capsys.readouterr()
    assert err == ""
    assert out.startswith(f"Generated by `neuralab fid --classifier {classifier} --n 1000 --label 3 --seed 0 "
                          "--baselines`. FID on the 84 inputs of the last linear layer of the classifier lenet5-mnist "
                          f"at step 100 (test/acc ")
    assert "labelled '3'" in out
    rows = _rows(out)
    assert [r[0] for r in rows][:2] == ["train split (1000 images)", "test split blurred (Gaussian, sigma 1 px)"]
    assert rows[2][0].startswith("test split without class '0' (") and rows[3][0] == "uniform noise"
    _, by_name = baselines
    assert all(len(r) == 7 for r in rows)  # set, FID, coverage (4), labelled: no run columns for baselines
    assert float(rows[0][1]) == pytest.approx(by_name["train split"].fid, rel=1e-3)  # the same images and statistics
    assert int(rows[0][2]) == 10 and all(0 <= float(r[-1]) <= 1 for r in rows)


def test_write_replaces_only_the_block_and_groups_runs_of_a_recipe(classifier, baselines, tmp_path, capsys):
    md = tmp_path / "doc.md"
    md.write_text("# Doc\n\nbefore\n<!-- results:fid-sanity:start -->\nold\n<!-- results:fid-sanity:end -->\nafter\n")
    assert main(["fid", "--classifier", str(classifier), "--baselines", "--n", "1000", "--quiet", "--write", str(md),
                 "--block", "fid-sanity"]) == 0, capsys.readouterr().err
    assert capsys.readouterr().out == f"wrote <!-- results:fid-sanity:start --> block of {md}\n"
    text = md.read_text()
    assert text.startswith("# Doc\n\nbefore\n<!-- results:fid-sanity:start -->\nGenerated by `neuralab fid ")
    assert text.endswith("<!-- results:fid-sanity:end -->\nafter\n") and "old" not in text
    assert "| recipe or set | FID |" in text and "\n| uniform noise | " in text  # no run columns for baselines
    assert "Mean ± sample std" not in text
    # Runs of one recipe become one row: mean ± sample std over their training seeds.
    reference, by_name = baselines
    model = FeatureClassifier.open(classifier, with_data=False)
    cover = by_name["train split"].coverage
    runs = [Score("vae-mnist", f"runs/vae/seed-{k}", k, 1000, fid, cover, None) for k, fid in enumerate((10.0, 14.0))]
    runs.append(dataclasses.replace(runs[0], name="dcgan-mnist", fid=3.0))
    table = format_table(model, reference, runs, n=1000, label=None, seed=0, command="c", grouped=True)
    rows = _rows(table)
    assert [row[:4] for row in rows] == [["`vae-mnist`", "0, 1", "12 ± 2.828", "10 ± 0"],
                                         ["`dcgan-mnist`", "0", "3", "10"]]
    assert rows[0][4] == f"{cover.largest:.3f} ± 0.000" and rows[1][4] == f"{cover.largest:.3f}"


@pytest.fixture(scope="module")
def features_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("fid") / "xor"
    neuralab.train("mlp-xor", {"run": {"steps": 2, **CPU}}, out=out)
    return out


@pytest.mark.parametrize("case, says", [
    ("n1", "argument --n: 1 is below 2: FID needs at least 2 images"),
    ("seed", "argument --seed: -1 is below 0"),
    ("nothing", "give one or more generative run directories"),
    ("not-generative", "does not draw images"),
    ("features", "FID needs an image classifier"),
    ("not-a-run", "not a run directory"),
    ("label", "--label 10: the classifier"),
    ("no-markers", "needs exactly one <!-- results:fid:start --> line"),
])
def test_mistakes_end_in_one_line_and_exit_2_with_nothing_written(case, says, classifier, features_run, tmp_path,
                                                                  capsys):
    md = tmp_path / "doc.md"
    md.write_text("no markers here\n")
    cls = ["--classifier", str(classifier)]
    argv = {"n1": [*cls, "--baselines", "--n", "1"], "seed": [*cls, "--baselines", "--seed", "-1"], "nothing": cls,
            "not-generative": [str(classifier), *cls],
            "features": ["--classifier", str(features_run), "--baselines"],
            "not-a-run": ["--classifier", str(tmp_path), "--baselines"],
            "label": [*cls, "--baselines", "--label", "10"],
            "no-markers": [*cls, "--baselines", "--write", str(md)]}[case]
    files = sorted(classifier.rglob("*"))
    assert main(["fid", *argv]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.startswith("neuralab: error: ") and len(err.strip().splitlines()) == 1, err
    assert says in err
    assert md.read_text() == "no markers here\n" and sorted(classifier.rglob("*")) == files


def _quick(name: str) -> dict[str, dict]:
    """4 training steps on at most 256 training and 500 test examples, as the recipe contract tests train."""
    fields = {f.name for f in dataclasses.fields(DATA.get(RECIPES.get(name).data).config)}
    data = {k: v for k, v in (("train_limit", 256), ("test_limit", 500)) if k in fields}
    return {"run": {"steps": 4, "eval_every": 4, "checkpoint_every": 4, **CPU}, "data": data}


@pytest.mark.parametrize("name", DRAWING)
def test_every_generative_recipe_gets_a_finite_fid_and_a_classifier_of_another_size_is_refused(
        name, classifier, tiny_classifier, tmp_path, capsys):
    """Runs that draw MNIST-sized images are measured; a classifier of other-sized images (8x8 digits for them,
    28x28 for a run drawing 8x8 patches), or a run that draws anything else (2-D points), is refused in one line
    before any image is drawn."""
    run_dir = tmp_path / name
    neuralab.train(name, _quick(name), out=run_dir)
    shape = json.loads((run_dir / "config.json").read_text())["data_meta"].get("input_shape")
    shapes = {str(classifier): [1, 28, 28], str(tiny_classifier): [1, 8, 8]}
    mismatched = [c for c, classifier_shape in shapes.items() if classifier_shape != shape]
    for other in mismatched:
        assert main(["fid", str(run_dir), "--classifier", other, "--n", "64"]) == 2
        out, err = capsys.readouterr()
        assert out == "" and err.startswith("neuralab: error: ") and len(err.strip().splitlines()) == 1, err
        assert "shape" in err
    if shape != [1, 28, 28]:
        return
    assert main(["fid", str(run_dir), "--classifier", str(classifier), "--n", "64", "--quiet"]) == 0, \
        capsys.readouterr().err
    out, err = capsys.readouterr()
    assert "below the 84 feature dimensions" in err  # the note on a singular covariance, not an error
    [row] = _rows(out)
    assert row[:3] == [f"`{name}`", str(run_dir), "0"]
    assert math.isfinite(float(row[3])) and float(row[3]) >= 0 and 1 <= int(row[4]) <= 10
