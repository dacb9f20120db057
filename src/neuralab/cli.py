"""`neuralab` command line: list, info, flops, train, eval, plot, predict, export, cv, ensemble, search,
results.

User mistakes end with one line on stderr and exit code 2; bugs keep their traceback.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from neuralab.errors import Interrupted, UserError

EXIT_USER, EXIT_INTERRUPTED = 2, 130


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, not usage + message
        raise UserError(f"{self.prog}: {message} (see {self.prog} --help)")


def _parse_overrides(tokens: list[str]) -> dict[str, dict[str, Any]]:
    """['--run.epochs', '2', '--data.path=x'] -> {'run': {'epochs': '2'}, 'data': {'path': 'x'}}."""
    out: dict[str, dict[str, Any]] = {}
    i = 0
    while i < len(tokens):
        tok = tokens[i]
        if not tok.startswith("--") or "." not in tok:
            raise UserError(f"unexpected argument {tok!r}; overrides look like --section.field VALUE")
        key, eq, value = tok[2:].partition("=")
        if not eq:
            if i + 1 >= len(tokens):
                raise UserError(f"{tok} needs a value")
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

    table = layer_table(model, entry.example_input(cfg))
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


def _recipe_model(recipe: Any) -> tuple[dict[str, Any], Any, str]:
    """(sections, model, note): the model as the recipe trains it, its input size and classes taken from
    the data; with the data unavailable, the default sizes and a note saying so."""
    from neuralab.build import resolve, sized_model
    from neuralab.errors import DataError
    from neuralab.registry import MODELS

    try:
        sections = resolve(recipe, {"run": {"device": "cpu"}})
        return sections, sized_model(recipe, sections)[1], ""
    except DataError as exc:
        sections = recipe.sections()
        note = f"  (data not available, so the model is shown with its default sizes: {exc})"
        return sections, MODELS.get(recipe.model).cls(sections["model"]), note


def cmd_info(args: argparse.Namespace) -> int:
    from neuralab.registry import MODELS, RECIPES

    if args.name in RECIPES.names():
        r = RECIPES.get(args.name)
        entry = MODELS.get(r.model)
        sections, model, sized = _recipe_model(r)
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
    model = entry.cls(entry.config())
    print(f"{entry.name} (model, family {entry.family}): {entry.paper}")
    print(f"  parameters: {sum(p.numel() for p in model.parameters()):,}")
    _print_layers(entry, entry.config(), model)
    _print_fields("model", entry.config())
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
    if batch < 1:
        raise UserError(f"--batch must be >= 1, got {batch}")
    example = entry.example_input(cfg)[:1]
    x = example.expand(batch, *example.shape[1:]).clone()  # (B, ...)
    # Classifiers get a cross-entropy loss; other models the mean square of their outputs.
    y = torch.zeros(batch, dtype=torch.long) if hasattr(cfg, "num_classes") else None
    report = count_training_flops(model, x, y)
    print(f"{args.name}: one training step (forward + backward) on a batch of {batch}")
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
    for flag in ("seed", "device", "amp", "compile"):
        if getattr(args, flag) is not None:
            overrides.setdefault("run", {})[flag] = getattr(args, flag)
    run = fit(recipe, overrides, out=args.out, resume=args.resume, progress=not args.quiet)
    if not run.procs.is_main:  # data-parallel: rank 0 reports
        return 0
    report = None
    summary = Path(run.run_dir) / "summary.json"
    if summary.exists():
        report = json.loads(summary.read_text()).get("report")
    if report:
        print(report)
    print("\n".join(_summary_lines(run)))
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
    loaded = load(args.run_dir, checkpoint=which)
    metrics = loaded.evaluate(args.split)
    # Expectations on metrics this evaluation did not compute (another split) are left out, not failed.
    checks = ({} if on_user_data(loaded.run.sections)
              else {k: c for k, c in loaded.run.recipe.check(metrics).items() if k in metrics})
    write_json_atomic(Path(args.run_dir) / "eval.json", {"step": loaded.step, "checkpoint": which,
                                                         "split": args.split, "metrics": metrics, "expect": checks})
    shown = f"checkpoint {which}" if isinstance(which, int) else f"{which} checkpoint"
    split = f", {args.split} split" if args.split else ""
    print(f"{loaded.run.recipe.name} at step {loaded.step} ({shown}{split})")
    for k, v in sorted(metrics.items()):
        print(f"  {k}: {v:.4f}")
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from neuralab.export import export_run

    path = export_run(args.run_dir, args.format, out=args.out, checkpoint=_checkpoint_arg(args.checkpoint))
    print(path)
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

    if args.top < 1:
        raise UserError(f"--top {args.top}: show at least one probability per input (--top 1 or more)")
    for line in predict_files(args.run_dir, args.inputs, top=args.top):
        print(line)
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
    if args.members < 1:
        raise UserError(f"--members {args.members}: an ensemble needs at least one member")
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
    if args.seeds < 1:
        raise UserError(f"--seeds {args.seeds}: give at least one seed")
    parts = ["neuralab results"]
    parts += [f"--report {args.report}"] if args.report else []
    parts += [f"--family {args.family}"] if args.family else []
    parts += [f"--recipes {args.recipes}"] if args.recipes else []
    parts += [] if args.report else [f"--seeds {args.seeds}"]
    parts += extra + ([f"--block {args.block}"] if args.block else [])
    parts += [f"--write {args.write}"] if args.write else []
    if args.report and (args.family or args.recipes):
        raise UserError("--report RECIPE writes one recipe's report; leave out --family and --recipes")
    block = args.block or (f"report:{args.report}" if args.report else args.family)
    if args.write:  # a file without the markers is refused before any training
        results.write_block(Path(args.write), block, "", dry_run=True)
    out = Path(args.out)
    if args.report:
        text = results.recipe_report(args.report, out, overrides, " ".join(parts))
    else:
        names = results.select_recipes(args.family, [n for n in (args.recipes or "").split(",") if n])
        log = None if args.quiet else (lambda line: print(line, file=sys.stderr, flush=True))
        text = results.format_table([results.train_seeds(n, args.seeds, out, overrides, log) for n in names],
                                    " ".join(parts), args.seeds)
    if args.write:
        results.write_block(Path(args.write), block, text)
        print(f"wrote {results.markers(block)[0]} block of {args.write}")
    else:
        print(text)
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
    s.add_argument("--folds", type=int, default=5, help="number of (outer) folds")
    s.add_argument("--nested", action="store_true", help="choose among the --param values with inner folds")
    s.add_argument("--inner-folds", type=int, default=3, help="inner folds per outer fold (with --nested)")
    s.add_argument("--param", action="append", default=[], metavar="FIELD=A,B,...",
                   help="candidate values of a config field, e.g. lr=1e-3,1e-2 (repeatable)")
    s.add_argument("--metric", help="metric of each fold's run (default: the recipe's); a run's test split is its "
                                    "held-out fold, so test/acc is reported as held-out/acc (either name works)")
    s.add_argument("--direction", choices=("maximize", "minimize"), help="needed with a --metric of your own")
    s = sub.add_parser("ensemble", help="train K members with different seeds and combine their predictions")
    common(s)
    s.add_argument("--members", type=int, default=5, help="number of members (seeds SEED, SEED+1, ...)")
    s.add_argument("--combine", choices=("average", "vote"), default="average",
                   help="average the class probabilities or take a majority vote")
    s = sub.add_parser("search", help="hyper-parameter search with Optuna; one training run per trial, scored on a "
                                      "validation split; the best values are retrained and tested once")
    common(s)
    s.add_argument("--param", action="append", default=[], metavar="FIELD=KIND:...",
                   help=f"a searched config field: {SYNTAX} (repeatable; a bare field means the one section "
                        f"that has it)")
    s.add_argument("--trials", type=int, help="total number of complete trials (default for grid: the whole grid)")
    s.add_argument("--sampler", choices=("grid", "random", "tpe"), default="tpe")
    s.add_argument("--grid-points", type=int, default=3, help="grid values per log/float/int range")
    s.add_argument("--storage", help="database URL (e.g. sqlite:///study.db): resumable, shared by processes")
    s.add_argument("--study", help="study name in the storage (default search-RECIPE)")
    s.add_argument("--metric", help="validation metric to optimise (default: the recipe's own on the validation "
                                    "split, e.g. val/acc for test/acc); a test metric is refused")
    s.add_argument("--direction", choices=("maximize", "minimize"), help="needed with a --metric of your own")
    s.add_argument("--heartbeat", type=int, default=10,
                   help="seconds between a running trial's heartbeats; a trial silent for twice this is retried")


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
    s.add_argument("--batch", type=int, help="batch size (default: the recipe's, or 1 for a model)")
    s = sub.add_parser("train", help="train a recipe; extra --section.field VALUE pairs override its config")
    s.add_argument("recipe")
    s.add_argument("--seed", type=int)
    s.add_argument("--device", help="auto, cpu, cuda, cuda:N or mps")
    s.add_argument("--out", help="run directory (default runs/RECIPE-TIME)")
    s.add_argument("--resume", action="store_true", help="continue the run in --out from its checkpoint")
    s.add_argument("--quiet", action="store_true", help="no progress output")
    s.add_argument("--amp", action="store_true", default=None, help="bfloat16 autocast (same as --run.amp true)")
    s.add_argument("--compile", action="store_true", default=None,
                   help="torch.compile the model (same as --run.compile true)")
    checkpoint_help = "latest (the newest), best (best monitored metric, e.g. val/acc) or a step number"
    s = sub.add_parser("eval", help="evaluate a run's checkpoint (the newest by default); writes RUN_DIR/eval.json")
    s.add_argument("run_dir")
    s.add_argument("--checkpoint", default="latest", metavar="STEP|latest|best", help=checkpoint_help)
    s.add_argument("--split", help="only this split's metrics: val, test (eval for RL runs)")
    s = sub.add_parser("plot", help="draw a run's learning curves (and method plots) as PNG")
    s.add_argument("run_dir")
    s = sub.add_parser("predict", help="labels and probabilities for image files or a CSV")
    s.add_argument("run_dir")
    s.add_argument("inputs", nargs="+")
    s.add_argument("--top", type=int, default=3, help="probabilities shown per input")
    s = sub.add_parser("export", help="write a run's network as ONNX or its weights as safetensors")
    s.add_argument("run_dir")
    s.add_argument("--format", required=True, choices=("onnx", "safetensors"))
    s.add_argument("--out", help="file to write (default RUN_DIR/model.onnx or RUN_DIR/model.safetensors)")
    s.add_argument("--checkpoint", default="latest", metavar="STEP|latest|best", help=checkpoint_help)
    _add_experiment_parsers(sub)
    s = sub.add_parser("results", help="train recipes over seeds 0..N-1 and write the results table between "
                                       "<!-- results:start/end --> markers of a markdown file")
    s.add_argument("--family", help="only this family's recipes; names the block <!-- results:FAMILY:start -->")
    s.add_argument("--recipes", metavar="A,B,...", help="only these recipes (comma-separated)")
    s.add_argument("--seeds", type=int, default=3, help="number of seeds (0..N-1) per recipe")
    s.add_argument("--report", metavar="RECIPE",
                   help="instead: the recipe's own report for seed 0, in block <!-- results:report:RECIPE:start -->")
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
        if args.command in EXPERIMENT_COMMANDS:
            return EXPERIMENT_COMMANDS[args.command](args, extra)
        if extra:
            raise UserError(f"unexpected arguments: {' '.join(extra)}")
        return {"list": cmd_list, "info": cmd_info, "flops": cmd_flops, "eval": cmd_eval, "plot": cmd_plot,
                "predict": cmd_predict, "export": cmd_export}[args.command](args)
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
