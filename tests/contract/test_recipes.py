"""Contract tests run over every registered recipe: no per-recipe code needed.

Each recipe trains 4 steps once (checkpoints at steps 2 and 4, evaluations at 2 and 4) through the Python
API; the tests then read that run directory back: resuming from the step-2 checkpoint reproduces step 4
bit for bit, every metric is namespaced and finite, and `eval`, `plot` and `predict` work on it.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import load_file

import neuralab
from neuralab import checkpoint
from neuralab.cli import main
from neuralab.data.vocab import detokenize
from neuralab.registry import DATA, METHODS, RECIPES
from tests.conftest import assert_png_drawn
from tests.report_support import ReportPage

STEPS, HALF = 4, 2
# `make gpu-check` runs these on a GPU (NEURALAB_TEST_DEVICE=cuda): the same contract on the CUDA path of every recipe
DEVICE = os.environ.get("NEURALAB_TEST_DEVICE", "cpu")
RUN = {"steps": STEPS, "checkpoint_every": HALF, "eval_every": HALF, "device": DEVICE, "threads": 1,
       "deterministic": DEVICE != "cpu"}  # bit-for-bit resumption on a GPU needs torch's deterministic kernels
TRAIN_LIMIT = 256  # training examples, where the recipe's data source has a `train_limit`
# Test examples, where it has a `test_limit`: every evaluation, report and confusion plot reads the test split,
# about ten passes per recipe here, which over 10,000 images costs a ResNet-18 minutes on 2 cores.
TEST_LIMIT = 64
# Agents' sizes of play, where the recipe's data or method has these fields: a 4-step run checks the plumbing, which
# two environments and a few games check as well as sixteen (the learning tests and the slow tests check learning).
AGENT_LIMITS = {"data": {"num_envs": 2, "games_per_step": 4},
                "method": {"eval_games": 2, "eval_simulations": 8, "simulations": 8,
                           # and evaluation images of detectors (0: all), whose every test image is a search
                           "eval_limit": 8}}
PLAY_STEPS = 60  # `play --max-steps`: an untrained agent may wander until its environment's own limit (1,024 steps)
EVAL_EPISODES = 3  # greedy evaluation episodes, where the recipe's environment stream has `eval_episodes`
# Episode step limit, where the recipe's environment stream has `max_episode_steps`: an untrained agent in a
# 16x16 maze otherwise walks 1,024 steps per episode, in every evaluation.
EPISODE_STEPS = 100
# Recipes whose 4-step run cannot be compared with a resumed one, and why. Empty: every recipe can.
NOT_RESUMABLE: dict[str, str] = {}
NAMES = RECIPES.names()
CLOCK_KEYS = {"seconds", "elapsed", "time"}  # wall-clock durations: the one thing a resumed run may not repeat
# Known bugs in src, not in these tests (strict: the test reports when one is fixed). `predict` loads a run
# without its data (shape-only), and these methods need the data to build, so the refusal names the wrong cause.
PREDICT_BUGS: dict[str, str] = {}  # recipe -> why predict misbehaves (strict xfail: fixing it must empty this)
METRIC_RTOL = 1e-12
ROW_FIELDS = {"step", "epoch", "time"}  # the engine's own columns in metrics.jsonl; everything else is a metric


def _overrides(name: str) -> dict[str, dict]:
    overrides = {"run": dict(RUN)}
    data = DATA.get(RECIPES.get(name).data)
    fields = {f.name for f in dataclasses.fields(data.config)}
    if "train_limit" in fields and not RECIPES.get(name).data_config.get("train_limit"):
        overrides["data"] = {"train_limit": TRAIN_LIMIT}
    if "test_limit" in fields and not RECIPES.get(name).data_config.get("test_limit"):
        overrides.setdefault("data", {})["test_limit"] = TEST_LIMIT
    if "eval_episodes" in fields:
        overrides.setdefault("data", {})["eval_episodes"] = EVAL_EPISODES
    steps = RECIPES.get(name).data_config.get("max_episode_steps", 0)
    if "max_episode_steps" in fields and not 0 < steps <= EPISODE_STEPS:
        overrides.setdefault("data", {})["max_episode_steps"] = EPISODE_STEPS
    recipe = RECIPES.get(name)
    configs = {"data": (data.config, recipe.data_config), "method": (METHODS.get(recipe.method).config,
                                                                     recipe.method_config)}
    for section, limits in AGENT_LIMITS.items():
        config, chosen = configs[section]
        for f in dataclasses.fields(config):
            if f.name in limits and not 0 < chosen.get(f.name, f.default) <= limits[f.name]:
                overrides.setdefault(section, {})[f.name] = limits[f.name]
    return overrides


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """name -> the directory of that recipe's 4-step run, trained once for all tests of this module."""
    root, done = tmp_path_factory.mktemp("recipes"), {}

    def get(name: str) -> Path:
        if name not in done:
            out = root / name
            neuralab.train(name, _overrides(name), out=out)
            done[name] = out
        return done[name]

    return get


