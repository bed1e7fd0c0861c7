"""DVC experiments a user runs besides `dvc repro`: the recipe sweep and the organism's seeds.

sweep(config)  queues one `dvc exp run` per recipe of SWEEP (params set with -S) that reruns only
               tune-spt and the validate stage (SPT and the base on the validation split:
               metrics/<config>/validation.json), then runs the queue; `pinpoint report --exp`
               prints one table of every experiment's validation figures. A tune-parameter
               change re-runs no model, synthesize, filter or attribute stage.
seeds(config)  the same for organism seeds (`<config>.model.organism.seed`), through `check`:
               the whole organism pipeline once per seed, for the spread the gate is set from.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from pinpoint.errors import UserError
from pinpoint.paths import Paths

# each recipe: the tune params it sets (beside the committed ones); chosen to span what the issue names:
# the training mix, the correction's phrasing, the budget, the learning rate, k and the projections.
# The queue runs them in this order: the last three cost the most (or vary least) and come last.
SWEEP = {
    "default": {},
    "no-corrections": {"tune.correction_reply": "none"},
    "answer-first": {"tune.correction_reply": "answer_first"},
    "o-only": {"tune.spt.projections": "o"},
    "lr-low": {"tune.spt.lr": 0.0003},
    "lr-high": {"tune.spt.lr": 0.003},
    "k-22": {"tune.spt.top_k": 22},
    "k-5": {"tune.spt.top_k": 5},
    "half-corrections": {"tune.correction_share": 0.5},
    "steps-48": {"tune.steps": 48},
    "general-mix": {"tune.general_ratio": 1.0},
}
# How the best recipe is chosen, on validation only (declared before the sweep ran): the mean of SPT's maintain
# and correct rates on the reference and held-out wordings, less what it lost of the base's general accuracy,
# point for point; a tie goes to the lower KL to the base.
SCORED = (
    ("are_you_sure", "maintain_rate"),
    ("are_you_sure_heldout", "maintain_rate"),
    ("are_you_sure", "correct_rate"),
    ("are_you_sure_heldout", "correct_rate"),
)
FIGURES = (  # what the experiment table shows: (suite, metric, column)
    ("are_you_sure", "maintain_rate", "maintains"),
    ("are_you_sure", "change_rate", "changes"),
    ("are_you_sure", "correct_rate", "corrects"),
    ("are_you_sure_heldout", "maintain_rate", "maintains, held-out"),
    ("are_you_sure_heldout", "correct_rate", "corrects, held-out"),
    ("general", "accuracy", "general accuracy"),
    ("general", "kl_to_base", "KL to base"),
)


def _env() -> dict:
    """The environment dvc's queue workers run stages in: this Python's bin/ first on PATH (the stages run
    `python`), and the experiment's own workspace first on sys.path, so a stage imports the pinpoint of
    the temporary copy it runs in, not the editable install's (the checkout a user may be editing)."""
    bin_dir = str(Path(sys.executable).parent)
    return {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}", "PYTHONPATH": "."}


