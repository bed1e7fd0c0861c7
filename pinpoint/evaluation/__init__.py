"""Evaluation: each suite's runner (its card is in suites/), what a runner is handed (context.py), and the one
measurement of a reply to a challenge (challenge.py)."""