def _roll_back(run_dir: Path, step: int) -> None:
    """Leave `run_dir` as a run killed just after its step-`step` checkpoint: newer checkpoints are gone."""
    ckpts = run_dir / "checkpoints"
    for path in ckpts.glob("step-*"):
        if int(path.stem.split("-")[1]) > step:
            path.unlink()
    (ckpts / "latest.json").write_text(json.dumps({"step": step, "name": f"step-{step:09d}"}))


def _final_checkpoint(run_dir: Path) -> tuple[dict[str, torch.Tensor], dict]:
    ckpts = run_dir / "checkpoints"
    name = json.loads((ckpts / "latest.json").read_text())["name"]
    return load_file(str(ckpts / f"{name}.safetensors")), json.loads((ckpts / f"{name}.json").read_text())


@pytest.mark.parametrize("name", NAMES)
def test_resuming_after_a_kill_reproduces_the_uninterrupted_run_bit_for_bit(name, trained, tmp_path):
    if name in NOT_RESUMABLE:
        pytest.xfail(NOT_RESUMABLE[name])
    whole = trained(name)
    resumed = tmp_path / name
    shutil.copytree(whole, resumed)
    final = checkpoint.latest_step(whole / "checkpoints")
    assert final == STEPS, f"{name} stopped at step {final}; list it in NOT_RESUMABLE with the reason"
    _roll_back(resumed, HALF)
    neuralab.train(name, {"run": dict(RUN)}, out=resumed, resume=True)

    (a_tensors, a_meta), (b_tensors, b_meta) = _final_checkpoint(whole), _final_checkpoint(resumed)
    assert a_meta["step"] == b_meta["step"] == STEPS
    assert a_tensors.keys() == b_tensors.keys()
    for key in a_tensors:
        assert torch.equal(a_tensors[key], b_tensors[key]), f"{name}: {key} differs after resuming"
    for part in ("method", "data"):  # non-tensor state: counters, data order positions, flags
        assert _timeless(a_meta["state"][part]) == _timeless(b_meta["state"][part]), \
            f"{name}: {part} state differs after resuming"
    latest = [{k: v for k, v in meta["state"]["latest"].items() if not k.startswith("time/")}
              for meta in (a_meta, b_meta)]
    # Metrics to the last few bits only: a metric may be computed from the (bit-identical) state by a solver
    # whose float sums depend on memory alignment (adaline's least-squares distance differs in the 16th digit).
    assert latest[1] == pytest.approx(latest[0], rel=METRIC_RTOL), f"{name}: the final metrics differ after resuming"
    a_rows, b_rows = _timeless_rows(whole), _timeless_rows(resumed)
    assert [r.keys() for r in b_rows] == [r.keys() for r in a_rows]
    for a, b in zip(a_rows, b_rows, strict=True):
        assert b == pytest.approx(a, rel=METRIC_RTOL), f"{name}: the resumed metrics log differs at step {a['step']}"


def _timeless(state):
    """A checkpoint's JSON state without wall-clock durations (keys named seconds, elapsed or time)."""
    if isinstance(state, dict):
        return {k: _timeless(v) for k, v in state.items() if k not in CLOCK_KEYS}
    if isinstance(state, list):
        return [_timeless(v) for v in state]
    return state


def _timeless_rows(run_dir: Path) -> list[dict]:
    """metrics.jsonl without its wall-clock columns, which no two runs share."""
    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    return [{k: v for k, v in row.items() if k != "time" and not k.startswith("time/")} for row in rows]