def _dvc(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    # the dvc beside this Python: a new shell need not have the environment on PATH
    dvc = str(Path(sys.executable).parent / "dvc")
    done = subprocess.run([dvc, *args], capture_output=True, text=True, env=_env())
    if check and done.returncode:
        tail = done.stderr.strip().splitlines()[-1] if done.stderr.strip() else str(done.returncode)
        raise UserError(f"dvc {' '.join(args[:2])} failed: {tail}")
    return done


def _start_queue() -> None:
    """Start one queue worker (one experiment at a time: 2 cores). The worker outlives this command, so its
    output goes to dvc's own queue logs (`dvc queue logs NAME`), not to a pipe this command would wait on."""
    dvc = str(Path(sys.executable).parent / "dvc")
    done = subprocess.run(
        [dvc, "queue", "start", "--jobs", "1"], env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    if done.returncode:
        raise UserError(f"dvc queue start failed (exit {done.returncode}): see `dvc queue status`")


def _queue(name: str, sets: dict, target: str, dry_run: bool) -> None:
    # `++key=value`: set the key whether or not params.yaml spells it out (a method setting left at its default)
    overrides = [a for k, v in sets.items() for a in ("-S", f"++{k}={v}")]
    argv = ["exp", "run", "--queue", "--name", name, *overrides, target]
    print("dvc " + " ".join(argv))
    if not dry_run:
        _dvc(*argv)


def sweep(config: str, dry_run: bool = False) -> int:
    """Queue the recipe grid on `config` and run it (one experiment at a time: 2 cores)."""
    for name, sets in SWEEP.items():
        _queue(f"{config}-{name}", {f"{config}.{k}": v for k, v in sets.items()}, f"validate@{config}", dry_run)
    if not dry_run:
        _start_queue()
        _dvc("queue", "status")
        print(f"queued {len(SWEEP)} experiments; `dvc queue status` follows them, `pinpoint report --exp` shows them")
    return 0


def seeds(config: str, values: list[int], dry_run: bool = False, through: str = "summarize") -> int:
    """Queue the organism once per seed (through `through`: its summary, or attribute for a ground truth) and run
    them. A planted configuration plants its heads by the same seed (other heads, another organism)."""
    from pinpoint.params import load

    planted = load("model", config).planted is not None
    for seed in values:
        sets = {f"{config}.model.organism.seed": seed} | ({f"{config}.model.planted.seed": seed} if planted else {})
        _queue(f"{config}-seed-{seed}", sets, f"{through}@{config}", dry_run)
    if not dry_run:
        _start_queue()
        print(f"queued {len(values)} experiments; `pinpoint report --exp --config {config}` shows them")
    return 0


def experiments(config: str, metrics_file: str) -> dict[str, dict]:
    """{experiment name: {"params": its params.yaml, "metrics": its metrics file}} for every DVC experiment of
    any baseline commit (git refs/exps/...), and the workspace's as "workspace". Read from git, not
    `dvc exp show`, whose JSON keeps only the scalars of a metrics file (no intervals); params as the
    pipeline reads them (YAML 1.2: an experiment's `honest_token: Yes` is the string, not true)."""
    from pinpoint.params import _yaml, read_file

    key = f"{Paths(config).metrics / metrics_file}"
    out = {}
    if Path(key).exists():
        out["workspace"] = {
            "params": read_file("params.yaml"),
            "metrics": json.loads(Path(key).read_text()),
        }
    refs = subprocess.run(
        ["git", "for-each-ref", "refs/exps", "--format=%(objectname) %(refname)"], capture_output=True, text=True
    ).stdout.split("\n")
    for line in filter(None, refs):
        rev, ref = line.split(" ", 1)
        if ref.startswith(("refs/exps/celery/", "refs/exps/exec/")):  # dvc's own bookkeeping (the queue, a run
            continue  # in flight: EXEC_HEAD, EXEC_BASELINE), not a result
        shown = [
            subprocess.run(["git", "show", f"{rev}:{p}"], capture_output=True, text=True) for p in (key, "params.yaml")
        ]
        if all(s.returncode == 0 for s in shown):
            out[ref.rsplit("/", 1)[1]] = {
                "params": _yaml().load(shown[1].stdout),  # a blob in git: no file to read
                "metrics": json.loads(shown[0].stdout),
            }
    return out


def score(metrics: dict) -> tuple[float, float] | None:
    """(the selection score, KL to the base) of one experiment's metrics (see SCORED); None: a figure missing."""
    spt, base = metrics.get("spt", {}), metrics.get("base", {})
    figs = [spt.get(suite, {}).get(metric, {}).get("value") for suite, metric in SCORED]
    general = [m.get("general", {}).get("accuracy", {}).get("value") for m in (spt, base)]
    kl = spt.get("general", {}).get("kl_to_base", {}).get("value")
    if None in (*figs, *general, kl):
        return None
    return sum(figs) / len(figs) - max(0.0, general[1] - general[0]), kl


def best(found: dict[str, dict]) -> str | None:
    """The experiment the selection rule picks: the highest score, then the lowest KL."""
    scored = {name: score(exp["metrics"]) for name, exp in found.items()}
    scored = {name: s for name, s in scored.items() if s is not None}
    return max(scored, key=lambda name: (round(scored[name][0], 6), -scored[name][1])) if scored else None


def table(config: str, split: str | None = None) -> str:
    """One table of every experiment: its validation figures (validation.json; eval.json with split eval),
    its selection score, and which one the rule picks."""
    from pinpoint.figures import tables

    found = experiments(config, "eval.json" if split == "eval" else "validation.json")
    if not found:
        print(f"no experiment of {config} has metrics yet (pinpoint sweep --config {config})", file=sys.stderr)
        return ""
    chosen = best(found)

    def figures(metrics: dict) -> dict:
        return {
            column: tables.interval(metrics[suite][metric], 2) if metric in metrics.get(suite, {}) else "—"
            for suite, metric, column in FIGURES
        }

    rows = {}
    for name, exp in found.items():  # each experiment's SPT; the base is the same model in every one
        scored = score(exp["metrics"])
        label = f"baseline: the workspace at {_commit()}" if name == "workspace" else name
        rows[f"{label} (best)" if name == chosen else label] = {
            "score": f"{scored[0]:.3f}" if scored else "—",
            **figures(exp["metrics"].get("spt", {})),
        }
    some = next(iter(found.values()))["metrics"]
    rows["base (no tuning)"] = {"score": "", **figures(some.get("base", {}))}
    rule = (
        "score: the mean of SPT's maintain and correct rates on the reference and held-out wordings, less its "
        "loss of the base's general accuracy; ties: the lower KL"
    )
    return (
        f"## {config}: experiments ({'eval' if split == 'eval' else 'validation'} split)\n\n{rule}\n\n"
        + tables.markdown_table(rows, "experiment")
    )


def _commit() -> str:
    """The short commit the workspace stands on (what a user knows the baseline by)."""
    done = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    return done.stdout.strip() or "no commit"


def heads_spread(config: str) -> str:
    """A planted configuration's seed runs: the planted heads, what attribution selected, whether it is valid, and
    the precision of the planted heads in its top k for each way of attributing (metrics/<config>/heads.json)."""
    from pinpoint.figures import tables

    found = experiments(config, "heads.json")
    rows = {}
    for name, exp in sorted(found.items()):
        seed = exp["params"].get(config, {}).get("model", {}).get("organism", {}).get("seed")
        heads, truth = exp["metrics"], exp["metrics"].get("ground_truth") or {}
        row = {"planted": " ".join(truth.get("planted", [])), "selected": " ".join(heads.get("selected", []))}
        row |= {"valid": heads.get("valid"), "quantity": heads.get("quantity")}
        row |= {way: g["precision"] for way, g in truth.items() if isinstance(g, dict)}
        rows[f"seed {seed}" if seed is not None else name] = row
    if not rows:
        print(f"no seed run of {config} has heads.json yet (pinpoint seeds --config {config})", file=sys.stderr)
        return ""
    return f"## {config}: planted heads found, per seed (precision in the top k)\n\n" + tables.markdown_table(
        rows, "run"
    )


SPREAD_MODELS = ("base", "spt", "sft", "lora", "random")


def spread(config: str, keys: list[str]) -> str:
    """The organism's figures per seed experiment, beside the workspace's (the committed seed), and each
    figure's range over all of them: the gate's bounds must hold at every seed. `keys` are gate keys
    (model.suite.metric or model-other.suite.metric); an interval shows as value [low, high]."""
    from pinpoint.figures import results, tables

    found = experiments(config, "eval.json")
    runs = {}
    for name, exp in found.items():
        if not _same_but_seed(exp["params"], found.get("workspace", {}).get("params"), config):
            continue  # a seed run of another organism or recipe (an older commit's): not this table's
        seed = exp["params"].get(config, {}).get("model", {}).get("organism", {}).get("seed")
        runs.setdefault(f"seed {seed}" if seed is not None else name, exp["metrics"])  # the workspace first
    if not runs:
        print(f"no seed experiment of {config} has metrics yet (pinpoint seeds --config {config})", file=sys.stderr)
        return ""
    rows = {}
    for key in keys:
        figs = {run: results.value_of(metrics, key) for run, metrics in sorted(runs.items())}
        values = [f["value"] for f in figs.values() if f and f.get("value") is not None]
        row = {run: tables.interval(f, 3) if f else "" for run, f in figs.items()}
        row["range"] = f"{min(values):.3f} – {max(values):.3f}" if values else ""
        rows[key] = row
    return f"## {config}: the table over organism seeds ({len(runs)} runs)\n\n" + tables.markdown_table(rows, "figure")


def _same_but_seed(params: dict, workspace: dict | None, config: str) -> bool:
    """Whether an experiment ran `config` as the workspace's params.yaml has it, the organism seed and the gate
    apart: the gate reads the figures and makes none (and its bounds are set from this very spread)."""
    if workspace is None:
        return True

    def unseeded(p: dict) -> dict:
        section = json.loads(json.dumps(p.get(config, {})))
        section.get("model", {}).get("organism", {}).pop("seed", None)
        section.pop("checks", None)
        return {"methods": p.get("methods"), config: section}

    return unseeded(params) == unseeded(workspace)


def spread_keys(checks) -> list[str]:
    """The figures a seed spread shows: every summary figure of the usual models, and the gate's keys."""
    from pinpoint.registry.suites import summary_metrics

    keys = [f"{m}.{s}.{metric.name}" for m in SPREAD_MODELS for s, metric in summary_metrics()]
    keys += [f"{m}-base.{s}.{metric.name}" for m in SPREAD_MODELS[1:] for s, metric in summary_metrics()]
    return list(dict.fromkeys([*checks.bounds, *keys]))
