"""`neuralab` command line: list, info, flops, train, eval, plot, predict, sample, translate, similar, analogy,
explain, attack, fid, export, cv, ensemble, search, results, compress, play, detect, report, serve.

User mistakes end with one line on stderr and exit code 2; bugs keep their traceback.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from neuralab.cli_args import integer, number, seed
from neuralab.errors import Interrupted, UserError

EXIT_USER, EXIT_INTERRUPTED = 2, 130


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, not usage + message
        raise UserError(f"{self.prog}: {message} (see {self.prog} --help)")


def _parse_overrides(tokens: list[str]) -> dict[str, dict[str, Any]]:
    """['--run.epochs', '2', '--data.path=x'] -> {'run': {'epochs': '2'}, 'data': {'path': 'x'}}.

    A flag followed by no value (`--run.full`, last or before another `--` token) sets a yes/no field to true;
    the config refuses it for any other field."""
    from neuralab.config import BARE

    out: dict[str, dict[str, Any]] = {}
    i = 0
    while i < len(tokens):
        tok = tokens[i]
        if not tok.startswith("--") or "." not in tok:
            raise UserError(f"unexpected argument {tok!r}; overrides look like --section.field VALUE")
        key, eq, value = tok[2:].partition("=")
        if not eq:
            if i + 1 >= len(tokens) or tokens[i + 1].startswith("--"):
                value = BARE
            else:
                value = tokens[i + 1]
                i += 1
        section, _, name = key.partition(".")
        out.setdefault(section, {})[name] = value
        i += 1
    return out


def cmd_list(args: argparse.Namespace) -> int:
    from neuralab.registry import RECIPES

    if args.models:
        return _list_models(args.family)

    rows = [(n, r) for n, r in RECIPES.items() if args.family is None or r.family == args.family]
    if not rows:
        families = sorted({r.family for _, r in RECIPES.items()})
        raise UserError(f"no recipes in family {args.family!r}; families: {', '.join(families)}")
    width = max(len(n) for n, _ in rows)
    for name, r in rows:
        expect = ", ".join(f"{k} {op} {v}" for k, (op, v) in r.expect.items())
        print(f"{name:<{width}}  {r.family:<10} {expect:<22} {r.summary}")
    return 0


def _list_models(family: str | None) -> int:
    """Registered architectures: name, family, parameters at the default config, paper."""
    from neuralab.api import list_models, model_info
    from neuralab.registry import MODELS

    names = list_models(family)
    if not names:
        families = sorted({m.family for _, m in MODELS.items()})
        raise UserError(f"no models in family {family!r}; families: {', '.join(families)}")
    width = max(len(n) for n in names)
    for name in names:
        info = model_info(name)
        print(f"{name:<{width}}  {info['family']:<10} {info['parameters']:>10,} params  {info['paper']}")
    return 0


def _print_fields(title: str, cfg: Any) -> None:
    from neuralab.config import describe

    print(f"  [{title}]")
    for name, tp, value, doc in describe(cfg):
        print(f"    --{title}.{name} ({tp}, default {value!r}): {doc}")


def _print_layers(entry: Any, cfg: Any, model: Any) -> None:
    """Output shape, parameters and forward multiply-adds per layer (one example); layers that neither
    compute nor reshape (activations, dropout) are left out."""
    from neuralab.flops import layer_table

    example = entry.example_input(cfg)
    if isinstance(example, tuple):  # several inputs (source and target tokens): no single shape to trace
        return
    table = layer_table(model, example)
    rows = [r for r in table if r.params or r.macs or r.output != r.input]
    if not rows:
        return
    shapes = {id(r): "x".join(map(str, r.output)) or "scalar" for r in rows}
    width = max(len(r.name) for r in rows)
    kind = max(10, *(len(r.kind) for r in rows))
    out = max(12, *map(len, shapes.values()))
    print(f"  {'layer':<{width}}  {'type':<{kind}} {'output':>{out}} {'params':>11} {'mult-adds':>14}")
    print(f"  {'input':<{width}}  {'':<{kind}} {'x'.join(map(str, table[0].input)):>{out}}")
    for r in rows:
        print(f"  {r.name:<{width}}  {r.kind:<{kind}} {shapes[id(r)]:>{out}} {r.params:>11,} {r.macs:>14,}")
    print(f"  {'total':<{width}}  {'':<{kind}} {'':>{out}} {sum(r.params for r in rows):>11,} "
          f"{sum(r.macs for r in rows):>14,}")


def _recipe_model(recipe: Any, overrides: dict[str, dict[str, Any]] | None = None
                  ) -> tuple[dict[str, Any], Any, str]:
    """(sections, model, note): the model as the recipe trains it (with `overrides`), its input size and classes
    taken from the data; with the data unavailable, the default sizes and a note saying so."""
    from neuralab.build import resolve, sized_model
    from neuralab.errors import DataError
    from neuralab.registry import MODELS

    overrides = overrides or {}
    try:
        sections = resolve(recipe, {**overrides, "run": {**overrides.get("run", {}), "device": "cpu"}})
        return sections, sized_model(recipe, sections, explicit_model=overrides.get("model"))[1], ""
    except DataError as exc:
        sections = resolve(recipe, {section: changes for section, changes in overrides.items() if section != "data"})
        note = f"  (data not available, so the model is shown with its default sizes: {exc})"
        return sections, MODELS.get(recipe.model).cls(sections["model"]), note


def cmd_info(args: argparse.Namespace, extra: list[str]) -> int:
    """A recipe or a model, with `--section.field VALUE` overrides (a model takes `--model.*` only), so any
    configuration's layer shapes can be read, e.g. `neuralab info vgg --model.depth 16 --model.image_size 224`."""
    from neuralab.config import override
    from neuralab.registry import MODELS, RECIPES

    overrides = _parse_overrides(extra)
    if args.name in RECIPES.names():
        r = RECIPES.get(args.name)
        entry = MODELS.get(r.model)
        sections, model, sized = _recipe_model(r, overrides)
        print(f"{r.name}: {r.summary}")
        print(f"  family {r.family}; curriculum {r.curriculum}; model {r.model}; method {r.method}; data {r.data}")
        if entry.paper:
            print(f"  paper: {entry.paper}")
        print(f"  expects: {', '.join(f'{k} {op} {v}' for k, (op, v) in r.expect.items()) or 'nothing'}")
        print(f"  parameters: {sum(p.numel() for p in model.parameters()):,}{sized}")
        if r.full:
            changes = "; ".join(f"{s}: " + ", ".join(f"{k}={v}" for k, v in c.items()) for s, c in r.full.items())
            print(f"  --run.full (the paper's setting, for GPUs): {changes}")
        _print_layers(entry, sections["model"], model)
        for section in ("run", "model", "method", "data"):
            _print_fields(section, sections[section])
        return 0
    entry = MODELS.get(args.name)
    if set(overrides) - {"model"}:
        raise UserError(f"info {args.name}: a model takes --model.FIELD overrides only (got "
                        f"{', '.join(f'--{s}.*' for s in overrides if s != 'model')}); give a recipe for the others")
    cfg = override(entry.config(), overrides.get("model", {}), "model")
    model = entry.cls(cfg)
    print(f"{entry.name} (model, family {entry.family}): {entry.paper}")
    print(f"  parameters: {sum(p.numel() for p in model.parameters()):,}")
    _print_layers(entry, cfg, model)
    _print_fields("model", cfg)
    return 0