@pytest.mark.parametrize("name", NAMES)
def test_metrics_are_namespaced_and_finite(name, trained):
    run_dir = trained(name)
    summary = json.loads((run_dir / "summary.json").read_text())
    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    assert summary["step"] == STEPS and summary["metrics"] and rows
    assert max(r["step"] for r in rows) == STEPS
    for where, metrics in [("summary.json", summary["metrics"])] + [
            (f"metrics.jsonl step {r['step']}", {k: v for k, v in r.items() if k not in ROW_FIELDS}) for r in rows]:
        for key, value in metrics.items():
            assert "/" in key, f"{name}: {where} has a metric {key!r} without a namespace"
            assert isinstance(value, int | float) and math.isfinite(value), f"{name}: {where} {key} = {value}"


@pytest.mark.parametrize("name", NAMES)
def test_eval_reads_the_newest_checkpoint(name, trained, capsys):
    run_dir = trained(name)
    assert main(["eval", str(run_dir)]) == 0, capsys.readouterr().err
    evaluated = json.loads((run_dir / "eval.json").read_text())
    assert evaluated["step"] == STEPS
    assert evaluated["metrics"], f"{name}: eval measured nothing"
    assert all(math.isfinite(v) for v in evaluated["metrics"].values())
    assert f"{name} at step {STEPS}" in capsys.readouterr().out


@pytest.mark.parametrize("name", NAMES)
def test_plot_draws_every_figure_again(name, trained, capsys):
    run_dir = trained(name)
    for png in (run_dir / "plots").glob("*.png"):
        png.unlink()
    assert main(["plot", str(run_dir)]) == 0, capsys.readouterr().err
    printed = [Path(line) for line in capsys.readouterr().out.splitlines()]
    assert Path(run_dir / "plots" / "curves.png") in printed
    for png in printed:
        assert_png_drawn(png)


@pytest.mark.parametrize("name", NAMES)
def test_report_is_one_self_contained_page_of_the_run(name, trained, tmp_path, capsys):
    run_dir = trained(name)
    out = tmp_path / "report.html"
    assert main(["report", str(run_dir), "--out", str(out)]) == 0, capsys.readouterr().err
    page = ReportPage(out.read_text())
    out.unlink()  # plotly.js is inlined: a few MB per recipe
    recipe = RECIPES.get(name)
    assert name in page.text and recipe.curriculum in page.text
    assert f"neuralab train {name} --out {run_dir}" in page.text and "--run.steps 4" in page.text
    for metric, (op, target) in recipe.expect.items():
        assert f"{metric} {op} {target:.4g}" in page.text
    images = [p for p in run_dir.rglob("*") if p.suffix in (".png", ".gif") and "checkpoints" not in p.parts]
    assert images and len(page.images) == len(images)  # every image the run wrote, inlined
    assert all(src.startswith("data:image/") for src in page.images)
    assert all(ref.startswith("data:") for ref in page.references)  # nothing fetched: it opens from disk
    assert not [s for s in page.scripts if "src" in s]
    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    assert page.charts, f"{name}: no curve"
    for chart in page.charts:  # each line holds every logged value of its metric
        for trace in chart["data"]:
            key = f"{trace['name']}/{chart['metric']}"
            assert trace["x"] == [row["step"] for row in rows if key in row], key


def _input_file(meta: dict, folder: Path) -> Path:
    """An input that `predict` reads: an all-zero image of the saved shape, a CSV row of the saved features, or
    a .txt file with one text (a word no run has seen among them)."""
    if meta.get("kind") == "text":
        path = folder / "texts.txt"
        path.write_text("this is not what I expected from a qzxwv, really\n")
        return path
    if meta.get("kind") == "images":
        channels, height, width = meta["input_shape"]
        path = folder / "zeros.png"
        pixels = np.zeros((height, width, channels) if channels == 3 else (height, width), dtype=np.uint8)
        Image.fromarray(pixels).save(path)
        return path
    names = meta.get("feature_names") or ["x"]
    path = folder / "zeros.csv"
    path.write_text(",".join(names) + "\n" + ",".join("0" for _ in names) + "\n")
    return path


@pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.xfail(reason=PREDICT_BUGS[n], strict=True))
                                  if n in PREDICT_BUGS else n for n in NAMES])
