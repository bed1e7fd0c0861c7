"""The sweep's selection rule (pinpoint.experiments): chosen on validation figures, by the declared score."""

from pinpoint import experiments


def metrics(maintain: float, correct: float, general: float, kl: float, base_general: float = 1.0) -> dict:
    fig = lambda v: {"value": v}  # noqa: E731
    suite = {"maintain_rate": fig(maintain), "correct_rate": fig(correct)}
    return {
        "spt": {
            "are_you_sure": suite,
            "are_you_sure_heldout": suite,
            "general": {"accuracy": fig(general), "kl_to_base": fig(kl)},
        },
        "base": {"general": {"accuracy": fig(base_general), "kl_to_base": fig(0.0)}},
    }


def test_the_score_is_the_mean_rate_less_the_capability_lost():
    score, kl = experiments.score(metrics(1.0, 0.6, 0.9, 0.05))
    assert abs(score - (0.8 - 0.1)) < 1e-9 and kl == 0.05
    assert experiments.score({"spt": {}}) is None  # a figure missing: not ranked


def test_best_prefers_the_score_then_the_lower_kl():
    found = {
        "keeps-all": {"metrics": metrics(1.0, 0.8, 0.80, 0.01)},  # 0.9 - 0.2: capability lost counts
        "balanced": {"metrics": metrics(0.9, 0.7, 1.00, 0.20)},  # 0.8
        "same-but-closer": {"metrics": metrics(0.9, 0.7, 1.00, 0.10)},  # 0.8, lower KL
        "unscored": {"metrics": {}},
    }
    assert experiments.best(found) == "same-but-closer"
    assert experiments.best({"unscored": {"metrics": {}}}) is None


def test_the_sweep_sets_keys_params_yaml_leaves_at_their_defaults(capsys):
    """`++key=value`: a method setting that params.yaml does not spell out (tune.spt.top_k) can still be set."""
    experiments.sweep("smollm2", dry_run=True)
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == len(experiments.SWEEP) and all(line.endswith("validate@smollm2") for line in lines)
    assert "dvc exp run --queue --name smollm2-k-22 -S ++smollm2.tune.spt.top_k=22 validate@smollm2" in lines


def test_the_seed_spread_keeps_only_runs_of_the_workspace_organism():
    def params(seed: int, heads: int = 8) -> dict:
        return {"methods": ["spt"], "organism": {"model": {"organism": {"seed": seed, "heads": heads}}}}

    workspace = params(0)
    assert experiments._same_but_seed(params(2), workspace, "organism")  # another seed: the same organism
    assert not experiments._same_but_seed(params(1, heads=16), workspace, "organism")  # an older organism
    gated = {**workspace, "organism": {**workspace["organism"], "checks": {"bounds": {}}}}
    assert experiments._same_but_seed(params(1), gated, "organism")  # a gate set after the run: the same figures
    assert workspace["organism"]["model"]["organism"]["seed"] == 0  # the comparison leaves its inputs alone


def test_experiments_read_params_as_dvc_writes_them(tmp_path, monkeypatch):
    """`dvc exp run -S` writes `honest_token: Yes` unquoted: YAML 1.2 (the pipeline's reading) keeps the string,
    YAML 1.1 would make it true and the seed run would look like another recipe."""
    import json
    import subprocess

    def git(*args):
        subprocess.run(["git", *args], cwd=tmp_path, check=True, capture_output=True)

    metrics = tmp_path / "metrics" / "organism"
    metrics.mkdir(parents=True)
    (metrics / "eval.json").write_text(json.dumps({"base": {}}))
    (tmp_path / "params.yaml").write_text("organism:\n  attribute:\n    honest_token: Yes\n")
    git("init", "-q")
    git("add", ".")
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "an experiment")
    git("update-ref", "refs/exps/ab/cdef/organism-seed-9", "HEAD")
    monkeypatch.chdir(tmp_path)
    found = experiments.experiments("organism", "eval.json")
    assert set(found) == {"workspace", "organism-seed-9"}
    assert found["organism-seed-9"]["params"]["organism"]["attribute"]["honest_token"] == "Yes"
