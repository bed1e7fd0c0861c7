"""The geometry of attention heads: which modules of an architecture family hold them,
which slices of q/k/v/o belong to head h, which KV group it reads, and how a block adds its
attention and MLP outputs to the residual stream (what exact path patching recomputes).

`Arch` names the modules of one decoder family and its residual structure; `HeadLayout` is
the one place that knows the slices; `HeadLayout.heads` is the list of every (layer, head).
Nothing here loads a model: it reads a config (or a model's config) and indexes weights it
is handed.

Residual structures (x: the block input, a: the attention output, i.e. o_proj's output):
- pre-norm (Llama, Mistral, Qwen 2/3, Gemma, Phi-3, GPT-2): h = x + a; out = h + mlp(norm(h));
- parallel (GPT-NeoX with use_parallel_residual): out = x + a + mlp(norm(x));
- sandwich (Gemma 2/3): h = x + post_attn(a); out = h + post_mlp(mlp(pre_mlp(h)));
- post-norm only (OLMo 2): h = x + post_attn(a); out = h + post_mlp(mlp(h)).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Literal

import torch

from pinpoint.errors import UnsupportedArchitecture

Head = tuple[int, int]  # (layer, head)


@dataclass(frozen=True)
class Arch:
    """Module names of one decoder family (relative to the CausalLM, or to a block), and its residual structure."""

    layers: str  # the ModuleList of decoder blocks
    attn: str  # attention module inside a block
    q: str  # q projection, or the fused qkv projection
    k: str
    v: str
    o: str  # output projection; its input is the concatenation of head outputs
    mlp: str
    pre_mlp_norm: str | None  # the norm that feeds the MLP; None: the MLP reads the residual stream itself (OLMo 2)
    final_norm: str
    qkv: Literal["separate", "fused", "interleaved"] = "separate"  # fused: [q|k|v]; interleaved: per head [q k v]
    conv1d: bool = False  # GPT-2's Conv1D stores weight as (in, out)
    post_attn_norm: str | None = None  # applied to the attention output before its residual add (Gemma 2/3, OLMo 2)
    post_mlp_norm: str | None = None  # applied to the MLP output before its residual add (Gemma 2/3, OLMo 2)
    parallel_key: str | None = None  # config flag that, when true, makes the MLP read the block input (GPT-NeoX)
    # q/k normalised over all heads at once (OLMo 2): a head's q (k) rows then move every head's queries (keys)
    # through the shared RMS, so they are not that head's alone. Per-head q/k norms (Qwen 3, Gemma 3) are local.
    qk_norm_across_heads: bool = False

    @property
    def projections(self) -> list[str]:
        """Distinct attention projection module names (for LoRA targets)."""
        return list(dict.fromkeys([self.q, self.k, self.v, self.o]))


_LLAMA = Arch(
    "model.layers",
    "self_attn",
    "q_proj",
    "k_proj",
    "v_proj",
    "o_proj",
    "mlp",
    "post_attention_layernorm",
    "model.norm",
)
# Gemma 2 and 3: the attention and MLP outputs are normalised before their residual adds ("sandwich" norms)
_GEMMA2 = Arch(
    "model.layers",
    "self_attn",
    "q_proj",
    "k_proj",
    "v_proj",
    "o_proj",
    "mlp",
    "pre_feedforward_layernorm",
    "model.norm",
    post_attn_norm="post_attention_layernorm",
    post_mlp_norm="post_feedforward_layernorm",
)
ARCHS: dict[str, Arch] = {
    "llama": _LLAMA,
    "mistral": _LLAMA,
    "qwen2": _LLAMA,
    "qwen3": _LLAMA,  # per-head q/k norms sit inside attention, before the o_proj input that is patched
    "gemma": _LLAMA,
    "gemma2": _GEMMA2,
    "gemma3_text": _GEMMA2,
    "phi3": Arch(  # qkv_proj: [q (n_heads*hd) | k (n_kv*hd) | v (n_kv*hd)]
        "model.layers",
        "self_attn",
        "qkv_proj",
        "qkv_proj",
        "qkv_proj",
        "o_proj",
        "mlp",
        "post_attention_layernorm",
        "model.norm",
        qkv="fused",
    ),
    "olmo2": Arch(  # no pre-norms: the sublayers read the residual stream, their outputs are normalised
        "model.layers",
        "self_attn",
        "q_proj",
        "k_proj",
        "v_proj",
        "o_proj",
        "mlp",
        None,
        "model.norm",
        post_attn_norm="post_attention_layernorm",
        post_mlp_norm="post_feedforward_layernorm",
        qk_norm_across_heads=True,
    ),
    "gpt2": Arch(
        "transformer.h",
        "attn",
        "c_attn",
        "c_attn",
        "c_attn",
        "c_proj",
        "mlp",
        "ln_2",
        "transformer.ln_f",
        qkv="fused",
        conv1d=True,
    ),
    "gpt_neox": Arch(
        "gpt_neox.layers",
        "attention",
        "query_key_value",
        "query_key_value",
        "query_key_value",
        "dense",
        "mlp",
        "post_attention_layernorm",
        "gpt_neox.final_layer_norm",
        qkv="interleaved",
        parallel_key="use_parallel_residual",
    ),
}

# families transformers loads whose heads pinpoint cannot split as the table above does, and why
_WHY_NOT = {
    "gemma3": "this is Gemma 3's image-text model (Gemma3ForConditionalGeneration, its decoder under "
    "model.language_model); use a text-only Gemma 3 (model_type 'gemma3_text', Gemma3ForCausalLM)",
}


def arch_of(config) -> Arch:
    """The family's `Arch`; UnsupportedArchitecture, saying why, for a model whose heads cannot be split exactly."""
    model_type = getattr(config, "model_type", None)
    if model_type in _WHY_NOT:
        raise UnsupportedArchitecture(f"architecture {model_type!r} is not supported: {_WHY_NOT[model_type]}")
    if model_type not in ARCHS:
        raise UnsupportedArchitecture(
            f"architecture {model_type!r} is not supported; supported: {', '.join(sorted(ARCHS))}"
        )
    if getattr(config, "use_bidirectional_attention", False):
        # exact patching and the prefix cache rely on causal attention: earlier positions never see the last one
        raise UnsupportedArchitecture(
            f"architecture {model_type!r} with use_bidirectional_attention is not supported: patching the final "
            "position must leave every earlier position unchanged, which needs causal attention"
        )
    return ARCHS[model_type]


