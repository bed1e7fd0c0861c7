"""What the tune stage runs for every method: one run of a method (job.py), the one training loop (loop.py), its
examples (examples.py), the frozen prefix computed once (frozen_prefix.py), and what the two steering baselines
share: their directions and hooks (steering.py) and the choice of an option on validation (choice.py). Each
method's own code is in its folder, pinpoint/methods/<name>/."""
