"""`pinpoint`: what a user does besides `dvc repro`.

  pinpoint eval MODEL_DIR [--suites ...]      evaluate one model, no DVC needed (like lm-eval)
  pinpoint show MODEL MODEL [--changed]       two models' replies to the same items, side by side
  pinpoint heads [-n N]                       the top heads of the last attribution
  pinpoint report [--html F] [--csv F] [--exp] every table, from metrics/ (or `dvc exp show`)
  pinpoint check                              the metric gate: exit 1 naming each bound missed
  pinpoint merge TUNED_DIR OUT_DIR            write a tuned or steered checkpoint as an ordinary HF model
  pinpoint probe --prompt P --response R      p(sycophantic) of a response, from the saved probe
  pinpoint sweep / seeds                      DVC experiments: a recipe grid on validation; organism seeds
  pinpoint drift                              the committed metrics against the working tree's, key by key
  pinpoint dag                                write dvc.yaml from pinpoint/dag.py

Every command checks its arguments and input files before it loads a model. A mistake ends
in one line on stderr naming the culprit and exit code 2; Ctrl-C in "interrupted" and exit
code 130, with no traceback and no partial output (outputs are written atomically).
Commands import torch-heavy modules inside themselves, so `pinpoint --help` answers at once.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from pinpoint.arguments import at_least, probe_rows, sycophancy_eval_entries
from pinpoint.errors import UserError
from pinpoint.paths import DEFAULT_CONFIG, Paths
from pinpoint.registry.suites import SUITES, SYCOPHANCY_EVAL_KINDS


class Parser(argparse.ArgumentParser):
    """argparse, but a bad command line is one line and exit 2 like every other user error
    (argparse's own usage block would bury the culprit)."""

    def error(self, message):
        raise UserError(f"{self.prog}: {message} (see {self.prog} --help)")


def cmd_eval(args) -> int:
    from pinpoint.evaluation import context
    from pinpoint.figures import results
    from pinpoint.figures.tables import markdown_table, summary_table
    from pinpoint.files import write_text
    from pinpoint.models import checkpoints
    from pinpoint.params import EvaluateParams
    from pinpoint.params_errors import parse

    data = Path(args.data)
    settings = {
        "suites": args.suites,
        "split": args.split,
        "batch_size": args.batch_size,
        "max_new_tokens": args.max_new_tokens,
        "max_items": args.max_items,
        "format_floor": args.format_floor,
        "choice_scoring": args.choice_scoring,
        "external": {"sycophancy_eval": sycophancy_eval_entries(args.sycophancy_eval, args.kind), "perez": args.perez},
    }
    ev = parse(EvaluateParams, settings, "pinpoint eval")  # an `evaluate` section, as params.yaml spells one
    ctx = context.Context.from_params(ev, args.max_new_tokens, data)
    found = context.parts(args.suites, ctx, ("--sycophancy-eval", "--perez"))  # read and checked before a model loads
    empty = [s for s in args.suites if not any(name == s for _, name, _ in found)]
    if empty:
        raise UserError(f"--suites: no records for {', '.join(empty)} in {data} or the external files given")
    model, tokenizer = checkpoints.load(args.model, device=args.device)
    ctx.base_model = checkpoints.load(args.base, device=args.device)[0] if args.base else None
    rows = context.run_parts(model, tokenizer, found, ctx)
    if args.transcript:  # every row it scored, as the pipeline's transcripts are: `pinpoint show` reads it
        from pinpoint.data import schema

        write_text(args.transcript, schema.dumps(rows))
    summary = results.summarise({args.model: rows}, args.format_floor)
    if args.output:
        write_text(args.output, json.dumps(summary[args.model], indent=2) + "\n")
    print(summary_table(summary))
    for key, result in summary[args.model].items():
        figures = {m: f["value"] for m, f in result.items() if isinstance(f, dict) and "value" in f}
        status = {"valid": result["valid"], **({"why not": result["invalid_reason"]} if not result["valid"] else {})}
        print(f"\n## {key}\n\n" + markdown_table({args.model: figures | status}, "model"))
    return 0


def cmd_show(args) -> int:
    from pinpoint.figures import show

    print(show.side_by_side(Paths(args.config), args.models, args.suite, args.changed, args.n, args.run))
    return 0


def cmd_heads(args) -> int:
    from pinpoint.figures.tables import markdown_table
    from pinpoint.stage import read_json

    data = read_json(Paths(args.config).metric("heads"))
    named = {f"L{l}H{h}": s for l, row in enumerate(data["scores"]) for h, s in enumerate(row)}
    ranked = sorted(named.items(), key=lambda kv: kv[1])[: args.n]
    selected = set(data["selected"])
    rows = {name: {"score": score, "selected": "yes" if name in selected else ""} for name, score in ranked}
    print(f"top heads ({data['method']}, {data['mode']} patching; score = relative change of F when patched)\n")
    print(markdown_table(rows, "head"))
    return 0


def cmd_report(args) -> int:
    from pinpoint import experiments, params
    from pinpoint.figures import report

    configs = args.config or params.configs()
    if args.exp:
        for config in configs:
            print(experiments.table(config, args.split))
        return 0
    if args.csv:
        import pandas as pd

        from pinpoint.figures import results

        frame = pd.concat([results.frame(c) for c in configs if (Paths(c).metric("eval")).exists()])
        frame.to_csv(sys.stdout if args.csv == "-" else args.csv, index=False)
        return 0
    if args.html:
        from pinpoint.figures import page
        from pinpoint.files import write_text

        for config in configs:
            out = Path(args.html) if len(configs) == 1 else Path(args.html) / f"{config}.html"
            write_text(out, page.of_config(Paths(config)))
            print(f"wrote {out}")
        return 0
    shown = [report.configuration(Paths(config)) for config in configs]
    if not any(shown):
        print("no metrics yet: run `make repro` (or `dvc repro`) first", file=sys.stderr)
        return 1
    print("\n".join(s for s in shown if s))
    return 0


def cmd_check(args) -> int:
    from pinpoint import params
    from pinpoint.figures.gate import missed
    from pinpoint.stage import read_json

    bounds = params.load("checks", args.config, args.params).bounds
    problems = missed(read_json(Paths(args.config).metric("eval")), bounds)
    for line in problems:
        print(f"check failed: {line}", file=sys.stderr)
    if not problems:
        print(f"all {len(bounds)} checks pass")
    return 1 if problems else 0


def cmd_merge(args) -> int:
    from pinpoint.files import atomic_dir
    from pinpoint.models import checkpoints, loading
    from pinpoint.registry.methods import METHODS

    out, tuned = Path(args.out).resolve(), Path(args.tuned).resolve()
    bases = {Paths(c).base.resolve() for c in ("organism", "smollm2")}
    if out == tuned or out in bases or (out.exists() and any(out.iterdir()) and not args.force):
        raise UserError(f"{args.out} exists (or is the input or a base); choose a new directory or pass --force")
    manifest = loading.read_manifest(args.tuned)
    impl = METHODS[manifest["kind"]].implementation() if manifest["kind"] in METHODS else None
    if impl is not None and hasattr(impl, "merge"):  # steering: the shift baked into a bias
        try:
            model, tokenizer = impl.merge(Path(args.tuned), manifest)
        except ValueError as e:
            raise UserError(f"{args.tuned}: {e}") from None
    else:
        model, tokenizer = checkpoints.load(args.tuned, device="cpu")
    with atomic_dir(args.out) as tmp:
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        loading.write_manifest(tmp, {"kind": "full", "merged_from": str(args.tuned)})
    print(f"wrote {args.out}: an ordinary HF model directory")
    return 0


def cmd_probe(args) -> int:
    from pinpoint.probing import probe
    from pinpoint.prompts import render, reply_text

    rows = probe_rows(args)
    fitted, meta = probe.load(args.probe_dir)
    base = Path(args.probe_dir, meta["base_dir"]).resolve() if "base_dir" in meta else None
    model, tokenizer, _ = probe.load_scorer(meta["scorer"], args.device, base)
    fmt = args.format or meta.get("format", "plain")
    examples = [
        probe.Example(
            render([{"role": "user", "content": r["prompt"]}], fmt, tokenizer),
            reply_text(r["response"].strip(), fmt),
            False,
            str(i),
            not args.choice,
        )
        for i, r in enumerate(rows)
    ]
    scores = fitted.score(probe.features(model, tokenizer, examples, layer=meta["layer"])[:, 0])
    for r, score in zip(rows, scores.tolist()):
        print(f"{score:.4f}\t{r['response']}")
    return 0


def cmd_drift(args) -> int:
    from pinpoint.figures import drift

    paths = drift.numeric_paths(args.config)
    if not paths.same:  # another numeric path: say so first, then check the figures against their intervals
        print(paths.line(args.config), file=sys.stderr)
        checked, outside = drift.outside_intervals(args.config)
        for line in outside[: args.n]:
            print(line, file=sys.stderr)
        inside = checked - len(outside)
        print(
            f"drift: {inside} of {checked} figures of {args.config} lie in their committed 95% interval",
            file=sys.stderr,
        )
        return 1 if outside else 0
    found = drift.differences(args.config)
    for line in found[: args.n]:
        print(line, file=sys.stderr)
    if found:
        print(f"drift: {len(found)} figures of {args.config} differ from the committed ones", file=sys.stderr)
        return 1
    print(f"no drift: every committed figure of {args.config} is what this machine computed")
    return 0


def cmd_dag(args) -> int:
    from pinpoint import dag
    from pinpoint.files import write_text

    write_text(args.output, dag.render(Path.cwd()))  # this project's params.yaml and modules
    print(f"wrote {args.output}")
    return 0


def cmd_sweep(args) -> int:
    from pinpoint import experiments

    return experiments.sweep(args.config, args.dry_run)


def cmd_seeds(args) -> int:
    from pinpoint import experiments

    if args.spread:
        from pinpoint import params

        if args.through == "attribute":
            table = experiments.heads_spread(args.config)
        else:
            table = experiments.spread(args.config, experiments.spread_keys(params.load("checks", args.config)))
        print(table)
        return 0 if table else 1
    return experiments.seeds(args.config, args.seeds, args.dry_run, args.through)


def _config(p) -> None:
    p.add_argument(
        "--config", default=DEFAULT_CONFIG, help=f"a configuration from params.yaml (default: {DEFAULT_CONFIG})"
    )


def build_parser() -> argparse.ArgumentParser:
    """Every command and flag (long: it is the command line's one listing, read top to bottom)."""
    parser = Parser(prog="pinpoint", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    suites = [s for s in SUITES if s != "feedback"]

    ev = sub.add_parser("eval", help="evaluate one model on chosen suites")
    ev.add_argument("model", help="a model directory written by pinpoint (models/organism/tuned/spt/seed_0, ...)")
    ev.add_argument(
        "--suites",
        nargs="+",
        default=suites,
        choices=list(SUITES),
        metavar="SUITE",
        help=f"of {', '.join(SUITES)} (default: all but feedback)",
    )
    ev.add_argument(
        "--data", default=str(Paths().filtered), help=f"directory of records (default: {Paths().filtered})"
    )
    ev.add_argument("--split", default="eval", choices=["eval", "validation"])
    ev.add_argument("--base", default=None, help="base model directory, for the KL of the general suite")
    ev.add_argument("--sycophancy-eval", nargs="*", default=[], help="SycophancyEval jsonl files, each reported apart")
    ev.add_argument(
        "--kind",
        nargs="+",
        choices=SYCOPHANCY_EVAL_KINDS,
        help="the kind of the --sycophancy-eval files (one for all, or one each; default: from each name)",
    )
    ev.add_argument("--perez", nargs="*", default=[], help="Perez et al. jsonl files, each reported apart")
    ev.add_argument("--batch-size", type=at_least(1), default=64)
    ev.add_argument("--max-new-tokens", type=at_least(1), default=24)
    ev.add_argument("--max-items", type=at_least(0), default=0, help="per suite and file (0: all)")
    ev.add_argument("--format-floor", type=float, default=0.75, help="multiple choice: control items right at least")
    ev.add_argument(
        "--choice-scoring",
        choices=["letter", "option"],
        default="letter",
        help="multiple choice: score each option's letter ' (A)' or its text ' Agree'",
    )
    ev.add_argument("--device", default="auto")
    ev.add_argument("--output", help="also write the figures as JSON here")
    ev.add_argument("--transcript", help="also write every row it scored here (jsonl; `pinpoint show FILE FILE`)")
    ev.set_defaults(func=cmd_eval)

    show = sub.add_parser("show", help="two models' replies to the same items, side by side")
    show.add_argument(
        "models", nargs=2, metavar="MODEL", help="two of base, a method, bon, bon_probe, or transcript files (.jsonl)"
    )
    show.add_argument("--suite", default="are_you_sure", help="a result key (a suite, or suite@file)")
    show.add_argument("--changed", action="store_true", help="only the items whose verdict differs")
    show.add_argument("-n", type=at_least(1), default=20, help="at most this many items")
    show.add_argument("--run", default=None, help="a run of a method trained with several seeds (default: the first)")
    _config(show)
    show.set_defaults(func=cmd_show)

    heads = sub.add_parser("heads", help="the top heads of the last attribution")
    heads.add_argument("-n", type=at_least(1), default=10)
    _config(heads)
    heads.set_defaults(func=cmd_heads)

    report = sub.add_parser("report", help="print the comparison tables (or write the page, a CSV)")
    report.add_argument(
        "--config", nargs="+", default=None, help="configurations to show (default: all in params.yaml)"
    )
    report.add_argument("--exp", action="store_true", help="one table per experiment, from `dvc exp show`")
    report.add_argument("--split", default=None, help="--exp: the split the experiments evaluated (a column)")
    report.add_argument("--html", metavar="PATH", help="write the report page (a folder for several configurations)")
    report.add_argument("--csv", metavar="PATH", help="every figure as a tidy CSV (- for stdout)")
    report.set_defaults(func=cmd_report)

    check = sub.add_parser("check", help="the metric gate")
    check.add_argument("--params", default="params.yaml")
    _config(check)
    check.set_defaults(func=cmd_check)

    pr = sub.add_parser("probe", help="score responses with the saved sycophancy probe (p(sycophantic))")
    pr.add_argument("--prompt", help="the user's message")
    pr.add_argument("--response", help="the assistant's reply to score")
    pr.add_argument("--file", help="jsonl of {prompt, response} to score instead")
    pr.add_argument(
        "--choice", action="store_true", help="responses are multiple-choice answers (last-token features)"
    )
    pr.add_argument("--format", choices=["plain", "chat"], help="prompt format (default: the probe's)")
    pr.add_argument("--probe-dir", default=str(Paths().probe_model))
    pr.add_argument("--device", default="auto")
    pr.set_defaults(func=cmd_probe)

    merge = sub.add_parser("merge", help="merge a tuned or steered checkpoint into an ordinary HF model")
    merge.add_argument("tuned")
    merge.add_argument("out")
    merge.add_argument("--force", action="store_true", help="replace OUT if it exists")
    merge.set_defaults(func=cmd_merge)

    drift = sub.add_parser("drift", help="compare the committed metrics with the working tree's, key by key")
    _config(drift)
    drift.add_argument("-n", type=at_least(1), default=50, help="name at most this many differences")
    drift.set_defaults(func=cmd_drift)

    dag = sub.add_parser("dag", help="write dvc.yaml from pinpoint/dag.py (after adding a module or a method)")
    dag.add_argument("--output", default="dvc.yaml")
    dag.set_defaults(func=cmd_dag)

    sweep = sub.add_parser("sweep", help="queue and run the recipe grid as DVC experiments (validation split)")
    sweep.add_argument("--config", default="smollm2")
    sweep.add_argument("--dry-run", action="store_true", help="print the experiments, run none")
    sweep.set_defaults(func=cmd_sweep)

    seeds = sub.add_parser("seeds", help="the table over several organism seeds, as DVC experiments")
    seeds.add_argument("--config", default="organism")
    seeds.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    seeds.add_argument("--dry-run", action="store_true", help="print the experiments, run none")
    seeds.add_argument("--spread", action="store_true", help="run nothing: the table over the finished seed runs")
    seeds.add_argument(
        "--through",
        default="summarize",
        choices=["summarize", "attribute"],
        help="how far each seed runs: the whole pipeline, or to attribution (a planted configuration's recovery)",
    )
    seeds.set_defaults(func=cmd_seeds)
    return parser


def main(argv: list[str] | None = None) -> int:
    from pinpoint.stage import USER_ERRORS

    try:
        args = build_parser().parse_args(argv)
        return args.func(args)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except USER_ERRORS as e:
        print(f"error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
