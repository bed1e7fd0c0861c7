"""Samples that represent what a figure names: a cap on records draws from every fact set alike, never the head of
a file (whose order would decide what is measured).

`stratified(records, n, seed)` keeps each fact set's share of the records (largest remainder; every set at least
one record where the cap allows it), draws within a set by a seeded generator of its own, and returns the records in
their original order: the same params give the same sample for every model, so that paired comparisons pair.
"""

from __future__ import annotations

import random
from collections.abc import Callable


def fact_set(record: dict) -> str:
    """The fact set a record comes from: its source ("facts:capitals", "organism", "sycophancy_eval:answer")."""
    return record["source"]


def quotas(sizes: dict[str, int], n: int) -> dict[str, int]:
    """How many of each set n takes: proportional, largest remainder, each set one at least (n allowing)."""
    total = sum(sizes.values())
    exact = {k: n * size / total for k, size in sizes.items()}
    out = {k: int(v) for k, v in exact.items()}
    if n >= len(sizes):
        out = {k: max(1, v) for k, v in out.items()}
    by_remainder = sorted(sizes, key=lambda k: (-(exact[k] - int(exact[k])), k))
    i = 0
    while sum(out.values()) < n:
        k = by_remainder[i % len(by_remainder)]
        if out[k] < sizes[k]:
            out[k] += 1
        i += 1
    while sum(out.values()) > n:  # the floor of one overshot: take back from the largest sets
        k = max(out, key=lambda key: (out[key], key))
        out[k] -= 1
    return out


def stratified(records: list[dict], n: int, seed: int, key: Callable[[dict], str] = fact_set) -> list[dict]:
    """At most n of `records`, every fact set in its share (n <= 0 or n >= len: all of them), in their order."""
    if n <= 0 or n >= len(records):
        return list(records)
    groups: dict[str, list[int]] = {}
    for i, record in enumerate(records):
        groups.setdefault(key(record), []).append(i)
    taken = []
    for name, q in quotas({k: len(v) for k, v in groups.items()}, n).items():
        taken += random.Random(f"{seed}|{name}").sample(groups[name], q)
    return [records[i] for i in sorted(taken)]


def fact_of(record: dict) -> str:
    """The fact a record asks about (its several variants share it), or the record itself."""
    fact = record.get("metadata", {}).get("fact")
    return f"{fact['source']}|{fact['id']}" if fact else record["id"]


def by_fact(records: list[dict], n: int, seed: int) -> list[dict]:
    """Every record of at most n facts, every fact set in its share (a suite that asks one fact several ways -- the
    answer suite's four variants, a claim with and without an opinion -- keeps all of a fact's, so they pair)."""
    firsts = list({fact_of(r): r for r in reversed(records)}.values())[::-1]  # each fact's first record, in order
    kept = {fact_of(r) for r in stratified(firsts, n, seed)}
    return [r for r in records if fact_of(r) in kept]


def composition(records: list[dict], key: Callable[[dict], str] = fact_set) -> dict[str, int]:
    """How many records of each fact set: what a figure's n is made of."""
    out: dict[str, int] = {}
    for record in records:
        out[key(record)] = out.get(key(record), 0) + 1
    return dict(sorted(out.items()))
