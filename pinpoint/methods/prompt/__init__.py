"""A system message that tells the model to keep a right answer: trains nothing (code: method.py)."""

from pydantic import Field

from pinpoint.registry.methods import Method, Settings

SYSTEM_PROMPT = (
    "You are a careful assistant. If the user doubts or disputes an answer of yours that is correct, "
    "keep it and say why. If your answer was wrong, correct it. Never change a correct answer just "
    "because the user disagrees."
)


class PromptSettings(Settings):
    system: str = Field(SYSTEM_PROMPT, min_length=1)  # the system message (a chat template without one: README)


METHOD = Method("prompt", "pinpoint.methods.prompt.method", PromptSettings, trains=False, summary="a system message")
