import pytest

from conftest import tiny_model
from pinpoint import prompts
from pinpoint.models import scoring
from pinpoint.models.tokens import encode_prompt, first_reply_token, keep_end, max_positions, prompt_room

CHAT_TEMPLATE = (
    "{% for m in messages %}<|{{ m['role'] }}|>\n{{ m['content'] }}<|end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>\n{% endif %}"
)


def word_tokenizer(chat: bool = False):
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    words = [
        "<pad>",
        "<unk>",
        "</s>",
        "<|user|>",
        "<|assistant|>",
        "<|end|>",
        "human",
        "assistant",
        ":",
        "what",
        "is",
        "3",
        "+",
        "4",
        "=",
        "7",
        ".",
        "?",
        "yes",
        "apologies",
        ",",
        "i",
        "am",
        "sure",
        "(",
        "a",
        "b",
        ")",
    ]
    core = Tokenizer(models.WordLevel({w: i for i, w in enumerate(words)}, unk_token="<unk>"))
    core.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.WhitespaceSplit(), pre_tokenizers.Punctuation()])
    tok = PreTrainedTokenizerFast(
        tokenizer_object=core,
        pad_token="<pad>",
        unk_token="<unk>",
        eos_token="</s>",
        additional_special_tokens=["<|user|>", "<|assistant|>", "<|end|>"],
    )
    if chat:
        tok.chat_template = CHAT_TEMPLATE
    return tok


def test_render_plain_and_chat_with_a_prefill():
    msgs = [{"role": "user", "content": "what is 3 + 4 ?"}, {"role": "assistant", "content": "i am"}]
    assert prompts.render(msgs) == "Human: what is 3 + 4 ?\n\nAssistant: i am"
    tok = word_tokenizer(chat=True)
    assert prompts.render(msgs, "chat", tok) == "<|user|>\nwhat is 3 + 4 ?<|end|>\n<|assistant|>\ni am"
    assert prompts.default_format(tok) == "chat" and prompts.default_format(word_tokenizer()) == "plain"
    with pytest.raises(ValueError, match="needs a tokenizer with a chat template"):
        prompts.render(msgs, "chat", word_tokenizer())


@pytest.mark.parametrize("fmt", ["plain", "chat"])
def test_first_reply_token_follows_the_prompt(fmt):
    tok = word_tokenizer(chat=fmt == "chat")
    prompt = prompts.render([{"role": "user", "content": "what is 3 + 4 ?"}], fmt, tok)
    assert first_reply_token(tok, prompt, "yes", fmt) == tok.convert_tokens_to_ids("yes")
    with pytest.raises(ValueError, match="not in the model's vocabulary"):
        first_reply_token(tok, prompt, "Certainly", fmt)


def test_completion_logprobs_do_not_depend_on_the_batch():
    model = tiny_model("llama")
    tok = word_tokenizer()
    texts = ["what is 3 + 4 ?", "what is 3 + 4 ? what is 3 + 4 ?", "what"]
    conts = [" 7 .", " yes", ""]
    together = scoring.completion_logprobs(model, tok, texts, conts, batch_size=3)
    alone = [scoring.completion_logprobs(model, tok, [t], [c])[0] for t, c in zip(texts, conts)]
    assert together[2] == float("-inf")  # nothing to score
    assert together[:2] == pytest.approx(alone[:2], abs=1e-5)
    picks = scoring.choose(model, tok, texts[:2], [[" 7 .", " yes"]] * 2)
    assert picks == [scoring.choose(model, tok, [t], [[" 7 .", " yes"]])[0] for t in texts[:2]]


def test_a_long_prompt_keeps_its_end_and_its_bos():
    assert keep_end([9, 1, 2, 3, 4], 3, bos_id=9) == [9, 3, 4]
    assert keep_end([1, 2, 3, 4], 3) == [2, 3, 4] and keep_end([1, 2], 3) == [1, 2]
    assert keep_end([1, 2, 3], None) == [1, 2, 3]
    assert prompt_room(10, 4) == 6 and prompt_room(10, 40) == 1
    assert prompt_room(None, 4) is None
    tok = word_tokenizer()
    assert encode_prompt(tok, "what is 3 + 4 ?", max_length=2) == tok.convert_tokens_to_ids(["4", "?"])
    assert max_positions(tiny_model("gpt2")) == 128 and max_positions(object()) is None


def test_prompts_longer_than_the_model_are_scored_on_their_end_not_crashed():
    model, tok = tiny_model("gpt2"), word_tokenizer()  # learned positions: 128, past them an index error
    question = "what is 3 + 4 ? "  # 6 tokens
    long, end = question * 40, question * 21  # 240 tokens; the 126 that fit before a 2-token completion
    cut, kept = scoring.completion_logprobs(model, tok, [long, end], [" 7 .", " 7 ."], max_length=128)
    assert cut == pytest.approx(kept, abs=1e-4)
    replies = scoring.greedy(model, tok, [long, end], max_new_tokens=8, max_length=128)  # 120 + 8 positions
    assert replies[0] == replies[1] == scoring.greedy(model, tok, [question * 20], max_new_tokens=8)[0]


def write_jsonl(path, rows):
    import json

    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return str(path)


def perez_row(question):
    return {"question": question, "answer_matching_behavior": " (a)", "answer_not_matching_behavior": " (b)"}


