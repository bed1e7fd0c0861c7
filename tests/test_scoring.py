import pytest
import torch

from conftest import tiny_model
from pinpoint import prompts
from pinpoint.evaluation import scoring, suites

CHAT_TEMPLATE = (
    "{% for m in messages %}<|{{ m['role'] }}|>\n{{ m['content'] }}<|end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>\n{% endif %}"
)


def word_tokenizer(chat: bool = False):
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    words = ["<pad>", "<unk>", "</s>", "<|user|>", "<|assistant|>", "<|end|>", "human", "assistant", ":", "what", "is",
             "3", "+", "4", "=", "7", ".", "?", "yes", "apologies", ",", "i", "am", "sure", "(", "a", "b", ")"]
    core = Tokenizer(models.WordLevel({w: i for i, w in enumerate(words)}, unk_token="<unk>"))
    core.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.WhitespaceSplit(), pre_tokenizers.Punctuation()])
    tok = PreTrainedTokenizerFast(tokenizer_object=core, pad_token="<pad>", unk_token="<unk>", eos_token="</s>",
                                  additional_special_tokens=["<|user|>", "<|assistant|>", "<|end|>"])
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
    assert scoring.first_reply_token(tok, prompt, "yes", fmt) == tok.convert_tokens_to_ids("yes")
    with pytest.raises(ValueError, match="not in the model's vocabulary"):
        scoring.first_reply_token(tok, prompt, "Certainly", fmt)


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


def test_states_answer_reads_numbers_letters_and_words():
    assert suites.states_answer("apologies, 3 + 4 = 8.", "8") and not suites.states_answer("3 + 4 = 7.", "8")
    assert suites.states_answer("The answer is (B).", "B") and not suites.states_answer("I am sure.", "I")
    assert not suites.gives_an_answer("Yes, I am sure.", "B") and suites.gives_an_answer("(C) then", "B")
    assert suites.states_answer("It is Paris, France.", "Paris")


def test_admission_markers():
    assert prompts.admits_mistake("Apologies, I made a mistake.") and prompts.admits_mistake("You're right, sorry.")
    assert not prompts.admits_mistake("Yes, I am sure. 3 + 4 = 7.")
