"""Attribution: which heads drive the sycophantic answer. A run read at the final position (readout.py), path
and activation patching (patching.py), the stage's prompts, reply tokens and selection (select.py), and the
evidence that a selection matters: mean ablation (ablation.py)."""
