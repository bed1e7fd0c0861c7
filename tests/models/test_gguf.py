"""A GGUF file of each family transformers reads and pinpoint supports (Qwen 3, Gemma 2, Gemma 3, Phi-3),
written here from a tiny model with the `gguf` library as llama.cpp's converter lays it out (f32 tensors,
no quantization), turns into an HF directory (pinpoint.models.gguf.convert_gguf) with the original's logits.

Transformers rebuilds a GGUF model's config from a few metadata keys per family and takes everything else
from the config class's defaults, so each tiny model below keeps those defaults: a Qwen 3 GGUF's head_dim
is not read (the class's 128 applies), nor Gemma 2's soft-capping values or either Gemma's
query_pre_attn_scalar, nor Phi-3's sliding window. OLMo 2 is not among transformers' GGUF architectures.
"""

import numpy as np
import pytest
import torch

from conftest import GGUF_FAMILIES, VOCAB, tiny_model
from pinpoint.models.gguf import convert_gguf

SPECIALS = ["<pad>", "<bos>", "<eos>", "<unk>"]  # ids 0..3: pad, bos, eos, unk


def tokenizer_metadata(writer, family: str) -> None:
    """A 64-token vocabulary: byte-level BPE with merges for Qwen 3 (as its GGUFs are), SentencePiece
    ("llama", scored) for Phi-3 and Gemma."""
    letters = [chr(c) for c in range(ord("a"), ord("z") + 1)]
    if family == "qwen3":
        pieces = letters + ["Ġ"] + ["Ġ" + c for c in letters] + ["ab", "cd", "ef", "gh", "ij", "kl", "mn"]
        merges = ["Ġ " + c for c in letters] + ["a b", "c d", "e f", "g h", "i j", "k l", "m n"]
        writer.add_tokenizer_model("gpt2")
        writer.add_tokenizer_pre("qwen2")
        writer.add_token_merges(merges)
        scores = None
    else:
        pieces = ["▁"] + letters + ["▁" + c for c in letters] + ["ab", "cd", "ef", "gh", "ij", "kl", "mn"]
        pieces = pieces[: VOCAB - len(SPECIALS)]
        writer.add_tokenizer_model("llama")
        scores = [0.0] * len(SPECIALS) + [-float(i) for i in range(len(pieces))]
    tokens = SPECIALS + pieces
    assert len(tokens) == VOCAB
    writer.add_token_list(tokens)
    writer.add_token_types([3, 3, 3, 2] + [1] * len(pieces))  # control, unknown, normal
    if scores is not None:
        writer.add_token_scores(scores)
    writer.add_pad_token_id(0)
    writer.add_bos_token_id(1)
    writer.add_eos_token_id(2)
    writer.add_unk_token_id(3)


def write_gguf(model, family: str, path) -> None:
    """The model as llama.cpp's convert_hf_to_gguf.py writes one of its family, in f32."""
    import gguf

    cfg = model.config
    arch = {"gemma3_text": "gemma3"}.get(cfg.model_type, cfg.model_type)
    writer = gguf.GGUFWriter(str(path), arch)
    writer.add_name(f"tiny-{family}")
    writer.add_context_length(cfg.max_position_embeddings)
    writer.add_block_count(cfg.num_hidden_layers)
    writer.add_embedding_length(cfg.hidden_size)
    writer.add_feed_forward_length(cfg.intermediate_size)
    writer.add_head_count(cfg.num_attention_heads)
    writer.add_head_count_kv(cfg.num_key_value_heads)
    writer.add_layer_norm_rms_eps(cfg.rms_norm_eps)
    writer.add_vocab_size(cfg.vocab_size)
    rope = cfg.rope_parameters
    writer.add_rope_freq_base((rope.get("full_attention") or rope)["rope_theta"])
    if family in ("gemma2", "gemma3"):
        writer.add_key_length(cfg.head_dim)
        writer.add_value_length(cfg.head_dim)
        writer.add_sliding_window(cfg.sliding_window)
    if family == "gemma2":  # llama.cpp writes these; transformers ignores them (its defaults: 50 and 30)
        writer.add_attn_logit_softcapping(cfg.attn_logit_softcapping)
        writer.add_final_logit_softcapping(cfg.final_logit_softcapping)
    tokenizer_metadata(writer, family)

    names = gguf.get_tensor_name_map(
        next(k for k, v in gguf.MODEL_ARCH_NAMES.items() if v == arch), cfg.num_hidden_layers
    )
    for hf_name, p in model.state_dict().items():
        base, suffix = hf_name.rsplit(".", 1)
        if hf_name == "lm_head.weight" and cfg.tie_word_embeddings:
            continue  # a tied head is the embedding: llama.cpp writes no output.weight
        gguf_name = names.get_name(base)
        assert gguf_name is not None, hf_name
        data = p.detach().float().numpy()
        if family in ("gemma2", "gemma3") and base.endswith("norm"):
            data = data + 1.0  # llama.cpp stores Gemma's RMSNorm scale as 1 + w
        writer.add_tensor(f"{gguf_name}.{suffix}", np.ascontiguousarray(data, dtype=np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()


@pytest.mark.parametrize("family", GGUF_FAMILIES)
def test_a_gguf_file_converts_to_the_same_model(family, tmp_path):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from pinpoint.models.heads import HeadLayout

    original = tiny_model(family, gguf=True)
    path = tmp_path / f"tiny-{family}.gguf"
    write_gguf(original, family, path)
    out = tmp_path / "hf"
    summary = convert_gguf(path, out, "tiny")
    assert summary["model_type"] == original.config.model_type and summary["kv_heads"] == 2
    loaded = AutoModelForCausalLM.from_pretrained(out).eval()
    assert HeadLayout.of(loaded) == HeadLayout.of(original)
    ids = torch.randint(4, VOCAB, (2, 9), generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        torch.testing.assert_close(loaded(ids).logits, original(ids).logits, atol=1e-4, rtol=0)
    tokenizer = AutoTokenizer.from_pretrained(out)
    encoded = tokenizer("ab cd", add_special_tokens=False)["input_ids"]
    assert encoded and all(4 <= i < VOCAB for i in encoded)  # the file's pieces, none unknown
    assert tokenizer.convert_ids_to_tokens(2) == "<eos>" and tokenizer.eos_token == "<eos>"
