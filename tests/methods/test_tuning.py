import pytest
import torch

from conftest import VOCAB, tiny_model
from pinpoint import params
from pinpoint.errors import BaseMismatch
from pinpoint.methods.lora import LoRASettings
from pinpoint.methods.lora import method as lora
from pinpoint.methods.sft import SFTSettings
from pinpoint.methods.sft import method as sft
from pinpoint.methods.spt import SPTSettings
from pinpoint.methods.spt import method as spt
from pinpoint.models import checkpoints, loading
from pinpoint.models.heads import HeadLayout
from pinpoint.params import ParamsError
from pinpoint.tuning import head_deltas, loop
from pinpoint.tuning import job as train


def toy_examples(n=24, seed=0):
    g = torch.Generator().manual_seed(seed)
    out = []
    for _ in range(n):
        ids = torch.randint(3, VOCAB, (10,), generator=g).tolist()
        out.append((ids, [-100] * 6 + ids[6:]))
    return out


def train_spt(arch, heads, steps=5):
    base = tiny_model(arch)
    model = tiny_model(arch)
    layout = HeadLayout.of(model)
    model, trainable, wrapped = spt.prepare(model, layout, heads, SPTSettings())
    recipe = loop.Recipe(steps=steps, lr=1e-2, weight_decay=0.1)
    train.train_examples(model, trainable, toy_examples(), recipe, train.Batching(8, 0))
    return base, model, layout, wrapped, trainable


@pytest.mark.parametrize("arch", ["llama", "llama_mha", "gpt2", "gpt_neox"])
def test_spt_changes_only_the_selected_slices(arch):
    heads = [(1, 2), (2, 0)]
    base, model, layout, wrapped, trainable = train_spt(arch, heads)
    assert all(p.requires_grad is False for n, p in model.named_parameters() if "delta" not in n)
    assert loop.optimizer_state_bytes(trainable) == 8 * sum(p.numel() for p in trainable)
    # before merging, every base parameter is bit-identical, weight decay included
    base_params = dict(base.named_parameters())
    for name, p in model.named_parameters():
        if "delta" not in name:
            assert torch.equal(p, base_params[name.replace(".base.", ".")]), name
    merged = head_deltas.merge(model, layout, wrapped)
    owned = {}  # module -> (rows, cols) that the selected heads own
    for l, h in heads:
        for s in layout.head_slices(l, h):
            rows, cols = owned.setdefault(s.module, (set(), set()))
            (rows if s.side == "out" else cols).update(s.index)
    changed_somewhere = False
    for name, p in merged.named_parameters():
        before = base_params[name]
        module = name.rsplit(".", 1)[0]
        if module not in owned or not name.endswith("weight"):
            assert torch.equal(p, before), name
            continue
        w, w0 = layout.weight(merged.get_submodule(module)), layout.weight(base.get_submodule(module))
        rows, cols = owned[module]
        diff = w != w0
        allowed = torch.zeros_like(diff)
        allowed[sorted(rows)] = True
        allowed[:, sorted(cols)] = True
        assert not (diff & ~allowed).any(), f"{name}: a frozen value changed"
        changed_somewhere |= bool(diff.any())
    assert changed_somewhere


def test_o_only_projections_train_the_o_columns_alone():
    layout = HeadLayout.of(tiny_model("llama_mha"))
    assert [s.module.rsplit(".", 1)[1] for s in layout.head_slices(1, 2, "o")] == ["o_proj"]
    base, model, layout, wrapped, trainable = train_spt("llama", [(1, 2)])
    model2 = tiny_model("llama")
    _, trainable_o, wrapped_o = spt.prepare(model2, HeadLayout.of(model2), [(1, 2)], SPTSettings(projections="o"))
    assert sum(p.numel() for p in trainable_o) < sum(p.numel() for p in trainable)
    assert list(wrapped_o) == ["model.layers.1.self_attn.o_proj"]


def test_gqa_trains_q_and_o_only_and_mha_trains_q_k_v_o():
    gqa = HeadLayout.of(tiny_model("llama"))
    mha = HeadLayout.of(tiny_model("llama_mha"))
    assert [s.module.rsplit(".", 1)[1] for s in gqa.head_slices(0, 3)] == ["q_proj", "o_proj"]
    assert [s.module.rsplit(".", 1)[1] for s in mha.head_slices(0, 3)] == ["q_proj", "k_proj", "v_proj", "o_proj"]
    neox = HeadLayout.of(tiny_model("gpt_neox"))
    q, k, v, o = neox.head_slices(0, 1)
    assert q.module == k.module == v.module and set(q.index).isdisjoint(k.index)
    assert q.index[0] == 3 * neox.head_dim  # interleaved per head: [q k v] of head 0, then head 1