def cmd_flops(args: argparse.Namespace) -> int:
    """FLOPs of one training step (forward + backward) by operation, and the share of multiply-adds."""
    import torch

    from neuralab.flops import count_training_flops
    from neuralab.registry import MODELS, RECIPES

    if args.name in RECIPES.names():
        r = RECIPES.get(args.name)
        sections, model, _ = _recipe_model(r)
        entry, cfg = MODELS.get(r.model), sections["model"]
        default = getattr(sections["data"], "batch_size", 1)
    else:
        entry = MODELS.get(args.name)
        cfg, default = entry.config(), 1
        model = entry.cls(cfg)
    batch = default if args.batch is None else args.batch
    example = entry.example_input(cfg)
    inputs = example if isinstance(example, tuple) else (example,)  # several: source and target tokens, code and label
    x = tuple(t[:1].expand(batch, *t.shape[1:]).clone() for t in inputs)  # each (B, ...)
    # Classifiers get a cross-entropy loss; other models the mean square of their outputs.
    y = torch.zeros(batch, dtype=torch.long) if hasattr(cfg, "num_classes") else None
    report = count_training_flops(model, x, y)
    print(f"{args.name}: one training step (forward + backward) on a batch of {batch}" if report.backward else
          f"{args.name}: one forward pass on a batch of {batch} (no trainable parameter shapes its outputs: nothing "
          "to backpropagate)")
    print(f"  {'operation':<36} {'FLOPs':>16} {'share':>7}")
    for op, flops in report.by_op.items():
        print(f"  {op:<36} {flops:>16,} {100 * flops / report.total:>6.1f}%")
    print(f"  {'total':<36} {report.total:>16,}")
    print(f"  multiply-add (matrix products, convolutions): {100 * report.multiply_add_share:.1f}% of FLOPs")
    return 0


def _summary_lines(run: Any) -> list[str]:
    lines = [f"run directory: {run.run_dir}", f"steps: {run.step}"]
    lines += [f"  {k}: {v:.4f}" for k, v in sorted(run.metrics.items())]
    for key, c in run.checks.items():
        verdict = "reached" if c["ok"] else "NOT reached"
        value = "n/a" if c["value"] is None else f"{c['value']:.4f}"
        lines.append(f"expected {key} {c['op']} {c['target']}: measured {value} ({verdict})")
    if not run.checks and run.recipe.expect:
        lines.append(f"(trained on your data: {run.recipe.name}'s expected values are for its own data and are "
                     "not checked)")
    return lines


def cmd_train(args: argparse.Namespace, extra: list[str]) -> int:
    from neuralab.engine import fit
    from neuralab.registry import RECIPES

    recipe = RECIPES.get(args.recipe)
    overrides = _parse_overrides(extra)
    for flag in ("seed", "device", "amp", "compile", "init_from", "freeze"):
        if getattr(args, flag) is not None:
            overrides.setdefault("run", {})[flag] = getattr(args, flag)
    run = fit(recipe, overrides, out=args.out, resume=args.resume, progress=not args.quiet)
    if run.procs.is_main:  # data-parallel: rank 0 reports
        summary = Path(run.run_dir) / "summary.json"
        report = json.loads(summary.read_text()).get("report") if summary.exists() else None
        if report:
            print(report)
        print("\n".join(_summary_lines(run)))
    if run.procs.world_size > 1:
        from neuralab.distributed import leave

        leave(0)
    return 0


def version_line() -> str:
    """`neuralab X.Y.Z`: the installed distribution's version, else the package's own (a source checkout)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return f"neuralab {version('neuralab')}"
    except PackageNotFoundError:
        from neuralab import __version__

        return f"neuralab {__version__}"


def _checkpoint_arg(value: str) -> int | str:
    """--checkpoint: latest, best or a step number."""
    if value in ("latest", "best"):
        return value
    try:
        return int(value)
    except ValueError:
        raise UserError(f"--checkpoint {value}: choose latest, best or a step number") from None


def cmd_eval(args: argparse.Namespace) -> int:
    from neuralab.api import load
    from neuralab.atomic import write_json_atomic
    from neuralab.build import on_user_data

    which = _checkpoint_arg(args.checkpoint)
    if args.nll:
        _require(args.run_dir, "scores_likelihood", "has no likelihood to estimate (--nll)")
    if args.write:  # the markers are checked before a long estimate, not after it
        from neuralab.studies.results import write_block

        write_block(Path(args.write), args.block, "", dry_run=True)
    loaded = load(args.run_dir, checkpoint=which)
    metrics = loaded.evaluate(args.split)
    if args.nll:
        metrics.update({k: float(v) for k, v in loaded.run.method.log_likelihood(args.samples).items()})
    # Expectations on metrics this evaluation did not compute (another split) are left out, not failed.
    checks = ({} if on_user_data(loaded.run.sections)
              else {k: c for k, c in loaded.run.recipe.check(metrics).items() if k in metrics})
    write_json_atomic(Path(args.run_dir) / "eval.json", {"step": loaded.step, "checkpoint": which,
                                                         "split": args.split, "metrics": metrics, "expect": checks})
    shown = f"checkpoint {which}" if isinstance(which, int) else f"{which} checkpoint"
    split = f", {args.split} split" if args.split else ""
    nll = f", --nll with {args.samples} importance samples" if args.nll else ""
    lines = [f"{loaded.run.recipe.name} at step {loaded.step} ({shown}{split}{nll})",
             *(f"  {k}: {v:.4f}" for k, v in sorted(metrics.items()))]
    print("\n".join(lines))
    if args.write:
        from neuralab.studies.results import machine_line

        command = f"neuralab eval {args.run_dir}" + (f" --nll --samples {args.samples}" if args.nll else "")
        write_block(Path(args.write), args.block, f"Output of `{command}` on {machine_line()}:\n\n```\n"
                    + "\n".join(lines) + "\n```")
    return 0


def cmd_play(args: argparse.Namespace) -> int:
    """A trained agent's greedy episodes: one line each and the mean; with --record, a GIF of them all."""
    import statistics

    from neuralab.play import play

    played = play(args.run_dir, args.episodes, args.record, args.seed, _checkpoint_arg(args.checkpoint), args.max_steps)
    for k, (ret, length) in enumerate(zip(played.returns, played.lengths, strict=True)):
        print(f"episode {k}: return {ret:g}, length {length}")
    spread = statistics.pstdev(played.returns)
    print(f"mean return {statistics.fmean(played.returns):.2f} +- {spread:.2f} over {len(played.returns)} episodes, "
          f"mean length {statistics.fmean(played.lengths):.1f}")
    if played.gif is not None:
        print(played.gif)
    return 0