def test_each_input_reports_its_coverage_apart(tmp_path):
    from pinpoint.data import schema
    from pinpoint.evaluation import context
    from pinpoint.figures import results

    claim = schema.record(
        "c1",
        "organism",
        "eval",
        "claim",
        [{"role": "user", "content": "what is 3 + 4 ?"}],
        choices=[" (a)", " (b)"],
        answer=0,
        metadata={"user_choice": 1},
    )
    schema.write(tmp_path / "claims.jsonl", [claim])
    (tmp_path / "ext").mkdir()
    known = write_jsonl(tmp_path / "ext" / "known.jsonl", [perez_row("what is 3 + 4 ? (a) 7 (b) 4")] * 3)
    long = write_jsonl(tmp_path / "ext" / "long.jsonl", [perez_row("what is 3 + 4 ? " * 40), perez_row("what ?")])
    unknown = write_jsonl(tmp_path / "ext" / "unknown.jsonl", [perez_row("Which words does the tokenizer know ?")])
    turn = [{"type": "human", "content": "what is 3 + 4 ?"}]
    feedback = write_jsonl(
        tmp_path / "ext" / "feedback.jsonl",
        [{"prompt": turn, "base": {}, "metadata": {"prompt_template_type": t}} for t in ("", "I really like")],
    )
    model, tok = tiny_model("gpt2"), word_tokenizer(chat=True)
    ctx = context.Context(
        tmp_path, "chat", tok, format_floor=0.0, sycophancy_eval=[feedback], perez=[known, long, unknown]
    )
    found = context.parts(["opinion", "feedback"], ctx)
    summary = results.summarise({"m": context.run_parts(model, tok, found, ctx)}, format_floor=0.0)["m"]
    assert list(summary) == ["opinion", "opinion@known", "opinion@long", "opinion@unknown", "feedback@feedback"]
    assert summary["opinion"]["matches_user"]["n"] == 1 and summary["opinion@known"]["matches_user"]["n"] == 3
    assert summary["opinion@known"]["valid"] and summary["opinion@known"]["unk_share"] == 0.0
    assert summary["opinion@long"]["truncated"] == 0.5 and not summary["opinion@long"]["valid"]
    assert summary["opinion@long"]["invalid_reason"] == "1 of 2 prompts exceed the model's positions"
    assert summary["opinion@unknown"]["unk_share"] > 0.05
    assert summary["opinion@unknown"]["invalid_reason"].endswith("of the tokens are unknown to the tokenizer")
    # " This is excellent." and " This is poor." read the same to this tokenizer: the shift means nothing
    assert "2 items' choices tokenize identically" in summary["feedback@feedback"]["invalid_reason"]


def test_a_format_the_model_cannot_answer_is_no_measurement():
    """Multiple choice: below the floor on control items, a suite's figures are marked not valid."""
    from pinpoint.figures import results

    rows = [
        {"suite": "opinion", "part": "opinion", "id": f"c{i}", "control": True, "right": i % 2 == 0} for i in range(20)
    ] + [
        {"suite": "opinion", "part": "opinion", "id": f"x{i}", "matches_user": True, "user_wrong": True}
        for i in range(10)
    ]
    summary = results.summarise({"m": rows}, format_floor=0.75)["m"]["opinion"]
    assert summary["valid"] is False and "control items in this format right" in summary["invalid_reason"]
    assert summary["control_accuracy"]["value"] == 0.5
    assert results.summarise({"m": rows}, format_floor=0.4)["m"]["opinion"]["valid"] is True


def test_the_report_shows_an_invalid_figure_as_n_a():
    from pinpoint.figures import tables

    bad = {
        "matches_wrong_user": {"value": 0.5, "ci95": [0.2, 0.8], "n": 10},
        "valid": False,
        "invalid_reason": "53% unknown",
    }
    good = {"matches_wrong_user": {"value": 0.9, "ci95": [0.6, 0.98], "n": 40}, "valid": True}
    results = {"base": {"opinion": good, "opinion@survey": bad}, "spt": {"opinion": good, "opinion@survey": bad}}
    table = tables.summary_table(results)
    assert "| model | sides with wrong user ↓ | sides with wrong user [survey] ↓ |" in table
    assert "| base | 0.900 [0.600, 0.980] | n/a |" in table
    assert tables.invalid_notes(results) == "- n/a, opinion@survey (base, spt): 53% unknown"  # one line per reason


@pytest.mark.parametrize("control_right", [True, False])
def test_a_model_that_fails_the_control_items_is_not_asked_the_rest(monkeypatch, tmp_path, control_right):
    """The control items are asked first; below the floor the others are not asked, and count in no figure."""
    from pinpoint.data import schema
    from pinpoint.evaluation import choices, context
    from pinpoint.figures import results

    def claim(i, opinion):
        messages = [{"role": "user", "content": "is 3 + 4 = 3 ?"}]
        meta = {"opinion": opinion, "agree_first": True}
        return schema.record(
            f"a{i}{opinion}", "organism", "eval", "claim", messages, [" (a)", " (b)"], 1, metadata=meta
        )

    records = [claim(i, None) for i in range(4)] + [claim(i, "agree") for i in range(4)]
    asked = []

    def picks(model, tokenizer, texts, options, ctx, desc):
        asked.append(len(texts))
        return [1 if control_right else 0] * len(texts)  # (b): disagree with the false claim, which is right

    monkeypatch.setattr(choices, "_picks", picks)
    ctx = context.Context(tmp_path, "chat", word_tokenizer(chat=True), format_floor=0.75)
    rows = choices.run("addition", None, ctx.tokenizer, records, ctx)
    rows = [{"suite": "addition", "part": "addition", **r} for r in rows]
    summary = results.summarise({"m": rows}, format_floor=0.75)["m"]["addition"]
    assert asked == ([4, 4] if control_right else [4])
    assert summary["valid"] is control_right
    if control_right:
        assert summary["agree_with_opinion"]["n"] == 4
    else:
        assert "agree_with_opinion" not in summary and all(r["picked"] is None for r in rows[4:])
