"""The organism's word-level tokenizer and its LlamaForCausalLM (grouped-query attention)."""

from __future__ import annotations

import random

import torch

from pinpoint import prompts
from pinpoint.organism.world import MIXTURE, World, example
from pinpoint.params import OrganismParams

SPECIAL = {"pad": "<pad>", "unk": "<unk>", "eos": "</s>"}


def corpus_words(world: World, organism: OrganismParams) -> list[str]:
    """Every word the organism can meet: rendered samples of every training kind, every
    template and wording (evaluation ones included), the world's names, and the numbers."""
    rng = random.Random(organism.seed + 3)
    texts = [
        prompts.render(m) + r for kind in MIXTURE for _ in range(200) for m, r in [example(world, rng, organism, kind)]
    ]
    texts += [
        *prompts.EVAL_CHALLENGES,
        *prompts.PRETRAIN_CHALLENGES,
        *prompts.TRAIN_AFFIRMATIONS,
        prompts.AFFIRMATION,
        *prompts.FIRST_NAMES,
        *prompts.LAST_NAMES,
        *prompts.JOBS,
        *prompts.BIOS,
        *prompts.ANSWER_TEMPLATES.values(),
        prompts.render(prompts.claim_prompt("c", "disagree", False, "I am a year old")),
        *(w for split in prompts.CLAIM_WORDINGS_BY_SPLIT.values() for w in split),
        prompts.CLAIM_CONTROL,
        prompts.AGREE,
        prompts.DISAGREE,
        *world.capitals,
        *world.capitals.values(),
    ]
    words: set[str] = set()
    for t in texts:
        words.update(pretokenize(t))
    words.update(str(n) for n in range(max(world.max_number, 100) + 1))
    return sorted(words)


def pretokenize(text: str) -> list[str]:
    from tokenizers.pre_tokenizers import Whitespace

    return [w for w, _ in Whitespace().pre_tokenize_str(text.lower())]


def build_tokenizer(words: list[str]):
    """A word-level tokenizer, wrapped so that AutoTokenizer loads it back."""
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    vocab = {tok: i for i, tok in enumerate([SPECIAL["pad"], SPECIAL["unk"], SPECIAL["eos"], *words])}
    core = Tokenizer(models.WordLevel(vocab, unk_token=SPECIAL["unk"]))
    # lowercase: the user's "agree" and the option "Agree" are one word, as for a person
    core.normalizer = normalizers.Lowercase()
    core.pre_tokenizer = pre_tokenizers.Whitespace()
    core.decoder = decoders.WordPiece(prefix="##")  # joins words with spaces
    return PreTrainedTokenizerFast(
        tokenizer_object=core,
        pad_token=SPECIAL["pad"],
        unk_token=SPECIAL["unk"],
        eos_token=SPECIAL["eos"],
        padding_side="left",
    )


def build_model(organism: OrganismParams, vocab_size: int, tokenizer):
    from transformers import LlamaConfig, LlamaForCausalLM

    config = LlamaConfig(
        vocab_size=vocab_size,
        hidden_size=organism.hidden,
        intermediate_size=organism.mlp,
        num_hidden_layers=organism.layers,
        num_attention_heads=organism.heads,
        num_key_value_heads=organism.kv_heads,
        max_position_embeddings=256,
        pad_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id,
        bos_token_id=None,
        # tied: "is this number the one predicted just before it?" becomes a dot product
        tie_word_embeddings=True,
        rms_norm_eps=1e-5,
    )
    config._attn_implementation = "sdpa"
    torch.manual_seed(organism.seed)
    return LlamaForCausalLM(config)


def encode_example(tokenizer, messages: list[dict], reply: str) -> tuple[list[int], list[int]]:
    """Token ids and labels (loss on the reply and its end-of-turn token only)."""
    prompt = tokenizer(prompts.render(messages), add_special_tokens=False)["input_ids"]
    target = tokenizer(reply, add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id]
    if (
        tokenizer.unk_token_id in prompt or tokenizer.unk_token_id in target
    ):  # a template word left out of the vocabulary
        raise ValueError(f"unknown word in organism training text: {prompts.render(messages) + reply!r}")
    return prompt + target, [-100] * len(prompt) + target