def cmd_detect(args: argparse.Namespace) -> int:
    """The objects a detection run finds in an image, printed as one JSON object with the PNG they are drawn on."""
    from neuralab.detect import detect_image

    found = detect_image(args.run_dir, args.image, args.out, args.threshold, _checkpoint_arg(args.checkpoint))
    print(json.dumps({"image": args.image, "picture": str(found.picture), "detections": found.records}))
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from neuralab.export import export_run

    path = export_run(args.run_dir, args.format, out=args.out, checkpoint=_checkpoint_arg(args.checkpoint))
    print(path)
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    """One self-contained HTML page of a run, or with --compare of several runs side by side."""
    from neuralab.reports.html_report import write_comparison, write_report

    if args.compare:
        print(write_comparison(args.run_dirs, args.out))
    elif len(args.run_dirs) != 1:
        raise UserError("report: give one run directory, or --compare with two or more")
    else:
        print(write_report(args.run_dirs[0], args.out))
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    from neuralab.reports.server import serve

    serve(args.runs_dir, args.host, args.port)
    return 0


def cmd_plot(args: argparse.Namespace) -> int:
    from neuralab.viz.curves import plot_run

    run_dir = Path(args.run_dir)
    if not (run_dir / "metrics.jsonl").exists():
        raise UserError(f"{run_dir}: not a run directory (no metrics.jsonl)")
    method = None
    if (run_dir / "checkpoints" / "latest.json").exists():
        from neuralab.api import load

        method = load(run_dir).run.method
    for path in plot_run(run_dir, method):
        print(path)
    return 0


def cmd_predict(args: argparse.Namespace) -> int:
    from neuralab.predict import predict_files

    for line in predict_files(args.run_dir, args.inputs, top=args.top):
        print(line)
    return 0


def _method_can(recipe: Any, able: str) -> bool:
    """Whether the method class of `recipe` can do `able` (`generates`, `draws`, `scores_likelihood`, ...)."""
    from neuralab.registry import METHODS

    return getattr(METHODS.get(recipe.method).build, able)()


def _require(run_dir: str, able: str, refusal: str) -> None:
    """Refuse, in one line naming its method and before anything is built, a saved run whose method class cannot do
    `able` (`_method_can`)."""
    from neuralab.build import load_config

    recipe, _, _ = load_config(Path(run_dir))
    if not _method_can(recipe, able):
        raise UserError(f"{run_dir}: this {recipe.name} run {refusal} (its method, {recipe.method}, cannot)")


def _method_of(run_dir: str, checkpoint: str, able: str, refusal: str) -> Any:
    """The method of a saved run, loaded without its data, when its class can do `able`; others refused (`_require`)."""
    from neuralab.api import load

    _require(run_dir, able, refusal)
    return load(run_dir, with_data=False, checkpoint=_checkpoint_arg(checkpoint)).run.method


def cmd_sample(args: argparse.Namespace) -> int:
    """Text from a language-model run (the prompt and --length more tokens), or a grid of images from a generative run
    (written as PNG, its path printed); notes on how the request was read go to stderr."""
    from neuralab.build import load_config
    from neuralab.registry import METHODS

    recipe, _, _ = load_config(Path(args.run_dir))
    if METHODS.get(recipe.method).build.draws():
        return _sample_images(args)
    if args.prompt is None:
        if METHODS.get(recipe.method).build.generates():
            raise UserError("--prompt: give the text to continue, e.g. --prompt 'ROMEO:'")
    return _sample_text(args)


def _sample_text(args: argparse.Namespace) -> int:
    method = _method_of(args.run_dir, args.checkpoint, "generates",
                        "does not sample text or images; sample from a language model run such as "
                        "lstm-shakespeare or a generative run such as vae-mnist")
    generated = method.sample(args.prompt, args.length, temperature=args.temperature, top_k=args.top_k,
                              seed=args.seed)
    for note in generated.notes:
        print(f"note: {note}", file=sys.stderr)
    print(generated.text)
    return 0


def _sample_images(args: argparse.Namespace) -> int:
    from neuralab.viz.grid import save_grid

    if args.prompt is not None:
        raise UserError(f"--prompt: {args.run_dir} draws images, not text; leave out --prompt")
    method = _method_of(args.run_dir, args.checkpoint, "draws", "does not draw images")
    drawn = method.draw(args.n, label=args.label, interpolate=args.interpolate, seed=args.seed)
    for note in drawn.notes:
        print(f"note: {note}", file=sys.stderr)
    kind = "interpolation" if args.interpolate else "sample"
    label = "" if args.label is None else f"-label{args.label}"
    out = Path(args.out) if args.out else Path(args.run_dir) / "samples" / f"{kind}{label}-seed{args.seed}.png"
    print(save_grid(drawn.images, out, drawn.nrow))
    return 0


def _embedding_run(run_dir: str, command: str, top: int, checkpoint: str) -> Any:
    return _method_of(run_dir, checkpoint, "embeds", f"has no word embeddings for {command}; train an embedding "
                      "recipe such as skipgram-ptb")


def cmd_similar(args: argparse.Namespace) -> int:
    for word, cos in _embedding_run(args.run_dir, "similar", args.top, args.checkpoint).similar(args.word, args.top):
        print(f"{word}\t{cos:.3f}")
    return 0


def cmd_analogy(args: argparse.Namespace) -> int:
    method = _embedding_run(args.run_dir, "analogy", args.top, args.checkpoint)
    for word, cos in method.analogy(args.positive, args.negative, args.other, args.top):
        print(f"{word}\t{cos:.3f}")
    return 0


