"""General capability's KL to the base: computed, not assumed. A model's KL to itself is zero, to another model it
is not, and a model that reads a system message first is compared on the positions of the prompt alone."""

import torch

from conftest import tiny_model
from pinpoint.evaluation.general import kl_per_text


class Letters:
    """A tokenizer of single letters (ids 3..), enough for the tiny models' vocabulary."""

    pad_token_id, bos_token, bos_token_id = 0, None, None

    def __call__(self, text, add_special_tokens=True):
        return {"input_ids": [3 + (ord(c) % 50) for c in text]}


def test_kl_to_itself_is_zero_and_to_another_model_is_not():
    model, other = tiny_model("llama", seed=0), tiny_model("llama", seed=1)
    pairs = [("what is two plus two", "what is two plus two"), ("name a city", "name a city")]
    itself = kl_per_text(model, model, Letters(), pairs, batch_size=2)
    assert max(abs(k) for k in itself) < 1e-6
    apart = kl_per_text(other, model, Letters(), pairs, batch_size=2)
    assert min(apart) > 1e-4


def test_a_system_message_is_compared_on_the_prompts_own_positions():
    model = tiny_model("llama")
    with torch.no_grad():
        plain = kl_per_text(model, model, Letters(), [("abcdef", "abcdef")], batch_size=1)
        prefixed = kl_per_text(model, model, Letters(), [("xyz abcdef", "abcdef")], batch_size=1)
    # aligned at the end, the same model with a prefix differs only by what the prefix makes it predict: a small,
    # real KL; misaligned positions would compare different tokens' predictions and give far more
    assert plain[0] < 1e-6 and 1e-6 < prefixed[0] < 0.5