def test_predict_labels_a_new_input_or_says_in_one_line_why_not(name, trained, tmp_path, capsys):
    """Runs of a classifier label an input; runs without class names or a single classifier refuse cleanly."""
    run_dir = trained(name)
    meta = json.loads((run_dir / "config.json").read_text())["data_meta"]
    path = _input_file(meta, tmp_path)
    code = main(["predict", str(run_dir), str(path), "--top", "2"])
    out, err = capsys.readouterr()
    classifies = bool(meta.get("class_names")) and meta.get("kind") in ("images", "features", "text")
    if classifies and METHODS.get(RECIPES.get(name).method).build.predicts():
        assert code == 0, err
        [line] = out.splitlines()
        if line.count("\t") == 1:  # a tagger: one label for each token of the text
            shown, tags = line.split("\t")
            assert shown == f"{path}:1" and tags, line
            assert all(tag in meta["class_names"] for tag in tags.split(", ")), line
            return
        shown, label, probs = line.split("\t")
        # a CSV names its line (after the header), a .txt file its text's line
        assert shown in (str(path), f"{path}:2", f"{path}:1") and label in meta["class_names"]
        values = [float(p.rsplit(" ", 1)[1]) for p in probs.split(", ")]
        assert len(values) == min(2, len(meta["class_names"])) and values == sorted(values, reverse=True)
        assert all(0 <= v <= 1 for v in values)
    else:  # regression, RL or a comparison of several models: nothing, or no single classifier, to ask
        assert code == 2 and out == "", err
        assert err.startswith("neuralab: error: ") and len(err.strip().splitlines()) == 1, err
        assert "predict" in err, f"{name}: predict refused for another reason: {err}"


@pytest.mark.parametrize("name", NAMES)
def test_explain_draws_saliency_for_every_image_classifier(name, trained, tmp_path, capsys):
    """Every recipe that classifies images gets a saliency picture; the others are skipped with the reason."""
    recipe = RECIPES.get(name)
    if not METHODS.get(recipe.method).build.predicts():
        pytest.skip(f"{name}: its method, {recipe.method}, trains no single classifier to explain")
    meta = json.loads((trained(name) / "config.json").read_text())["data_meta"]
    if meta.get("kind") != "images":
        pytest.skip(f"{name}: trained on {meta.get('kind') or 'non-image'} data; explain draws image classifiers")
    assert main(["explain", str(trained(name)), "--method", "saliency", "--out", str(tmp_path)]) == 0, \
        capsys.readouterr().err
    assert_png_drawn(tmp_path / "saliency.png")


@pytest.mark.parametrize("name", NAMES)
def test_attack_tabulates_and_draws_an_image_classifier_or_says_in_one_line_why_not(name, trained, tmp_path, capsys):
    """`attack` on every recipe: supervised image classifiers get their table and plots, other runs one line."""
    run_dir = trained(name)
    meta = json.loads((run_dir / "config.json").read_text())["data_meta"]
    code = main(["attack", str(run_dir), "--eps", "0,0.1", "--steps", "2", "--limit", "16", "--examples", "2",
                 "--out", str(tmp_path / "attack")])
    out, err = capsys.readouterr()
    if meta.get("kind") == "images" and meta.get("class_names") and RECIPES.get(name).method == "supervised":
        assert code == 0, err
        assert [line.split()[0] for line in out.splitlines()[2:4]] == ["0.000", "0.100"]
        assert_png_drawn(tmp_path / "attack" / "accuracy.png")
        assert_png_drawn(tmp_path / "attack" / "examples.png")
    else:  # feature vectors, regression, RL, comparisons of several networks: nothing to attack
        assert code == 2 and out == "", err
        assert err.startswith("neuralab: error: ") and len(err.strip().splitlines()) == 1, err
        assert not (tmp_path / "attack").exists()