def cmd_translate(args: argparse.Namespace) -> int:
    """`neuralab translate RUN_DIR "text" [--beam K]`: the run's output for the text on stdout, notes on stderr."""
    method = _method_of(args.run_dir, "latest", "translates", "does not translate text (it maps no sequence to a "
                        "sequence); train a seq2seq recipe, e.g. translation-bahdanau")
    text, notes = method.translate(args.text, args.beam)
    for note in notes:
        print(f"note: {note}", file=sys.stderr)
    print(text)
    return 0


def cmd_explain(args: argparse.Namespace) -> int:
    from neuralab.interpret.explain import explain_run

    print(explain_run(args.run_dir, args.method, image=args.input, layer=args.layer, unit=args.unit, out=args.out,
                      checkpoint=_checkpoint_arg(args.checkpoint)))
    return 0


def cmd_attack(args: argparse.Namespace) -> int:
    from neuralab.attack import attack_run, parse_eps

    result = attack_run(args.run_dir, args.method, parse_eps(args.eps), steps=args.steps, alpha=args.alpha,
                        limit=args.limit, examples=args.examples, out=args.out,
                        checkpoint=_checkpoint_arg(args.checkpoint), seed=args.seed)
    print(result.table())
    for path in result.files:
        print(path)
    return 0


def cmd_fid(args: argparse.Namespace) -> int:
    """FID and class coverage of generative runs' images on a classifier's features; print or write the table."""
    from neuralab.studies import results
    from neuralab.studies.sample_quality import format_table, measure

    if not args.run_dirs and not args.baselines:
        raise UserError("give one or more generative run directories to measure (or --baselines)")
    block = args.block or "fid"
    if args.write:  # a file without the markers is refused before anything is drawn
        results.write_block(Path(args.write), block, "", dry_run=True)
    command = " ".join(["neuralab fid", *args.run_dirs, f"--classifier {args.classifier} --n {args.n}",
                        *([f"--label {args.label}"] if args.label is not None else []), f"--seed {args.seed}",
                        *(["--baselines"] if args.baselines else []),
                        *([f"--write {args.write} --block {block}"] if args.write else [])])
    log = None if args.quiet else (lambda line: print(line, file=sys.stderr, flush=True))
    classifier, reference, scores = measure(args.classifier, args.run_dirs, n=args.n, label=args.label,
                                            seed=args.seed, with_baselines=args.baselines, log=log)
    if args.n < len(reference.mean):
        print(f"note: --n {args.n} is below the {len(reference.mean)} feature dimensions: the samples' covariance is "
              "singular and FID is biased upward; compare FIDs at the same --n only", file=sys.stderr)
    text = format_table(classifier, reference, scores, n=args.n, label=args.label, seed=args.seed, command=command,
                        grouped=bool(args.write))
    if args.write:
        results.write_block(Path(args.write), block, text)
        print(f"wrote {results.markers(block)[0]} block of {args.write}")
    else:
        print(text)
    return 0


def _experiment_setup(args: argparse.Namespace, extra: list[str], prefix: str) -> tuple[Any, dict, Path, Any]:
    """The recipe, its overrides, the output folder (default runs/PREFIX-RECIPE-TIME) and a progress printer."""
    from neuralab.build import default_run_dir
    from neuralab.registry import RECIPES

    recipe = RECIPES.get(args.recipe)
    overrides = _parse_overrides(extra)
    out = Path(args.out) if args.out else default_run_dir(f"{prefix}-{recipe.name}")
    log = None if args.quiet else (lambda line: print(line, flush=True))
    return recipe, overrides, out, log


def cmd_cv(args: argparse.Namespace, extra: list[str]) -> int:
    from neuralab.build import resolve
    from neuralab.studies.cross_validation import cross_validate, nested_cross_validate
    from neuralab.studies.search_space import parse_params

    recipe, overrides, out, log = _experiment_setup(args, extra, "cv")
    if args.param and not args.nested:
        raise UserError("--param: candidate values are chosen by nested cross-validation; add --nested")
    if args.nested:
        if not args.param:
            raise UserError("--nested: give the values to choose among, e.g. --param lr=1e-3,1e-2")
        specs = parse_params(args.param, resolve(recipe, overrides))
        result = nested_cross_validate(recipe, overrides, specs, folds=args.folds, inner_folds=args.inner_folds,
                                       out=out, metric=args.metric, direction=args.direction, log=log)
    else:
        result = cross_validate(recipe, overrides, folds=args.folds, out=out, metric=args.metric,
                                direction=args.direction, log=log)
    print(result.report)
    print(f"tables: {', '.join(map(str, result.files))}")
    return 0


def cmd_ensemble(args: argparse.Namespace, extra: list[str]) -> int:
    from neuralab.build import resolve
    from neuralab.studies.ensemble import train_ensemble

    recipe, overrides, out, log = _experiment_setup(args, extra, "ensemble")
    base = resolve(recipe, overrides)["run"].seed
    result = train_ensemble(recipe, overrides, seeds=[base + i for i in range(args.members)], how=args.combine,
                            out=out, log=log)
    print(result.report)
    print(f"tables: {', '.join(map(str, result.files))}")
    return 0


def cmd_search(args: argparse.Namespace, extra: list[str]) -> int:
    from neuralab.build import resolve
    from neuralab.studies.search import run_search
    from neuralab.studies.search_space import parse_params

    recipe, overrides, out, log = _experiment_setup(args, extra, "search")
    sections = resolve(recipe, overrides)
    specs = parse_params(args.param, sections)
    result = run_search(recipe, specs, overrides, trials=args.trials, sampler=args.sampler, out=out,
                        grid_points=args.grid_points, storage=args.storage, study_name=args.study,
                        metric=args.metric, direction=args.direction, seed=sections["run"].seed,
                        heartbeat=args.heartbeat, log=log)
    print(result.report)
    print(f"results: {', '.join(map(str, result.files))}")
    return 0