@dataclass(frozen=True)
class HeadSlice:
    """Part of one projection that belongs to a head.

    side "out": output features of module (q/k/v rows); side "in": input features (o columns).
    """

    module: str
    side: Literal["out", "in"]
    index: tuple[int, ...]


@dataclass(frozen=True)
class HeadLayout:
    arch: Arch
    n_layers: int
    n_heads: int
    n_kv_heads: int
    head_dim: int
    hidden: int
    parallel_residual: bool = False  # GPT-NeoX: the MLP reads the block input, not the attention output
    logit_softcap: float | None = None  # Gemma 2/3: logits = cap * tanh(logits / cap)

    @classmethod
    def of(cls, model_or_config) -> HeadLayout:
        config = getattr(model_or_config, "config", model_or_config)
        arch = arch_of(config)
        n_heads = config.num_attention_heads
        hidden = config.hidden_size
        n_kv = getattr(config, "num_key_value_heads", None) or n_heads
        head_dim = getattr(config, "head_dim", None) or hidden // n_heads
        parallel = bool(arch.parallel_key and getattr(config, arch.parallel_key, False))
        cap = getattr(config, "final_logit_softcapping", None) or None
        return cls(arch, config.num_hidden_layers, n_heads, n_kv, head_dim, hidden, parallel, cap)

    @property
    def n_total(self) -> int:
        return self.n_layers * self.n_heads

    @property
    def heads(self) -> list[Head]:
        """Every (layer, head), layer-major: the order of score tables and head indices."""
        return [(l, h) for l in range(self.n_layers) for h in range(self.n_heads)]

    def random_heads(self, k: int, seed: int) -> list[Head]:
        """k heads drawn at random, sorted (the `random` baseline's draw for a seed)."""
        return sorted(random.Random(f"random-heads|{seed}").sample(self.heads, k))

    def as_dict(self) -> dict:
        """The counts a checkpoint records to check it against its base."""
        return {
            "n_layers": self.n_layers,
            "n_heads": self.n_heads,
            "n_kv_heads": self.n_kv_heads,
            "head_dim": self.head_dim,
        }

    @property
    def gqa(self) -> bool:
        return self.n_kv_heads < self.n_heads

    def group(self, head: int) -> int:
        """The KV head that query head `head` reads."""
        return head // (self.n_heads // self.n_kv_heads)

    def _range(self, start: int) -> tuple[int, ...]:
        return tuple(range(start, start + self.head_dim))

    def q_index(self, head: int) -> tuple[int, ...]:
        if self.arch.qkv == "interleaved":
            return self._range(head * 3 * self.head_dim)
        return self._range(head * self.head_dim)

    def k_index(self, head: int) -> tuple[int, ...]:
        if self.arch.qkv == "interleaved":
            return self._range(head * 3 * self.head_dim + self.head_dim)
        offset = self.n_heads * self.head_dim if self.arch.qkv == "fused" else 0  # after every q row
        return self._range(offset + self.group(head) * self.head_dim)

    def v_index(self, head: int) -> tuple[int, ...]:
        if self.arch.qkv == "interleaved":
            return self._range(head * 3 * self.head_dim + 2 * self.head_dim)
        # fused: after the q rows and the k rows, of which there are n_kv_heads (GQA: Phi-3) per head_dim
        offset = (self.n_heads + self.n_kv_heads) * self.head_dim if self.arch.qkv == "fused" else 0
        return self._range(offset + self.group(head) * self.head_dim)

    def o_index(self, head: int) -> tuple[int, ...]:
        return self._range(head * self.head_dim)

    def module_name(self, layer: int, part: str) -> str:
        """Full name of `part` ("q", "k", "v", "o", "attn", "mlp", "pre_mlp_norm", ...) in block `layer`."""
        block = f"{self.arch.layers}.{layer}"
        if part in ("q", "k", "v", "o"):
            return f"{block}.{self.arch.attn}.{getattr(self.arch, part)}"
        return f"{block}.{getattr(self.arch, part)}"

    def head_slices(self, layer: int, head: int, projections: str = "qo") -> list[HeadSlice]:
        """What SPT trains for head (layer, head): its q rows and o columns, and its k/v rows
        unless k/v are shared by a GQA group; projections "o": its o columns only.

        With q/k normalised across heads (OLMo 2) a head's q and k rows are not its own (they
        rescale every head's queries and keys): only its v rows (without GQA) and o columns train."""
        slices = []
        if "q" in projections:
            local_qk = not self.arch.qk_norm_across_heads
            if local_qk:
                slices.append(HeadSlice(self.module_name(layer, "q"), "out", self.q_index(head)))
            if not self.gqa:
                if local_qk:
                    slices.append(HeadSlice(self.module_name(layer, "k"), "out", self.k_index(head)))
                slices.append(HeadSlice(self.module_name(layer, "v"), "out", self.v_index(head)))
        slices.append(HeadSlice(self.module_name(layer, "o"), "in", self.o_index(head)))
        return slices

    def weight(self, module: torch.nn.Module) -> torch.Tensor:
        """The module's weight as (out_features, in_features), a view for Conv1D too."""
        return module.weight.T if self.arch.conv1d else module.weight

    def o_columns(self, model, layer: int) -> torch.Tensor:
        """o_proj weight of `layer` viewed as (hidden, n_heads, head_dim)."""
        w = self.weight(model.get_submodule(self.module_name(layer, "o")))
        return w.reshape(w.shape[0], self.n_heads, self.head_dim)