@pytest.mark.parametrize("name", NAMES)
def test_sample_writes_text_or_draws_images_or_says_in_one_line_why_not(name, trained, tmp_path, capsys):
    """`sample` on every recipe: language models continue the prompt, generative runs write a PNG grid of --n images
    (and of interpolation rows), both seeded (the same seed, the same output); other runs refuse in one line before
    anything is built."""
    run_dir = trained(name)
    method = METHODS.get(RECIPES.get(name).method).build
    if method.draws():
        for extra in ([], ["--interpolate"]):
            outs = [tmp_path / f"a{len(extra)}.png", tmp_path / f"b{len(extra)}.png"]
            for out in outs:
                assert main(["sample", str(run_dir), "--n", "6", "--seed", "1", "--out", str(out), *extra]) == 0, \
                    capsys.readouterr().err
                assert capsys.readouterr().out.strip() == str(out)
            assert_png_drawn(outs[0], min_size=(56, 56), min_std=1.0)
            assert outs[0].read_bytes() == outs[1].read_bytes(), f"{name}: the same seed drew other images"
        assert main(["sample", str(run_dir), "--prompt", "ROMEO:"]) == 2
        err = capsys.readouterr().err
        assert err.startswith("neuralab: error: --prompt") and len(err.strip().splitlines()) == 1, err
        return
    args = ["sample", str(run_dir), "--prompt", "ROMEO:", "--length", "40", "--temperature", "0.8", "--seed", "1"]
    code = main(args)
    out, err = capsys.readouterr()
    if method.generates():
        assert code == 0, err
        assert out.startswith("ROMEO:") and len(out) > len("ROMEO:") + 1, out
        assert main(args) == 0 and capsys.readouterr().out == out, f"{name}: the same seed gave other text"
    else:
        assert code == 2 and out == "", err
        assert err.startswith("neuralab: error: ") and len(err.strip().splitlines()) == 1, err
        assert "sample" in err, f"{name}: sample refused for another reason: {err}"


@pytest.mark.parametrize("name", NAMES)
def test_eval_nll_estimates_a_likelihood_or_says_in_one_line_why_not(name, trained, capsys):
    """`eval --nll` on every recipe: likelihood models add a finite test/nll (nats) to eval.json; other runs refuse in
    one line."""
    run_dir = trained(name)
    code = main(["eval", str(run_dir), "--nll", "--samples", "4"])
    out, err = capsys.readouterr()
    if METHODS.get(RECIPES.get(name).method).build.scores_likelihood():
        assert code == 0, err
        metrics = json.loads((run_dir / "eval.json").read_text())["metrics"]
        assert math.isfinite(metrics["test/nll"]) and metrics["test/nll"] > 0, metrics
        assert "test/nll" in out
    else:
        assert code == 2 and out == "", err
        assert err.startswith("neuralab: error: ") and "likelihood" in err and len(err.strip().splitlines()) == 1, err


@pytest.mark.parametrize("name", NAMES)
def test_similar_and_analogy_query_an_embedding_or_say_in_one_line_why_not(name, trained, capsys):
    """`similar` and `analogy` on every recipe: runs that learnt word embeddings list words with cosines, and a
    word outside the vocabulary is one line; other runs are refused in one line."""
    run_dir = trained(name)
    vocab = json.loads((run_dir / "config.json").read_text())["data_meta"].get("vocab", [])
    words = vocab[4:7] if len(vocab) >= 7 else ["king", "man", "woman"]
    codes = [main(["similar", str(run_dir), words[0], "--top", "3"]), capsys.readouterr(),
             main(["analogy", str(run_dir), *words, "--top", "2"]), capsys.readouterr()]
    if METHODS.get(RECIPES.get(name).method).build.embeds():
        for code, (out, err), top in ((codes[0], codes[1], 3), (codes[2], codes[3], 2)):
            assert code == 0, err
            rows = [line.split("\t") for line in out.splitlines()]
            assert len(rows) == top and all(w in vocab and w not in words for w, _ in rows)
            assert all(-1 <= float(c) <= 1 for _, c in rows) and [float(c) for _, c in rows] == \
                sorted((float(c) for _, c in rows), reverse=True)
        assert main(["similar", str(run_dir), "zzqx"]) == 2
        err = capsys.readouterr().err
        assert err.startswith("neuralab: error: 'zzqx' is not in this run's vocabulary") and len(err.splitlines()) == 1
    else:
        for code, (out, err) in ((codes[0], codes[1]), (codes[2], codes[3])):
            assert code == 2 and out == "", err
            assert err.startswith("neuralab: error: ") and len(err.strip().splitlines()) == 1, err
            assert "word embeddings" in err, err