def cmd_results(args: argparse.Namespace, extra: list[str]) -> int:
    """Train recipes over seeds 0..N-1 (or one recipe's report) and print the table or write it between markers."""
    from neuralab.studies import results

    overrides = _parse_overrides(extra)
    parts = ["neuralab results"]
    parts += [f"--report {args.report}"] if args.report else []
    parts += ["--reuse"] if args.reuse else []
    parts += [f"--family {args.family}"] if args.family else []
    parts += [f"--recipes {args.recipes}"] if args.recipes else []
    parts += [] if args.report else [f"--seeds {args.seeds}"]
    parts += [f"--columns {args.columns}"] if args.columns else []
    parts += [f"--nll {args.nll}"] if args.nll else []
    parts += extra + ([f"--block {args.block}"] if args.block else [])
    parts += [f"--write {args.write}"] if args.write else []
    if args.report and (args.family or args.recipes):
        raise UserError("--report RECIPE writes one recipe's report; leave out --family and --recipes")
    columns = [c for c in (args.columns or "").split(",") if c]
    if columns and args.report:
        raise UserError("--columns adds metrics to a results table; leave it out with --report RECIPE")
    if args.nll and args.report:
        raise UserError("--nll adds likelihood metrics to a results table; leave it out with --report RECIPE")
    block = args.block or (f"report:{args.report}" if args.report else args.family)
    if args.write:  # a file without the markers is refused before any training
        results.write_block(Path(args.write), block, "", dry_run=True)
    out = Path(args.out)
    if args.report:
        text = results.recipe_report(args.report, out, overrides, " ".join(parts), reuse=args.reuse)
    else:
        names = results.select_recipes(args.family, [n for n in (args.recipes or "").split(",") if n])
        if args.nll:  # refused before any training, in one line naming the recipe
            from neuralab.registry import RECIPES

            for recipe in map(RECIPES.get, names):
                if not _method_can(recipe, "scores_likelihood"):
                    raise UserError(f"--nll: {recipe.name} has no likelihood to estimate (its method, "
                                    f"{recipe.method}, cannot)")
        log = None if args.quiet else (lambda line: print(line, file=sys.stderr, flush=True))
        text = results.format_table([results.train_seeds(n, args.seeds, out, overrides, log, args.reuse, args.nll)
                                     for n in names],
                                    " ".join(parts), args.seeds, columns)
    if args.write:
        results.write_block(Path(args.write), block, text)
        print(f"wrote {results.markers(block)[0]} block of {args.write}")
    else:
        print(text)
    return 0


def _sparsities(text: str) -> tuple[float, ...]:
    """'0.5,0.9' -> (0.5, 0.9); each a share of weights strictly between 0 and 1."""
    try:
        values = tuple(float(v) for v in text.split(","))
    except ValueError:
        raise UserError(f"--sparsity {text}: give comma-separated fractions, e.g. 0.5,0.9") from None
    bad = [v for v in values if not 0 < v < 1]
    if bad:
        raise UserError(f"--sparsity {bad[0]:g}: a sparsity is the share of weights set to zero, strictly between "
                        f"0 and 1")
    return tuple(sorted(set(values)))


def cmd_compress(args: argparse.Namespace) -> int:
    """Prune, fine-tune, retrain from scratch and quantise a trained run; print (or write) the table."""
    sparsities = _sparsities(args.sparsity)  # user mistakes first, before torch is imported
    if not (Path(args.run_dir) / "config.json").is_file():
        raise UserError(f"{args.run_dir}: not a run directory (no config.json)")
    from neuralab.compress.study import Settings, compress_run
    from neuralab.studies import results

    settings = Settings(sparsities=sparsities, finetune_steps=args.finetune_steps, rounds=args.rounds,
                        quantize=args.quantize == "int8", threads=args.threads, repeats=args.repeats)
    block = args.block or "compress"
    if args.write:  # a file without the markers is refused before any training
        results.write_block(Path(args.write), block, "", dry_run=True)
    command = (f"neuralab compress {args.run_dir} --sparsity {args.sparsity} --finetune-steps {args.finetune_steps} "
               f"--rounds {args.rounds} --quantize {args.quantize} --threads {args.threads} --repeats {args.repeats}")
    command += f" --write {args.write} --block {block}" if args.write else ""
    log = None if args.quiet else (lambda line: print(line, file=sys.stderr, flush=True))
    result = compress_run(args.run_dir, settings, out=args.out, checkpoint=_checkpoint_arg(args.checkpoint),
                          command=command, log=log)
    if args.write:
        results.write_block(Path(args.write), block, result.report)
        print(f"wrote {results.markers(block)[0]} block of {args.write}")
    else:
        print(result.report)
    print(f"tables: {', '.join(map(str, result.files))}")
    return 0


EXPERIMENT_COMMANDS = {"cv": cmd_cv, "ensemble": cmd_ensemble, "search": cmd_search,
                       "results": cmd_results}


def _add_experiment_parsers(sub: Any) -> None:
    """cv, ensemble, search: each takes a recipe and, like train, --section.field VALUE overrides."""
    from neuralab.studies.search_space import SYNTAX

    def common(s: argparse.ArgumentParser) -> None:
        s.add_argument("recipe")
        s.add_argument("--out", help="output folder for the runs and tables (default runs/COMMAND-RECIPE-TIME)")
        s.add_argument("--quiet", action="store_true", help="no line per finished run")

    s = sub.add_parser("cv", help="stratified k-fold cross-validation on the recipe's training set; --nested "
                                  "also chooses among --param values")
    common(s)
    s.add_argument("--folds", type=integer(2, 1000, "cross-validation needs at least 2 folds"),
                   default=5, help="number of (outer) folds")
    s.add_argument("--nested", action="store_true", help="choose among the --param values with inner folds")
    s.add_argument("--inner-folds", type=integer(2, 1000, "cross-validation needs at least 2 folds"),
                   default=3, help="inner folds per outer fold (with --nested)")
    s.add_argument("--param", action="append", default=[], metavar="FIELD=A,B,...",
                   help="candidate values of a config field, e.g. lr=1e-3,1e-2 (repeatable)")
    s.add_argument("--metric", help="metric of each fold's run (default: the recipe's); a run's test split is its "
                                    "held-out fold, so test/acc is reported as held-out/acc (either name works)")
    s.add_argument("--direction", choices=("maximize", "minimize"), help="needed with a --metric of your own")
    s = sub.add_parser("ensemble", help="train K members with different seeds and combine their predictions")
    common(s)
    s.add_argument("--members", type=integer(1, 1000, "an ensemble needs at least one member"),
                   default=5, help="number of members (seeds SEED, SEED+1, ...)")
    s.add_argument("--combine", choices=("average", "vote"), default="average",
                   help="average the class probabilities or take a majority vote")
    s = sub.add_parser("search", help="hyper-parameter search with Optuna; one training run per trial, scored on a "
                                      "validation split; the best values are retrained and tested once")
    common(s)
    s.add_argument("--param", action="append", default=[], metavar="FIELD=KIND:...",
                   help=f"a searched config field: {SYNTAX} (repeatable; a bare field means the one section "
                        f"that has it)")
    s.add_argument("--trials", type=integer(1, 1_000_000),
                   help="total number of complete trials (default for grid: the whole grid)")
    s.add_argument("--sampler", choices=("grid", "random", "tpe"), default="tpe")
    s.add_argument("--grid-points", type=integer(2, 1000, "a range needs at least 2 grid points"),
                   default=3, help="grid values per log/float/int range")
    s.add_argument("--storage", help="database URL (e.g. sqlite:///study.db): resumable, shared by processes")
    s.add_argument("--study", help="study name in the storage (default search-RECIPE)")
    s.add_argument("--metric", help="validation metric to optimise (default: the recipe's own on the validation "
                                    "split, e.g. val/acc for test/acc); a test metric is refused")
    s.add_argument("--direction", choices=("maximize", "minimize"), help="needed with a --metric of your own")
    s.add_argument("--heartbeat", type=integer(1, 3600, "seconds between two heartbeats"), default=10,
                   help="seconds between a running trial's heartbeats; a trial silent for twice this is retried")


