"""`pinpoint`: what a user does besides `dvc repro`.

  pinpoint eval MODEL_DIR [--suites ...]   evaluate one model, no DVC needed (like lm-eval)
  pinpoint heads [-n N]                    the top heads of the last attribution
  pinpoint report [--exp]                  the comparison tables, from metrics/ or `dvc exp show`
  pinpoint check                           the metric gate: exit 1 naming each bound missed
  pinpoint merge TUNED_DIR OUT_DIR         write an SPT/LoRA checkpoint as an ordinary HF model
  pinpoint probe --prompt P --response R   p(sycophantic) of a response, from the saved probe

Every command checks its arguments and input files before it loads a model. A mistake ends
in one line on stderr naming the culprit and exit code 2; Ctrl-C in "interrupted" and exit
code 130, with no traceback and no partial output (outputs are written atomically).
Commands import torch-heavy modules inside themselves, so `pinpoint --help` answers at once.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import typing
from pathlib import Path

from pinpoint.data.external import SycophancyEvalKind
from pinpoint.errors import UserError
from pinpoint.paths import DEFAULT_CONFIG, Paths
from pinpoint.report import markdown_table, shown, summary_table


class Parser(argparse.ArgumentParser):
    """argparse, but a bad command line is one line and exit 2 like every other user error
    (argparse's own usage block would bury the culprit)."""

    def error(self, message):
        raise UserError(f"{self.prog}: {message} (see {self.prog} --help)")


def at_least(lo: int):
    """An argparse type: an integer >= lo (a batch of 0 would hang or silently score nothing)."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
        if value < lo:
            raise argparse.ArgumentTypeError(f"must be >= {lo}, got {value}")
        return value

    return parse


def sycophancy_eval_entries(paths: list[str], kinds: list[str] | None) -> list:
    """--sycophancy-eval files with their --kind (one for all, or one each); no --kind: each name tells its kind."""
    if not kinds:
        return list(paths)
    if not paths:
        raise UserError("--kind: names the kind of --sycophancy-eval files, and none is given")
    if len(kinds) == 1:
        kinds = kinds * len(paths)
    if len(kinds) != len(paths):
        n = len(paths)
        raise UserError(f"--kind: give one kind for all {n} --sycophancy-eval files, or one each; got {len(kinds)}")
    return [{"path": path, "kind": kind} for path, kind in zip(paths, kinds)]


def cmd_eval(args) -> int:
    from dataclasses import replace

    from pinpoint import checkpoints
    from pinpoint.data import io
    from pinpoint.evaluation import suites
    from pinpoint.files import write_text

    unknown = [s for s in args.suites if s not in suites.SUITES]
    if unknown:
        raise UserError(f"--suites: unknown suite {unknown[0]!r}; known: {', '.join(suites.SUITES)}")
    data = Path(args.data)
    meta = io.read_meta(data)
    ctx = suites.Context(
        data,
        meta["format"],
        None,
        args.batch_size,
        args.max_new_tokens,
        args.max_items,
        sycophancy_eval=sycophancy_eval_entries(args.sycophancy_eval, args.kind),
        perez=args.perez,
    )
    parts = suites.load_parts(args.suites, ctx)  # every input read and checked before a model loads
    empty = [s for s in args.suites if not any(name == s for _, name, _ in parts)]
    if empty:
        raise UserError(f"--suites: no records for {', '.join(empty)} in {data} or the external files given")
    model, tokenizer = checkpoints.load(args.model, device=args.device)
    base = checkpoints.load(args.base, device=args.device)[0] if args.base else None
    result = suites.score_parts(model, tokenizer, parts, replace(ctx, tokenizer=tokenizer, base_model=base))
    if args.output:
        write_text(args.output, json.dumps(result, indent=2) + "\n")
    for key, metrics in result.items():
        print(f"\n## {key}\n\n" + markdown_table({args.model: shown(metrics)}, "model"))
    return 0


def cmd_heads(args) -> int:
    path = Paths(args.config).metrics / "heads.json"
    if not path.exists():
        print(f"error: {path}: not found; run `dvc repro attribute` first", file=sys.stderr)
        return 2
    data = json.loads(path.read_text())
    named = {f"L{l}H{h}": s for l, row in enumerate(data["scores"]) for h, s in enumerate(row)}
    ranked = sorted(named.items(), key=lambda kv: kv[1])[: args.n]
    selected = set(data["selected"])
    rows = {name: {"score": score, "selected": "yes" if name in selected else ""} for name, score in ranked}
    print(f"top heads ({data['method']}, {data['mode']} patching; score = relative change of F when patched)\n")
    print(markdown_table(rows, "head"))
    return 0


def _exp_results(config: str) -> dict:
    """Per experiment, metrics/<config>/eval.json as `dvc exp show --json` reports it."""
    done = subprocess.run(["dvc", "exp", "show", "--json"], capture_output=True, text=True)
    if done.returncode:
        raise UserError(
            f"dvc exp show failed: {done.stderr.strip().splitlines()[-1] if done.stderr.strip() else done.returncode}"
        )
    key = str(Paths(config).metrics / "eval.json")
    results = {}
    for commit in json.loads(done.stdout):
        for exp in [commit, *[e for x in commit.get("experiments") or [] for e in x.get("revs", [])]]:
            data = ((exp.get("data") or {}).get("metrics") or {}).get(key, {}).get("data")
            if data:
                rev = exp["rev"]
                results[exp.get("name") or (rev if rev == "workspace" else rev[:7])] = data
    return results


def cmd_report(args) -> int:
    from pinpoint import params

    configs = args.config or params.configs()
    if args.exp:
        for config in configs:
            for name, results in _exp_results(config).items():
                print(f"## {config}: {name}\n\n{summary_table(results)}\n")
        return 0
    shown = [_report_config(Paths(config)) for config in configs]
    if not any(shown):
        print("no metrics yet: run `make repro` (or `dvc repro`) first", file=sys.stderr)
        return 1
    return 0


def _report_config(paths: Paths) -> bool:
    """Every table of one configuration; False when it has no metrics yet."""
    metrics = paths.metrics
    if not metrics.exists():
        return False
    print(f"# {paths.config}\n")
    for name, title in [
        ("model.json", "the base model"),
        ("filter.json", "knowledge filter"),
        ("eval.json", "evaluation"),
    ]:
        path = metrics / name
        if not path.exists():
            continue
        data = json.loads(path.read_text())
        if name == "eval.json":
            print(f"## {title}\n\n{summary_table(data)}\n")
        elif name == "filter.json":
            flat = {
                s: {k: (f"{v['kept']}/{v['total']}" if isinstance(v, dict) else v) for k, v in r.items()}
                for s, r in data.items()
            }
            print(f"## {title}\n\n{markdown_table(flat, 'source')}\n")
        else:
            rows = {k: {c: v for c, v in row.items() if not isinstance(v, dict)} for k, row in data.items()}
            print(f"## {title}\n\n{markdown_table(rows)}\n")
    tune = {
        run: row for f in sorted((metrics / "tune").glob("*.json")) for run, row in json.loads(f.read_text()).items()
    }
    if tune:
        print(f"## tuning\n\n{markdown_table(tune, 'run')}\n")
    probe_json = metrics / "probe.json"
    if probe_json.exists():
        pj = json.loads(probe_json.read_text())
        layers = markdown_table({f"layer {k}": v for k, v in pj["layers"].items()})
        print(f"## sycophancy probe (kept: layer {pj['best_layer']}, lambda {pj['lambda']})\n\n{layers}\n")
    heads = metrics / "heads.json"
    if heads.exists():
        h = json.loads(heads.read_text())
        print(
            f"## selected heads\n\n{', '.join(h['selected'])} ({h['method']}, {h['mode']} patching); "
            f"apologize rate under mean ablation: {h['ablation_apologize_rate']}\n"
        )
    costs = {f.stem: json.loads(f.read_text()) for f in sorted(paths.logs.glob("*.json"))}
    if costs:  # machine-dependent: from the git-ignored logs/, never a versioned metric
        print(f"## what the stages cost on this machine (logs/{paths.config}/)\n\n{markdown_table(costs, 'stage')}\n")
    return True


def cmd_check(args) -> int:
    from pinpoint import params
    from pinpoint.evaluation.gate import missed

    bounds = params.load("checks", args.config, args.params).bounds
    path = Paths(args.config).metrics / "eval.json"
    if not path.exists():
        print(f"error: {path}: not found; run `dvc repro evaluate` first", file=sys.stderr)
        return 2
    problems = missed(json.loads(path.read_text()), bounds)
    for line in problems:
        print(f"check failed: {line}", file=sys.stderr)
    if not problems:
        print(f"all {len(bounds)} checks pass")
    return 1 if problems else 0


def cmd_merge(args) -> int:
    from pinpoint import checkpoints, models
    from pinpoint.files import atomic_dir

    out, tuned = Path(args.out).resolve(), Path(args.tuned).resolve()
    if out in (tuned, Path("models/base").resolve()) or (out.exists() and any(out.iterdir()) and not args.force):
        print(
            f"error: {args.out} exists (or is the input or the base); choose a new directory or pass --force",
            file=sys.stderr,
        )
        return 2
    model, tokenizer = checkpoints.load(args.tuned, device="cpu")
    with atomic_dir(args.out) as tmp:
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        models.write_manifest(tmp, {"kind": "full", "merged_from": str(args.tuned)})
    print(f"wrote {args.out}: an ordinary HF model directory")
    return 0


def probe_rows(args) -> list[dict]:
    """The {prompt, response} pairs to score, checked before the probe and its model load:
    a file's bad line is named file:line, an empty response is refused (nothing to score)."""
    from pinpoint.data.schema import iter_jsonl

    if args.file:
        if args.prompt is not None or args.response is not None:
            raise UserError("--file: score a file or one --prompt/--response pair, not both")
        rows = [(f"{args.file}:{n}", row) for n, row in iter_jsonl(args.file)]
        if not rows:
            raise UserError(f"{args.file}: empty file (no rows to score)")
    elif args.prompt is None or args.response is None:
        raise UserError("give --prompt and --response, or --file")
    else:
        rows = [("--response", {"prompt": args.prompt, "response": args.response})]
    for where, row in rows:
        if not (isinstance(row, dict) and isinstance(row.get("prompt"), str) and isinstance(row.get("response"), str)):
            raise UserError(f"{where}: need string fields 'prompt' and 'response'")
        if not row["response"].strip():
            raise UserError(f"{where}: the response is empty: nothing to score")
    return [row for _, row in rows]


def cmd_probe(args) -> int:
    from pinpoint import probe
    from pinpoint.prompts import render

    rows = probe_rows(args)
    fitted, meta = probe.load(args.probe_dir)
    base = Path(args.probe_dir, meta["base_dir"]).resolve() if "base_dir" in meta else None
    model, tokenizer, _ = probe.load_scorer(meta["scorer"], args.device, base)
    fmt = args.format or meta.get("format", "plain")
    examples = [
        probe.Example(
            render([{"role": "user", "content": r["prompt"]}], fmt, tokenizer),
            " " + r["response"].strip(),
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


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="pinpoint", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)

    ev = sub.add_parser("eval", help="evaluate one model on chosen suites")
    ev.add_argument("model", help="a model directory written by pinpoint (models/spt, models/base, ...)")
    ev.add_argument("--suites", nargs="+", default=["are_you_sure", "addition", "answer", "opinion", "general"])
    ev.add_argument(
        "--data", default=str(Paths().filtered), help=f"directory of eval records (default: {Paths().filtered})"
    )
    ev.add_argument("--base", default=None, help="base model directory, for the KL of the general suite")
    ev.add_argument("--sycophancy-eval", nargs="*", default=[], help="SycophancyEval jsonl files, each reported apart")
    ev.add_argument(
        "--kind",
        nargs="+",
        choices=typing.get_args(SycophancyEvalKind),
        help="the kind of the --sycophancy-eval files (one for all, or one each; default: from each name)",
    )
    ev.add_argument("--perez", nargs="*", default=[], help="Perez et al. jsonl files, each reported apart")
    ev.add_argument("--batch-size", type=at_least(1), default=64)
    ev.add_argument("--max-new-tokens", type=at_least(1), default=24)
    ev.add_argument("--max-items", type=at_least(0), default=0, help="per suite and file (0: all)")
    ev.add_argument("--device", default="auto")
    ev.add_argument("--output", help="also write the metrics as JSON here")
    ev.set_defaults(func=cmd_eval)

    heads = sub.add_parser("heads", help="the top heads of the last attribution")
    heads.add_argument("-n", type=at_least(1), default=10)
    heads.add_argument(
        "--config", default=DEFAULT_CONFIG, help=f"a configuration from params.yaml (default: {DEFAULT_CONFIG})"
    )
    heads.set_defaults(func=cmd_heads)

    report = sub.add_parser("report", help="print the comparison tables")
    report.add_argument(
        "--config", nargs="+", default=None, help="configurations to show (default: all in params.yaml)"
    )
    report.add_argument("--exp", action="store_true", help="one table per experiment, from `dvc exp show`")
    report.set_defaults(func=cmd_report)

    check = sub.add_parser("check", help="the metric gate")
    check.add_argument("--params", default="params.yaml")
    check.add_argument(
        "--config", default=DEFAULT_CONFIG, help=f"a configuration from params.yaml (default: {DEFAULT_CONFIG})"
    )
    check.set_defaults(func=cmd_check)

    pr = sub.add_parser("probe", help="score responses with the saved sycophancy probe (p(sycophantic))")
    pr.add_argument("--prompt", help="the user's message")
    pr.add_argument("--response", help="the assistant's reply to score")
    pr.add_argument("--file", help="jsonl of {prompt, response} to score instead")
    pr.add_argument(
        "--choice", action="store_true", help="responses are multiple-choice answers (last-token features)"
    )
    pr.add_argument(
        "--format", choices=["plain", "chat"], help="prompt format (default: the one the probe was trained in)"
    )
    pr.add_argument("--probe-dir", default=str(Paths().probe_model))
    pr.add_argument("--device", default="auto")
    pr.set_defaults(func=cmd_probe)

    merge = sub.add_parser("merge", help="merge a tuned checkpoint into an ordinary HF model")
    merge.add_argument("tuned")
    merge.add_argument("out")
    merge.add_argument("--force", action="store_true", help="replace OUT if it exists")
    merge.set_defaults(func=cmd_merge)
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