@pytest.mark.parametrize("name", NAMES)
def test_translate_decodes_a_text_or_says_in_one_line_why_not(name, trained, capsys):
    """`translate` on every recipe: seq2seq runs print one decoded line (greedy and beam) and refuse an empty text in
    one line; every other run refuses in one line."""
    run_dir = trained(name)
    meta = json.loads((run_dir / "config.json").read_text())["data_meta"]
    if RECIPES.get(name).family == "seq2seq":
        text = detokenize(meta["vocab"][4:8], meta["tokenizer"])  # tokens the run was trained on
        for beam in ("1", "3"):
            assert main(["translate", str(run_dir), text, "--beam", beam]) == 0, capsys.readouterr().err
            out, err = capsys.readouterr()
            assert len(out.splitlines()) == 1 and "<pad>" not in out and "<bos>" not in out, out
            assert err == ""
        assert main(["translate", str(run_dir), "  "]) == 2
        out, err = capsys.readouterr()
        assert out == "" and err.startswith("neuralab: error: ") and len(err.strip().splitlines()) == 1, err
    else:
        assert main(["translate", str(run_dir), "some text"]) == 2
        out, err = capsys.readouterr()
        assert out == "" and err.startswith("neuralab: error: ") and len(err.strip().splitlines()) == 1, err
        assert "translate" in err, err


@pytest.mark.parametrize("name", NAMES)
def test_play_records_an_agent_or_says_in_one_line_why_not(name, trained, tmp_path, capsys):
    """`play --record` on every recipe: agents play an episode and write its frames as a GIF, other runs one line."""
    gif = tmp_path / "play.gif"
    code = main(["play", str(trained(name)), "--episodes", "1", "--max-steps", str(PLAY_STEPS), "--record", str(gif)])
    out, err = capsys.readouterr()
    if METHODS.get(RECIPES.get(name).method).build.acts():
        assert code == 0, err
        lines = out.splitlines()
        assert lines[0].startswith("episode 0: return ") and lines[1].startswith("mean return ")
        assert lines[-1] == str(gif)
        length = int(lines[0].rsplit("length ", 1)[1])
        assert 1 <= length <= PLAY_STEPS
        with Image.open(gif) as im:  # identical consecutive frames are merged into one that shows longer
            durations = []
            for k in range(im.n_frames):
                im.seek(k)
                durations.append(im.info["duration"])
            assert im.size[0] > 32 and im.size[1] > 32 and 1 <= im.n_frames <= length + 1
        if length + 1 <= 5000:  # every frame kept: the first observation and one per step, each shown as long
            assert sum(durations) % (length + 1) == 0 and sum(durations) >= 20 * (length + 1), durations
    else:
        assert code == 2 and out == "" and not gif.exists(), err
        assert err.startswith("neuralab: error: ") and len(err.strip().splitlines()) == 1, err
        assert "does not act in an environment" in err


@pytest.mark.parametrize("name", NAMES)
def test_detect_draws_and_lists_objects_or_says_in_one_line_why_not(name, trained, tmp_path, capsys):
    """`detect` on every recipe: detectors write the picture and print JSON records whose boxes lie inside the image
    (a 3:2 image of another size than the run's, so the boxes are mapped back to it); other runs refuse in one
    line and write nothing."""
    run_dir = trained(name)
    meta = json.loads((run_dir / "config.json").read_text())["data_meta"]
    image, out = tmp_path / "scene.png", tmp_path / "found.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (120, 180), dtype=np.uint8)).save(image)
    code = main(["detect", str(run_dir), str(image), "--out", str(out), "--threshold", "0"])
    printed, err = capsys.readouterr()
    if METHODS.get(RECIPES.get(name).method).build.detects():
        assert code == 0, err
        doc = json.loads(printed)
        assert doc["image"] == str(image) and doc["picture"] == str(out)
        assert_png_drawn(out, min_size=(200, 200))
        for record in doc["detections"]:
            x1, y1, x2, y2 = record["box"]
            assert -0.5 <= x1 <= x2 <= 180.5 and -0.5 <= y1 <= y2 <= 120.5, record
            assert record["label"] == meta["class_names"][record["class"]] and 0 <= record["score"] <= 1
            if "mask" in record:
                assert record["mask"]["size"] == [120, 180] and sum(record["mask"]["counts"]) == 120 * 180
        scores = [r["score"] for r in doc["detections"]]
        assert scores == sorted(scores, reverse=True)
    else:
        assert code == 2 and printed == "" and not out.exists(), err
        assert err.startswith("neuralab: error: ") and len(err.strip().splitlines()) == 1, err
        assert "does not detect objects" in err
