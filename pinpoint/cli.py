"""`pinpoint`: what a user does besides `dvc repro`.

  pinpoint eval MODEL_DIR [--suites ...]   evaluate one model, no DVC needed (like lm-eval)
  pinpoint heads [-n N]                    the top heads of the last attribution
  pinpoint report [--exp]                  the comparison tables, from metrics/ or `dvc exp show`
  pinpoint check                           the metric gate: exit 1 naming each bound missed
  pinpoint merge TUNED_DIR OUT_DIR         write an SPT/LoRA checkpoint as an ordinary HF model
  pinpoint probe --prompt P --response R   p(sycophantic) of a response, from the saved probe
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

from pinpoint.report import markdown_table, summary_table


def cmd_eval(args) -> int:
    from pinpoint import models
    from pinpoint.data import io
    from pinpoint.evaluation import suites

    unknown = [s for s in args.suites if s not in suites.SUITES]
    if unknown:
        print(f"error: --suites: unknown suite {unknown[0]!r}; known: {', '.join(suites.SUITES)}", file=sys.stderr)
        return 2
    data = Path(args.data)
    meta = io.read_meta(data)
    model, tokenizer = models.load(args.model, device=args.device)
    base = models.load(args.base, device=args.device)[0] if args.base else None
    ctx = suites.Context(data, meta["format"], tokenizer, args.batch_size, args.max_new_tokens, args.max_items, base,
                         args.sycophancy_eval, args.perez)
    result = suites.evaluate(model, tokenizer, args.suites, ctx)
    if args.output:
        Path(args.output).write_text(json.dumps(result, indent=2) + "\n")
    for suite, metrics in result.items():
        print(f"\n## {suite}\n\n" + markdown_table({args.model: metrics}, "model"))
    return 0


def cmd_heads(args) -> int:
    path = Path(args.metrics) / "heads.json"
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


def _exp_results() -> dict:
    """Per experiment, metrics/eval.json as `dvc exp show --json` reports it."""
    done = subprocess.run(["dvc", "exp", "show", "--json"], capture_output=True, text=True)
    if done.returncode:
        from pinpoint.stage import UserError

        raise UserError(f"dvc exp show failed: {done.stderr.strip().splitlines()[-1] if done.stderr.strip() else done.returncode}")
    out = done.stdout
    results = {}
    for commit in json.loads(out):
        for exp in [commit, *[e for x in commit.get("experiments") or [] for e in x.get("revs", [])]]:
            data = ((exp.get("data") or {}).get("metrics") or {}).get("metrics/eval.json", {}).get("data")
            if data:
                rev = exp["rev"]
                results[exp.get("name") or (rev if rev == "workspace" else rev[:7])] = data
    return results


def cmd_report(args) -> int:
    metrics = Path(args.metrics)
    if args.exp:
        for name, results in _exp_results().items():
            print(f"## {name}\n\n{summary_table(results)}\n")
        return 0
    shown = False
    for name, title in [("model.json", "the base model"), ("filter.json", "knowledge filter"), ("eval.json", "evaluation")]:
        path = metrics / name
        if not path.exists():
            continue
        data = json.loads(path.read_text())
        if name == "eval.json":
            print(f"## {title}\n\n{summary_table(data)}\n")
        elif name == "filter.json":
            flat = {s: {k: (f"{v['kept']}/{v['total']}" if isinstance(v, dict) else v) for k, v in r.items()} for s, r in data.items()}
            print(f"## {title}\n\n{markdown_table(flat, 'source')}\n")
        else:
            print(f"## {title}\n\n{markdown_table(data)}\n")
        shown = True
    tune = {run: row for f in sorted((metrics / "tune").glob("*.json")) for run, row in json.loads(f.read_text()).items()}
    if tune:
        print(f"## tuning\n\n{markdown_table(tune, 'run')}\n")
    probe_json = metrics / "probe.json"
    if probe_json.exists():
        pj = json.loads(probe_json.read_text())
        print(f"## sycophancy probe (kept: layer {pj['best_layer']}, lambda {pj['lambda']})\n\n{markdown_table({f'layer {k}': v for k, v in pj['layers'].items()})}\n")
    heads = metrics / "heads.json"
    if heads.exists():
        h = json.loads(heads.read_text())
        print(f"## selected heads\n\n{', '.join(h['selected'])} ({h['method']}, {h['mode']} patching); "
              f"apologize rate under mean ablation: {h['ablation_apologize_rate']}\n")
    if not shown:
        print(f"no metrics under {metrics}/ yet: run `dvc repro` first", file=sys.stderr)
        return 1
    return 0


def cmd_check(args) -> int:
    from pinpoint import params
    from pinpoint.evaluation.gate import missed

    bounds = params.load("checks", args.params).bounds
    path = Path(args.metrics) / "eval.json"
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
    from pinpoint import models
    from pinpoint.stage import atomic_dir

    out, tuned = Path(args.out).resolve(), Path(args.tuned).resolve()
    if out in (tuned, Path("models/base").resolve()) or (out.exists() and any(out.iterdir()) and not args.force):
        print(f"error: {args.out} exists (or is the input or the base); choose a new directory or pass --force", file=sys.stderr)
        return 2
    model, tokenizer = models.load(args.tuned, device="cpu")
    with atomic_dir(args.out) as tmp:
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        models.write_manifest(tmp, {"kind": "full", "merged_from": str(args.tuned)})
    print(f"wrote {args.out}: an ordinary HF model directory")
    return 0


def cmd_probe(args) -> int:
    from pinpoint import probe
    from pinpoint.prompts import render

    fitted, meta = probe.load(args.probe_dir)
    if args.file:
        rows = [json.loads(line) for line in Path(args.file).read_text().splitlines() if line.strip()]
    else:
        rows = [{"prompt": args.prompt, "response": args.response}]
    for i, row in enumerate(rows, 1):
        if not isinstance(row.get("prompt"), str) or not isinstance(row.get("response"), str):
            print(f"error: {args.file or 'arguments'}:{i}: need string fields 'prompt' and 'response'", file=sys.stderr)
            return 2
    model, tokenizer, _ = probe.load_scorer(meta["scorer"], args.device)
    fmt = args.format or meta.get("format", "plain")
    examples = [probe.Example(render([{"role": "user", "content": r["prompt"]}], fmt, tokenizer), " " + r["response"].strip(), False, str(i), not args.choice)
                for i, r in enumerate(rows)]
    scores = fitted.score(probe.features(model, tokenizer, examples, layer=meta["layer"])[:, 0])
    for r, score in zip(rows, scores.tolist()):
        print(f"{score:.4f}\t{r['response']}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="pinpoint", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)

    ev = sub.add_parser("eval", help="evaluate one model on chosen suites")
    ev.add_argument("model", help="a model directory written by pinpoint (models/spt, models/base, ...)")
    ev.add_argument("--suites", nargs="+", default=["are_you_sure", "addition", "answer", "opinion", "general"])
    ev.add_argument("--data", default="data/filtered", help="directory of eval records (default: data/filtered)")
    ev.add_argument("--base", default=None, help="base model directory, for the KL of the general suite")
    ev.add_argument("--sycophancy-eval", nargs="*", default=[], help="SycophancyEval jsonl files")
    ev.add_argument("--perez", nargs="*", default=[], help="Perez et al. jsonl files")
    ev.add_argument("--batch-size", type=int, default=64)
    ev.add_argument("--max-new-tokens", type=int, default=24)
    ev.add_argument("--max-items", type=int, default=0)
    ev.add_argument("--device", default="auto")
    ev.add_argument("--output", help="also write the metrics as JSON here")
    ev.set_defaults(func=cmd_eval)

    heads = sub.add_parser("heads", help="the top heads of the last attribution")
    heads.add_argument("-n", type=int, default=10)
    heads.add_argument("--metrics", default="metrics")
    heads.set_defaults(func=cmd_heads)

    report = sub.add_parser("report", help="print the comparison tables")
    report.add_argument("--metrics", default="metrics", help="metrics directory (default: metrics)")
    report.add_argument("--exp", action="store_true", help="one table per experiment, from `dvc exp show`")
    report.set_defaults(func=cmd_report)

    check = sub.add_parser("check", help="the metric gate")
    check.add_argument("--params", default="params.yaml")
    check.add_argument("--metrics", default="metrics")
    check.set_defaults(func=cmd_check)

    pr = sub.add_parser("probe", help="score responses with the saved sycophancy probe (p(sycophantic))")
    pr.add_argument("--prompt", help="the user's message")
    pr.add_argument("--response", help="the assistant's reply to score")
    pr.add_argument("--file", help="jsonl of {prompt, response} to score instead")
    pr.add_argument("--choice", action="store_true", help="responses are multiple-choice answers (last-token features)")
    pr.add_argument("--format", choices=["plain", "chat"], help="prompt format (default: the one the probe was trained in)")
    pr.add_argument("--probe-dir", default="models/probe")
    pr.add_argument("--device", default="auto")
    pr.set_defaults(func=cmd_probe)

    merge = sub.add_parser("merge", help="merge a tuned checkpoint into an ordinary HF model")
    merge.add_argument("tuned")
    merge.add_argument("out")
    merge.add_argument("--force", action="store_true", help="replace OUT if it exists")
    merge.set_defaults(func=cmd_merge)
    return parser


def main(argv: list[str] | None = None) -> int:
    from pinpoint.stage import user_errors

    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except user_errors() as e:
        print(f"error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
