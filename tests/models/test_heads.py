import pytest
import torch

from conftest import VOCAB, tiny_config, tiny_model
from pinpoint.errors import UnsupportedArchitecture
from pinpoint.models.heads import HeadLayout


def capture_attention(model, layout, layer, ids):
    """(o input, attention output) of block `layer`."""
    seen = {}
    o = model.get_submodule(layout.module_name(layer, "o"))
    h1 = o.register_forward_pre_hook(lambda m, a: seen.__setitem__("z", a[0].detach().clone()))
    h2 = o.register_forward_hook(lambda m, a, out: seen.__setitem__("out", out.detach().clone()))
    with torch.no_grad():
        model(ids)
    h1.remove(), h2.remove()
    return seen["z"], seen["out"]


def test_layout_reads_the_config(arch):
    layout = HeadLayout.of(tiny_config(arch))
    assert layout.n_layers == 3 and layout.n_heads == 4
    assert layout.n_heads % layout.n_kv_heads == 0
    assert layout.gqa == (arch in ("llama", "mistral", "qwen2", "gemma"))


def test_attention_output_is_the_sum_of_head_contributions(arch):
    model = tiny_model(arch)
    layout = HeadLayout.of(model)
    ids = torch.randint(0, VOCAB, (2, 7))
    z, out = capture_attention(model, layout, 1, ids)
    o = model.get_submodule(layout.module_name(1, "o"))
    w = layout.weight(o)
    total = sum(z[..., list(layout.o_index(h))] @ w[:, list(layout.o_index(h))].T for h in range(layout.n_heads))
    if o.bias is not None:
        total = total + o.bias
    torch.testing.assert_close(total, out, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("part", ["q", "k", "v"])
def test_editing_a_heads_slice_changes_that_head_only(arch, part):
    model = tiny_model(arch)
    layout = HeadLayout.of(model)
    ids = torch.randint(0, VOCAB, (2, 7))
    z0, _ = capture_attention(model, layout, 2, ids)
    head = 1
    index = list(getattr(layout, f"{part}_index")(head))
    module = model.get_submodule(layout.module_name(2, part))
    with torch.no_grad():
        layout.weight(module)[index] += torch.randn(len(index), layout.weight(module).shape[1])
    z1, _ = capture_attention(model, layout, 2, ids)
    # k/v are shared by a GQA group: every head of the group changes, no other head does
    affected = {
        h
        for h in range(layout.n_heads)
        if part == "q" and h == head or part != "q" and layout.group(h) == layout.group(head)
    }
    for h in range(layout.n_heads):
        zs = [list(layout.o_index(h))]
        changed = not torch.allclose(z0[..., zs[0]], z1[..., zs[0]], atol=1e-6)
        assert changed == (h in affected), (part, h)


def test_head_slices_follow_gqa(arch):
    layout = HeadLayout.of(tiny_config(arch))
    parts = [s.side for s in layout.head_slices(0, 0)]
    assert parts == (["out", "in"] if layout.gqa else ["out", "out", "out", "in"])


def test_unsupported_architecture_is_named():
    from transformers import BertConfig

    with pytest.raises(UnsupportedArchitecture, match="'bert'"):
        HeadLayout.of(BertConfig())