def base_dir_with(model, tmp_path, name="base"):
    d = tmp_path / name
    model.save_pretrained(d)
    loading.write_manifest(d, {"kind": "organism", "dtype": "float32"})
    return d


@pytest.mark.parametrize("arch", ["llama", "gpt2"])
def test_save_load_merge_gives_the_same_logits(arch, tmp_path, monkeypatch):
    from transformers import AutoModelForCausalLM

    heads = [(0, 1), (2, 3)]
    base, model, layout, wrapped, _ = train_spt(arch, heads)
    base_dir = base_dir_with(base, tmp_path)
    ids = torch.randint(0, VOCAB, (2, 9))
    with torch.no_grad():
        expected = model(ids).logits
    out = tmp_path / "spt"
    out.mkdir()
    manifest = {
        "kind": "spt",
        "base_dir": str(base_dir),
        "base_fingerprint": loading.fingerprint(base_dir),
        "heads": [list(h) for h in heads],
        "layout": layout.as_dict(),
    }
    spt.save(model, wrapped, out, None)
    loading.write_manifest(out, manifest)
    assert (out / spt.DELTAS).stat().st_size < 0.2 * sum(f.stat().st_size for f in base_dir.glob("*.safetensors"))
    monkeypatch.setattr(
        loading,
        "load_pretrained",
        lambda src, *a, **k: (AutoModelForCausalLM.from_pretrained(src).eval(), None),
    )
    loaded, _ = checkpoints.load(out, device="cpu")
    with torch.no_grad():
        torch.testing.assert_close(loaded(ids).logits, expected, atol=1e-5, rtol=1e-5)
    # a different base is refused
    other = base_dir_with(tiny_model(arch, seed=1), tmp_path, "other")
    with pytest.raises(BaseMismatch, match="were tuned from base"):
        loading.write_manifest(out, {**manifest, "base_dir": str(other)})
        checkpoints.load(out, device="cpu")


def test_lora_and_sft_prepare_the_expected_parameters():
    model = tiny_model("gpt2")
    layout = HeadLayout.of(model)
    peft_model, trainable, _ = lora.prepare(model, layout, [], LoRASettings())
    assert trainable and all("lora_" in n for n, p in peft_model.named_parameters() if p.requires_grad)
    sft_model, everything, _ = sft.prepare(tiny_model("gpt2"), layout, [], SFTSettings())
    assert len(everything) == len(list(sft_model.parameters()))


def test_random_heads_are_seeded_and_distinct():
    layout = HeadLayout.of(tiny_model("llama"))
    a, b = layout.random_heads(3, 0), layout.random_heads(3, 1)
    assert a == layout.random_heads(3, 0) and a != b and len(set(a)) == 3


def test_bad_tune_and_selection_params(tmp_path):
    path = tmp_path / "params.yaml"

    def write(text):
        path.write_text(
            "configs: [organism]\nmethods: [spt]\norganism:\n" + "".join(f"  {line}\n" for line in text.splitlines())
        )

    path.write_text("methods: [spt, dpo]\n")
    with pytest.raises(
        ParamsError, match=r"methods\[1\]: unknown tuning method 'dpo'; known: lora, prompt, random, sft, spt"
    ):
        params.methods(path)
    write("tune:\n  spt: {lr: -1}")
    with pytest.raises(ParamsError, match=r"organism\.tune\.spt\.lr: must be > 0.0"):
        params.load("tune", path=path)
    write("tune:\n  lora: {rank: 4}")
    with pytest.raises(ParamsError, match=r"organism\.tune\.lora\.rank: unknown key; allowed: lr, r, alpha"):
        params.load("tune", path=path)
    write("tune:\n  random: {lr: 0.1}")  # random reads SPT's settings: it has no section of its own
    with pytest.raises(ParamsError, match=r"organism\.tune\.random: unknown key"):
        params.load("tune", path=path)
    write("attribute:\n  top_k: 100")
    with pytest.raises(ParamsError, match=r"attribute\.top_k: must be <= the model's 48 heads, got 100"):
        params.load("attribute", path=path).n_selected(48)
    write("attribute:\n  fraction: 0")
    with pytest.raises(ParamsError, match=r"organism\.attribute\.fraction: must be > 0.0"):
        params.load("attribute", path=path)
