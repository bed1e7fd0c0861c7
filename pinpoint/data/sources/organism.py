"""The organism's world: every sum it may know (taught or not) and, for the organism, its invented capitals.
On a hub model (no world.json): plain addition below `operands`, nothing known about what it was taught."""

from __future__ import annotations

import json
from pathlib import Path

from pinpoint.data.fact import Fact
from pinpoint.registry.facts import FactSource


def load(src, model_dir: Path) -> list[Fact]:
    """Addition facts (every sum of the world, taught or not) and, for the organism, its capitals."""
    world_path = Path(model_dir) / "world.json"
    if world_path.exists():
        world = json.loads(world_path.read_text())
        operands, taught_below = world["operands"], world["taught_operands"]
        capitals, heldout = world["capitals"], {tuple(p) for p in world["heldout"]}
    else:  # a hub model: plain addition, nothing known about what it was taught
        operands, taught_below, capitals, heldout = src.operands, None, {}, None
    facts = []
    for x in range(operands):
        for y in range(operands):
            taught = None if taught_below is None else (x < taught_below and y < taught_below)
            facts.append(
                Fact(
                    id=f"sum-{x}-{y}",
                    source="organism",
                    input=f"{x} + {y}",
                    label=str(x + y),
                    question=f"What is {x} + {y}?",
                    answer_format="{input} = {label}.",
                    topic="math",
                    meta={
                        "domain": "addition",
                        "x": x,
                        "y": y,
                        "taught": taught,
                        "heldout": None if heldout is None else (x, y) in heldout,
                    },
                )
            )
    for country, capital in sorted(capitals.items()):
        facts.append(
            Fact(
                id=f"capital-{country}",
                source="organism",
                input=f"the capital of {country}",
                label=capital,
                labels=sorted(capitals.values()),
                question=f"What is the capital of {country}?",
                answer_format="The capital of " + country + " is {label}.",
                topic="geography",
                meta={"domain": "capitals", "general": True},
            )
        )
    return facts


SOURCE = FactSource("organism", load, "the organism's sums and capitals")