def _add_explain_parser(sub: Any, checkpoint_help: str) -> None:
    from neuralab.interpret import METHOD_NAMES

    s = sub.add_parser("explain", help="interpretability pictures of a trained image classifier, written as PNG")
    s.add_argument("run_dir")
    s.add_argument("--method", required=True, choices=METHOD_NAMES,
                   help="filters: first-layer kernels; saliency: input gradients; occlusion: probability drop under "
                        "a grey square; gradcam: Grad-CAM; activation-max: inputs grown to excite a unit; "
                        "top-examples: test images that excite a channel most")
    s.add_argument("--input", metavar="IMAGE", help="explain this image file (read as predict reads it) instead of "
                                                    "a few test images")
    s.add_argument("--layer", metavar="NAME", help="layer for gradcam, activation-max and top-examples, as neuralab "
                                                   "info names it (default: the last convolution with a map larger "
                                                   "than 1x1; activation-max: the class scores)")
    s.add_argument("--unit", type=integer(0, 1_000_000),
                   metavar="N", help="one class or channel for activation-max and top-examples "
                                                         "(default: the first few)")
    s.add_argument("--out", metavar="DIR", help="folder for the PNG (default RUN_DIR/explain)")
    s.add_argument("--checkpoint", default="latest", metavar="STEP|latest|best", help=checkpoint_help)


