"""Figures: every number from the transcripts (results.py, stats.py), the gate, the tables, the report page and
its plots, two models side by side (show.py) and drift against the committed figures."""
