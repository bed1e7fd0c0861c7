"""A model loaded across devices (loading.load(..., device_map=...)) scores heads exactly as the
same model on one device.

This machine has no GPU, so the split is between the CPU and accelerate's offload: layers
whose weights live on disk or in CPU memory as offloaded weights (their parameters are
"meta" placeholders, fetched by accelerate's hooks at each forward). That exercises the
hook machinery and every weight the scores read directly; moving activations between real
devices (`.to(layer device)`) is a no-op here."""

import pytest
import torch

from conftest import TOKENS, make_batch, tiny_model
from pinpoint.attribution import patching, readout
from pinpoint.models import loading
from pinpoint.models.heads import HeadLayout


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    directory = tmp_path_factory.mktemp("device_map") / "base"
    tiny_model("llama").save_pretrained(directory)
    loading.write_manifest(directory, {"kind": "organism", "dtype": "float32"})
    return directory


def split_map(offload: str) -> dict:
    """Embeddings and layer 0 held on the CPU; layers 1 and 2, the final norm and the head offloaded."""
    return {
        "model.embed_tokens": "cpu",
        "model.rotary_emb": "cpu",
        "model.layers.0": "cpu",
        "model.layers.1": offload,
        "model.layers.2": offload,
        "model.norm": offload,
        "lm_head": offload,
    }


def word_tokenizer(*args, **kwargs):
    """The tiny model has no tokenizer on disk; the scores never read one."""
    from tokenizers import Tokenizer
    from tokenizers import models as tokenizer_models
    from transformers import PreTrainedTokenizerFast

    return PreTrainedTokenizerFast(tokenizer_object=Tokenizer(tokenizer_models.WordLevel({"<p>": 0})), pad_token="<p>")


def loaded(saved, tmp_path, device_map=None):
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr("transformers.AutoTokenizer.from_pretrained", word_tokenizer)
        model, _ = loading.load(
            saved, dtype="float32", device="cpu", device_map=device_map, offload_folder=str(tmp_path / "offload")
        )
    return model


@pytest.mark.parametrize("offload", ["disk", "cpu"])  # "cpu" on a CPU-only machine: a plain placement
def test_scores_on_a_split_model_equal_the_single_device_scores(saved, tmp_path, offload):
    whole = loaded(saved, tmp_path)
    split = loaded(saved, tmp_path, split_map(offload))
    meta = "meta" if offload == "disk" else "cpu"
    if offload == "disk":
        assert split.hf_device_map == split_map("disk")
    assert split.model.layers[2].self_attn.o_proj.weight.device.type == meta  # really offloaded
    assert split.lm_head.weight.device.type == meta
    layout = HeadLayout.of(whole)
    batch = make_batch()
    whole_subject, split_subject = readout.Subject(whole, layout, TOKENS), readout.Subject(split, layout, TOKENS)
    for mode in ("path", "activation"):
        expected = patching.exact(whole_subject, batch, mode)
        torch.testing.assert_close(patching.exact(split_subject, batch, mode, chunk=7), expected, atol=1e-5, rtol=0)
        torch.testing.assert_close(patching.naive(split_subject, batch, mode), expected, atol=1e-5, rtol=0)
        torch.testing.assert_close(
            patching.estimate(split_subject, batch, mode),
            patching.estimate(whole_subject, batch, mode),
            atol=1e-5,
            rtol=0,
        )
    assert split.lm_head.weight.device.type == meta  # fetched only for the moment the scores read it


def test_no_device_map_loads_as_before(saved, tmp_path):
    model = loaded(saved, tmp_path)
    assert not hasattr(model, "hf_device_map") and {p.device.type for p in model.parameters()} == {"cpu"}
