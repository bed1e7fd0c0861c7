"""Models: loading any model directory pinpoint wrote (loading.py, checkpoints.py), GGUF files, where a model
comes from (sources/), head geometry (heads.py), hooks, tokens, and asking a model (scoring.py,
shared_prefix.py); a real model's spec sheet (spec_sheet.py)."""