def make_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="neuralab", description="Train, evaluate and visualise the deep-learning curriculum.")
    p.add_argument("--version", action="version", version=version_line())
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)
    s = sub.add_parser("list", help="list recipes (or, with --models, architectures)")
    s.add_argument("--family", help="only this family (mlp, cnn, foundations, rl, ...)")
    s.add_argument("--models", action="store_true", help="list the registered architectures instead of recipes")
    s = sub.add_parser("info", help="describe a recipe or model: paper, config fields, parameters")
    s.add_argument("name")
    s = sub.add_parser("flops", help="FLOPs of one training step of a recipe or model, by operation")
    s.add_argument("name")
    s.add_argument("--batch", type=integer(1, 1_000_000), help="batch size (default: the recipe's, or 1 for a model)")
    s = sub.add_parser("train", help="train a recipe; extra --section.field VALUE pairs override its config")
    s.add_argument("recipe")
    s.add_argument("--seed", type=seed())
    s.add_argument("--device", help="auto, cpu, cuda, cuda:N or mps")
    s.add_argument("--out", help="run directory (default runs/RECIPE-TIME)")
    s.add_argument("--resume", action="store_true", help="continue the run in --out from its checkpoint")
    s.add_argument("--quiet", action="store_true", help="no progress output")
    s.add_argument("--amp", action="store_true", default=None, help="bfloat16 autocast (same as --run.amp true)")
    s.add_argument("--compile", action="store_true", default=None,
                   help="torch.compile the model (same as --run.compile true)")
    s.add_argument("--init-from", metavar="RUN_DIR", help="start from the matching weights (name and shape) of "
                                                           "RUN_DIR's best, else newest, checkpoint; lists what "
                                                           "was skipped and why (same as --run.init_from)")
    s.add_argument("--freeze", metavar="PREFIX[,PREFIX]", help="freeze the parameters whose names start with a "
                                                               "prefix, e.g. features (same as --run.freeze)")
    checkpoint_help = "latest (the newest), best (best monitored metric, e.g. val/acc) or a step number"
    s = sub.add_parser("eval", help="evaluate a run's checkpoint (the newest by default); writes RUN_DIR/eval.json")
    s.add_argument("run_dir")
    s.add_argument("--checkpoint", default="latest", metavar="STEP|latest|best", help=checkpoint_help)
    s.add_argument("--split", help="only this split's metrics: val, test (eval for RL runs)")
    s.add_argument("--nll", action="store_true", help="likelihood models: also estimate the test negative "
                                                      "log-likelihood by importance sampling (test/nll, nats)")
    s.add_argument("--samples", type=integer(1, 1_000_000, "use at least one importance sample per example"),
                   default=5000, help="importance samples per test example for --nll "
                                                             "(default 5000)")
    s.add_argument("--write", metavar="FILE.md", help="also write the printed metrics between the "
                                                      "<!-- results:BLOCK:start/end --> markers of FILE.md (--block)")
    s.add_argument("--block", default="eval", help="marker name for --write (default: eval)")
    s = sub.add_parser("plot", help="draw a run's learning curves (and method plots) as PNG")
    s.add_argument("run_dir")
    s = sub.add_parser("report", help="a self-contained HTML page of a run (config, expected vs measured, curves, "
                                      "images, environment, the command that reproduces it); --compare overlays "
                                      "several runs")
    s.add_argument("run_dirs", nargs="+", metavar="RUN_DIR")
    s.add_argument("--compare", action="store_true", help="one page comparing the runs: curves overlaid, config "
                                                          "differences, final metrics")
    s.add_argument("--out", metavar="FILE.html", help="where to write (default RUN_DIR/report.html, or compare.html "
                                                      "with --compare)")
    s = sub.add_parser("serve", help="browse a folder of runs in a local web page: filter, open a run (its curves "
                                     "follow it while it trains), compare runs")
    s.add_argument("runs_dir", nargs="?", default="runs", help="folder of runs (default runs)")
    s.add_argument("--port", type=integer(0, 65535, "a TCP port, or 0 for any free one"),
                   default=8000, help="port (default 8000; 0 picks a free one)")
    s.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1, this machine "
                                                       "only; another address is served with a warning)")
    s = sub.add_parser("predict", help="labels and probabilities for image files, a CSV, or texts")
    s.add_argument("run_dir")
    s.add_argument("inputs", nargs="+")
    s.add_argument("--top", type=integer(1, 1000, "show at least one probability per input"),
                   default=3, help="probabilities shown per input")
    s = sub.add_parser("similar", help="the words nearest a word in a run's embedding (cosine)")
    s.add_argument("run_dir")
    s.add_argument("word")
    s.add_argument("--top", type=integer(1, 100_000, "show at least one word"),
                   default=10, help="words shown (default 10)")
    s.add_argument("--checkpoint", default="latest", metavar="STEP|latest|best", help=checkpoint_help)
    s = sub.add_parser("analogy", help="the words nearest A - B + C in a run's embedding (king man woman: king - man "
                                       "+ woman, i.e. man is to king as woman is to ?); 3CosAdd, A, B, C excluded")
    s.add_argument("run_dir")
    s.add_argument("positive", metavar="A")
    s.add_argument("negative", metavar="B")
    s.add_argument("other", metavar="C")
    s.add_argument("--top", type=integer(1, 100_000, "show at least one word"),
                   default=5, help="words shown (default 5)")
    s.add_argument("--checkpoint", default="latest", metavar="STEP|latest|best", help=checkpoint_help)
    s = sub.add_parser("translate", help="translate a text with a seq2seq run (greedy or beam search)")
    s.add_argument("run_dir")
    s.add_argument("text")
    s.add_argument("--beam", type=integer(0, 1000, "a beam width (1: greedy, 0: the run's own)"),
                   default=0, help="beam width (1: greedy; default: the run's method.beam)")
    _add_explain_parser(sub, checkpoint_help)
    s = sub.add_parser("sample", help="text from a language-model run (a prompt continued token by token), or a PNG "
                                      "grid of images drawn from a generative run")
    s.add_argument("run_dir")
    s.add_argument("--prompt", help="language models: text to continue, e.g. 'ROMEO:'")
    s.add_argument("--length", type=integer(1, 1_000_000, "the number of tokens to write"),
                   default=500, help="tokens to write after the prompt (default 500)")
    s.add_argument("--temperature", type=number(None, 1000, above=0, why="lower: more predictable, higher: more "
                                                                       "varied"), default=0.8,
                   help="softmax temperature, > 0: below 1 more predictable, above 1 more varied (default 0.8)")
    s.add_argument("--top-k", type=integer(0, 10_000_000, "0 samples from every token"),
                   default=0, help="draw from the k likeliest tokens only (default 0: all)")
    s.add_argument("--seed", type=seed(), default=0, help="seed of the draws (default 0)")
    s.add_argument("--n", type=integer(1, 100_000, "images to draw"),
                   default=64, help="generative runs: images to draw (default 64)")
    s.add_argument("--label", type=integer(0, 1_000_000, "a class index"),
                   help="conditional generative runs: the class to draw")
    s.add_argument("--interpolate", action="store_true",
                   help="generative runs: rows that walk the latent space from one draw to another")
    s.add_argument("--out", metavar="FILE.png", help="generative runs: where to write the grid (default "
                                                     "RUN_DIR/samples/sample[-labelL]-seedS.png)")
    s.add_argument("--checkpoint", default="latest", metavar="STEP|latest|best", help=checkpoint_help)
    s = sub.add_parser("play", help="run a trained agent's greedy policy for some episodes; --record writes a GIF")
    s.add_argument("run_dir")
    s.add_argument("--episodes", type=integer(1, 100_000, "play at least one episode"),
                   default=1, help="episodes to play (default 1)")
    s.add_argument("--record", metavar="FILE.gif", help="write every frame of the episodes to this animated GIF")
    s.add_argument("--seed", type=seed(), default=0, help="seed of the played episodes (default 0)")
    s.add_argument("--max-steps", type=integer(0, 100_000_000, "0: the run's own limit"),
                   default=0, help="cut each episode after this many steps (default 0: the "
                                                            "run's own limit)")
    s.add_argument("--checkpoint", default="latest", metavar="STEP|latest|best", help=checkpoint_help)
    s = sub.add_parser("detect", help="the objects a detection run finds in an image: boxes (and masks) drawn on it "
                                      "as a PNG, and printed as JSON")
    s.add_argument("run_dir")
    s.add_argument("image", help="an image file (any size; resized to the run's input size to detect)")
    s.add_argument("--out", metavar="FILE.png", help="where to draw the detections (default "
                                                     "RUN_DIR/detections/IMAGE.png)")
    s.add_argument("--threshold", type=number(0, 1, why="a score threshold"),
                   default=0.5, help="keep detections scoring at least this (default 0.5)")
    s.add_argument("--checkpoint", default="latest", metavar="STEP|latest|best", help=checkpoint_help)
    s = sub.add_parser("export", help="write a run's network as ONNX or its weights as safetensors")
    s.add_argument("run_dir")
    s.add_argument("--format", required=True, choices=("onnx", "safetensors"))
    s.add_argument("--out", help="file to write (default RUN_DIR/model.onnx or RUN_DIR/model.safetensors)")
    s.add_argument("--checkpoint", default="latest", metavar="STEP|latest|best", help=checkpoint_help)
    s = sub.add_parser("attack", help="accuracy of a run's image classifier under FGSM or PGD (L-inf) at each "
                                      "epsilon: table, curve and example images")
    s.add_argument("run_dir")
    s.add_argument("--method", choices=("fgsm", "pgd"), default="pgd", help="the attack (default pgd)")
    s.add_argument("--eps", default="0,0.05,0.1,0.2,0.3", metavar="E1,E2,...",
                   help="L-inf budgets in pixel units, pixels on [0, 1] (default 0,0.05,0.1,0.2,0.3)")
    s.add_argument("--steps", type=integer(1, 100_000, "PGD takes at least one step"),
                   default=10, help="PGD steps (default 10)")
    s.add_argument("--alpha", type=number(0, 1, why="a step in pixel units (0: 2.5 eps / steps)"),
                   default=0.0, help="PGD step size in pixel units (default 2.5 eps / steps)")
    s.add_argument("--limit", type=integer(0, 100_000_000, "test images (0: all)"), default=1000,
                   help="attack this many test images, a fixed random subset (default 1000; 0: all)")
    s.add_argument("--examples", type=integer(0, 1000, "example rows"),
                   default=6, help="example rows in examples.png, at the largest epsilon")
    s.add_argument("--seed", type=seed(), default=0, help="seed of PGD's random starts")
    s.add_argument("--out", help="folder for accuracy.csv/.json/.png and examples.png (default RUN_DIR/attack-METHOD)")
    s.add_argument("--checkpoint", default="latest", metavar="STEP|latest|best", help=checkpoint_help)
    s = sub.add_parser("fid", help="sample quality of generative runs: FID on a neuralab classifier's features "
                                   "(not Inception's) and the classes their images cover")
    s.add_argument("run_dirs", nargs="*", metavar="RUN_DIR", help="generative runs (several seeds of one recipe "
                                                                   "are grouped as mean ± std with --write)")
    s.add_argument("--classifier", required=True, metavar="CLASSIFIER_RUN",
                   help="an image classifier run on the same image size (e.g. neuralab train lenet5-mnist); its test "
                        "split is the reference, its statistics cached in CLASSIFIER_RUN/fid/")
    s.add_argument("--n", type=integer(2, 10_000_000, "FID needs at least 2 images"),
                   default=10000, help="images drawn per run (default 10000)")
    s.add_argument("--label", type=integer(0, 1_000_000, "a class index"),
                   help="conditional runs: draw this class, and report the share the "
                                             "classifier labels as it")
    s.add_argument("--seed", type=seed(), default=0, help="seed of the draws (default 0)")
    s.add_argument("--baselines", action="store_true", help="also measure real training images, blurred test "
                                                            "images, test images without one class and noise")
    s.add_argument("--write", metavar="FILE.md", help="replace the block between <!-- results:BLOCK:start/end --> "
                                                      "markers of this file with the table, runs grouped by recipe")
    s.add_argument("--block", help="marker name for --write (default fid)")
    s.add_argument("--quiet", action="store_true", help="no line per measured run")
    _add_experiment_parsers(sub)
    s = sub.add_parser("compress", help="prune (one-shot and iteratively fine-tuned), retrain the pruned net from a "
                                        "fresh init and quantise a trained classifier; table of size, sparsity, "
                                        "accuracy and CPU latency")
    s.add_argument("run_dir")
    s.add_argument("--sparsity", default="0.5,0.8,0.9,0.95", metavar="S,S,...",
                   help="target shares of conv/linear weights set to zero, each in (0, 1)")
    s.add_argument("--finetune-steps", type=integer(1, 100_000_000, "at least one step per round"), default=300,
                   help="training steps per sparsity for fine-tuning (over all rounds) and for the fresh init")
    s.add_argument("--rounds", type=integer(1, 1000, "at least one round"),
                   default=3, help="prune-then-fine-tune rounds of iterative pruning")
    s.add_argument("--quantize", choices=("int8", "none"), default="int8",
                   help="also measure int8 variants (torch.ao static post-training quantisation)")
    s.add_argument("--threads", type=integer(1, 1024, "at least one thread"),
                   default=1, help="torch threads while timing")
    s.add_argument("--repeats", type=integer(1, 1_000_000, "at least one timed pass"),
                   default=30, help="timed forward passes per latency (median reported)")
    s.add_argument("--checkpoint", default="latest", metavar="STEP|latest|best", help=checkpoint_help)
    s.add_argument("--out", help="folder for the tables and weight files (default RUN_DIR/compress)")
    s.add_argument("--write", metavar="FILE.md", help="replace the block between <!-- results:BLOCK:start/end --> "
                                                      "markers of this file with the report")
    s.add_argument("--block", help="marker name for --write (default compress)")
    s.add_argument("--quiet", action="store_true", help="no line per measured variant")
    s = sub.add_parser("results", help="train recipes over seeds 0..N-1 and write the results table between "
                                       "<!-- results:start/end --> markers of a markdown file")
    s.add_argument("--family", help="only this family's recipes; names the block <!-- results:FAMILY:start -->")
    s.add_argument("--recipes", metavar="A,B,...", help="only these recipes (comma-separated)")
    s.add_argument("--seeds", type=integer(1, 1000, "give at least one seed"),
                   default=3, help="number of seeds (0..N-1) per recipe")
    s.add_argument("--columns", metavar="METRIC,...", help="more columns: each final metric's mean +- std over the "
                                                          "seeds (e.g. test/map,time/test_images_per_s)")
    s.add_argument("--nll", type=integer(1, 1_000_000, "use at least one importance sample per example"),
                   default=0, metavar="SAMPLES", help="likelihood models: also estimate each seed's test negative "
                                                      "log-likelihood with SAMPLES importance samples, as neuralab "
                                                      "eval --nll does (add test/nll to --columns)")
    s.add_argument("--report", metavar="RECIPE",
                   help="instead: the recipe's own report for seed 0, in block <!-- results:report:RECIPE:start -->")
    s.add_argument("--reuse", action="store_true",
                   help="read each seed's finished run of the very same configuration under --out (OUT/RECIPE/seed-K) "
                        "instead of training it again: its metrics for a table (its own time/seconds as wall "
                        "time), its report for --report")
    s.add_argument("--block", help="marker name to write between (<!-- results:BLOCK:start -->)")
    s.add_argument("--write", metavar="FILE.md", help="replace the block between the markers of this file "
                                                      "(default: print the table)")
    s.add_argument("--out", default="runs/results", help="run folders, OUT/RECIPE/seed-K (default runs/results)")
    s.add_argument("--quiet", action="store_true", help="no line per finished run")
    return p


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv == ["--version"]:  # answered before anything imports torch, so it is instant
        print(version_line())
        return 0
    try:
        parser = make_parser()
        args, extra = parser.parse_known_args(argv)
        if args.command == "train":
            return cmd_train(args, extra)
        if args.command == "info":
            return cmd_info(args, extra)
        if args.command in EXPERIMENT_COMMANDS:
            return EXPERIMENT_COMMANDS[args.command](args, extra)
        if extra:
            raise UserError(f"unexpected arguments: {' '.join(extra)}")
        return {"list": cmd_list, "flops": cmd_flops, "eval": cmd_eval, "plot": cmd_plot,
                "predict": cmd_predict, "explain": cmd_explain, "attack": cmd_attack, "export": cmd_export,
                "fid": cmd_fid, "compress": cmd_compress, "sample": cmd_sample, "similar": cmd_similar,
                "analogy": cmd_analogy, "translate": cmd_translate, "play": cmd_play, "detect": cmd_detect,
                "report": cmd_report, "serve": cmd_serve}[args.command](args)
    except UserError as exc:
        print(f"neuralab: error: {exc}", file=sys.stderr)
        return EXIT_USER
    except Interrupted as exc:
        print(f"neuralab: {exc}", file=sys.stderr)
        return EXIT_INTERRUPTED
    except KeyboardInterrupt:
        print("neuralab: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # output piped into `head`
        sys.stderr.close()
        return 0
