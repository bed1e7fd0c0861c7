"""Probing (Papadatos & Freedman): a linear sycophancy probe on activations (probe.py) and probe-penalised
best-of-N (best_of_n.py)."""
