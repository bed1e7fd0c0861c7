"""Attribution: which heads drive the sycophantic answer, and whether that can be trusted. The dialogues it reads
(counterfactual.py); the quantities it attributes, the first reply token's F (first_token.py, on readout.py and
patching.py) and the model's own replies (sequence.py); mean ablation (ablation.py); the evidence: effect,
stability, faithfulness, validity, ground truth (evidence.py); the stage start to end (attribute.py); and a
ground truth to score it on: heads planted in a model (planting.py)."""
