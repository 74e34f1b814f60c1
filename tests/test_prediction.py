from __future__ import annotations

import copy

import pytest
import torch
from tokenizers.pre_tokenizers import WhitespaceSplit
from transformers import BertTokenizer
from transformers.modeling_outputs import TokenClassifierOutput

from label_semantics.prediction import _windows, predict_entities, predict_tags, score_words, split_words
from label_semantics.training import evaluate_ner

from .test_modeling_label_semantics import make_model, train
from .test_prediction_inputs import with_pre_tokenizer


@pytest.fixture(scope="module")
def model(_tiny_encoder_dir):
    model = make_model(_tiny_encoder_dir)
    train(model, steps=80)
    return model


def test_split_words_keeps_offsets(tokenizer):
    text = "  John's car, in N.Y.  "
    words = split_words(text, tokenizer)
    assert [w for w, _ in words] == ["John", "'", "s", "car", ",", "in", "N", ".", "Y", "."]
    assert all(text[a:b] == w for w, (a, b) in words)


def test_str_in_one_result_out_and_offsets(model):
    text = "Yesterday  John Smith visited Paris."
    entities = model.predict(text)
    assert isinstance(entities, list)
    assert {(e["label"], e["text"]) for e in entities} >= {("PER", "John Smith"), ("LOC", "Paris")}
    for e in entities:
        assert text[e["start"] : e["end"]] == e["text"]
        assert 0 < e["score"] <= 1


def test_list_in_list_out_and_pretokenised(model):
    batch = model.predict(["mary lives in london", "", "   "])
    assert len(batch) == 3 and batch[1] == [] and batch[2] == []
    assert ("LOC", "london") in {(e["label"], e["text"]) for e in batch[0]}
    words = ["mary", "lives", "in", "london"]
    single = model.predict(words, is_split_into_words=True)
    assert [(e["label"], e["word_start"], e["word_end"]) for e in single] == [
        (e["label"], e["word_start"], e["word_end"]) for e in batch[0]
    ]
    assert "start" not in single[0]
    assert model.predict([words, words]) == [single, single]
    assert model.predict([words, words], is_split_into_words=True) == [single, single]


def test_long_text_is_windowed_and_every_word_predicted(model):
    # the tiny encoder's window is 64 tokens; this text is several windows long
    sentence = "john smith visited paris and"
    words = (sentence + " ") * 40
    n_words = len(words.split())
    windows, best = _windows(
        [type("S", (), {"words": words.split()})()], model.tokenizer, max_length=64, stride=16
    )
    assert len(windows) > 3
    assert sorted(best[0]) == list(range(n_words))
    entities = model.predict(words)
    in_location = {w for e in entities if e["label"] == "LOC" for w in range(e["word_start"], e["word_end"])}
    paris = [i for i, w in enumerate(words.split()) if w == "paris"]
    assert len(paris) == 40 and set(paris) <= in_location  # every window, none lost at the edges
    assert entities == sorted(entities, key=lambda e: e["start"])


def test_window_scores_agree_with_a_single_pass(model):
    text = "john smith visited paris and mary lives in london"
    whole = predict_entities(model, text)
    windowed = predict_entities(model, text, max_length=12, stride=4)
    assert [(e["label"], e["text"]) for e in whole] == [(e["label"], e["text"]) for e in windowed]


def test_bad_stride_and_input(model):
    with pytest.raises(ValueError, match="stride=70"):
        model.predict("john", stride=70)
    with pytest.raises(TypeError, match="predict\\(\\) takes a str"):
        model.predict(42)


def test_predict_restores_training_mode(model):
    model.train()
    model.predict("john")
    assert model.training
    model.eval()


def scripted_forward(model, scores: dict[str, dict[str, float]], calls: list | None = None, tokenizer=None):
    """A stand-in for `model.forward` whose log-probabilities are set per word piece: `scores[token][label]` for the
    pieces named there (the other labels share what is left), and "O" for every other piece. Each call's batch
    size goes to `calls`. The pieces are those of `tokenizer` (defaults to `model.tokenizer`)."""
    vocab, labels = (tokenizer or model.tokenizer).get_vocab(), model.labels

    def row(probabilities: dict[str, float]) -> torch.Tensor:
        rest = (1.0 - sum(probabilities.values())) / (len(labels) - len(probabilities))
        return torch.tensor([probabilities.get(label, rest) for label in labels]).log()

    rows = {vocab[token]: row(p) for token, p in scores.items()}
    default = row({"O": 0.96})

    def forward(input_ids=None, attention_mask=None, **kwargs):
        if calls is not None:
            calls.append(input_ids.shape[0])
        logits = torch.stack([torch.stack([rows.get(i, default) for i in ids]) for ids in input_ids.tolist()])
        return TokenClassifierOutput(logits=logits)

    return forward


# argmax reads "john smith" as O I-PER, which IOB2 forbids; the best valid sequence is B-PER I-PER
# (0.4 x 0.9 against 0.6 x 0.05 for O O).
ARGMAX_IS_INVALID = {"john": {"O": 0.6, "B-PER": 0.4}, "smith": {"I-PER": 0.9, "O": 0.05}}


def test_viterbi_off_uses_argmax(model, monkeypatch):
    monkeypatch.setattr(model, "forward", scripted_forward(model, ARGMAX_IS_INVALID))
    words = ["john", "smith"]
    assert predict_tags(model, [words], viterbi=False) == [["O", "I-PER"]]
    assert predict_tags(model, [words], viterbi=True) == [["B-PER", "I-PER"]]
    assert predict_tags(model, [words]) == [["B-PER", "I-PER"]]  # Viterbi is the default
    viterbi = predict_entities(model, "john smith")
    assert [(e["label"], e["text"]) for e in viterbi] == [("PER", "john smith")]
    assert viterbi[0]["score"] == pytest.approx((0.4 + 0.9) / 2)
    pretokenised = predict_entities(model, ["john", "smith"], is_split_into_words=True)
    assert [(e["label"], e["text"]) for e in pretokenised] == [
        ("PER", "john smith")
    ]  # the words, space-joined
    argmax = predict_entities(model, "john smith", viterbi=False)
    assert [(e["label"], e["text"]) for e in argmax] == [("PER", "smith")]  # a stray I- opens an entity
    assert argmax[0]["score"] == pytest.approx(0.9)


def test_evaluate_ner_switches_the_decoder(model, monkeypatch):
    monkeypatch.setattr(model, "forward", scripted_forward(model, ARGMAX_IS_INVALID))
    rows = [{"tokens": ["john", "smith", "visited"], "ner_tags": ["B-PER", "I-PER", "O"]}]
    assert evaluate_ner(model, rows)["overall_f1"] == 1.0
    assert evaluate_ner(model, rows, viterbi=True)["overall_f1"] == 1.0
    argmax = evaluate_ner(model, rows, viterbi=False)
    assert argmax["overall_f1"] == 0.0 and argmax["overall_precision"] == 0.0 and argmax["PER_number"] == 1


def test_a_word_the_tokenizer_drops_still_gets_a_prediction(model):
    words = ["john", "\u2764", "\ufe0f", "visited", "paris"]  # U+FE0F alone tokenises to nothing
    assert 2 not in model.tokenizer(words, is_split_into_words=True).word_ids()
    tags = predict_tags(model, [words, ["\ufe0fjohn", "visited", "paris"]])
    assert [len(t) for t in tags] == [5, 3]
    assert tags[0][4] == tags[1][2] == "B-LOC"


def forward_scores(model, tokenizer, words: list[str]) -> torch.Tensor:
    """The forward pass's log-probabilities at each word's first sub-token, for one window holding `words`."""
    encoding = tokenizer(words, is_split_into_words=True, return_tensors="pt")
    with torch.no_grad():
        log_probs = model(input_ids=encoding["input_ids"], attention_mask=encoding["attention_mask"]).logits
    word_ids = encoding.word_ids()
    first = [word_ids.index(w) for w in range(len(words))]
    return log_probs[0].log_softmax(-1)[first]


def test_score_words_equals_the_forward_pass_of_each_window(model):
    words = "the a an of in to and is was at".split()  # one token each
    (whole,) = score_words(model, [words])
    torch.testing.assert_close(whole, forward_scores(model, model.tokenizer, words))
    # 4 words per window (6 tokens with [CLS] and [SEP]); stride=0: no overlap, each word read in its own window
    (windowed,) = score_words(model, [words], max_length=6, stride=0)
    for i in range(len(words)):
        window = words[i - i % 4 : i - i % 4 + 4]
        torch.testing.assert_close(windowed[i], forward_scores(model, model.tokenizer, window)[i % 4])


def test_score_words_uses_the_tokenizer_given(model):
    cased = BertTokenizer(vocab=model.tokenizer.get_vocab(), do_lower_case=False)
    words = ["John", "visited", "Paris"]
    (own,) = score_words(model, [words])
    (other,) = score_words(model, [words], tokenizer=cased)
    torch.testing.assert_close(other, forward_scores(model, cased, words))
    assert not torch.allclose(own, other)  # "John" and "Paris" are [UNK] for the cased tokenizer


def test_dtype_runs_the_encoder_in_that_precision(model):
    words = ["john", "smith", "visited", "paris"]
    (full,) = score_words(model, [words])
    (half,) = score_words(model, [words], dtype="bfloat16")
    assert half.dtype == torch.float32 and not torch.equal(full, half)
    torch.testing.assert_close(half, full, atol=0.1, rtol=0.05)
    text = "happy apple"  # an entity the model is unsure of (score about 0.57), so that the precision shows
    full_entities = predict_entities(model, text)
    half_entities = predict_entities(model, text, dtype="bfloat16")
    assert full_entities, "the trained model finds an entity here"
    assert [e["score"] for e in half_entities] == pytest.approx([e["score"] for e in full_entities], abs=0.05)
    assert [e["score"] for e in half_entities] != [e["score"] for e in full_entities]
    for function in (score_words, predict_tags):
        with pytest.raises(ValueError, match="dtype='int4' is not a precision"):
            function(model, [words], dtype="int4")


def window_dependent_forward(model):
    """A stand-in for `model.forward`: "paris" is B-LOC in a window that also holds "visited", every other piece
    (and "paris" elsewhere) is O."""
    vocab, labels = model.tokenizer.get_vocab(), model.labels
    location = torch.tensor([0.9 if label == "B-LOC" else 0.025 for label in labels]).log()
    other = torch.tensor([0.9 if label == "O" else 0.025 for label in labels]).log()

    def forward(input_ids=None, attention_mask=None, **kwargs):
        rows = []
        for ids in input_ids.tolist():
            context = vocab["visited"] in ids
            rows.append(torch.stack([location if i == vocab["paris"] and context else other for i in ids]))
        return TokenClassifierOutput(logits=torch.stack(rows))

    return forward


def test_predict_tags_reads_each_word_in_the_window_of_max_length_and_stride_given(model, monkeypatch):
    monkeypatch.setattr(model, "forward", window_dependent_forward(model))
    words = ["visited", "a", "paris", "a", "a", "a"]
    located = [["O", "O", "B-LOC", "O", "O", "O"]]
    assert predict_tags(model, [words]) == located  # one window
    # 3 words per window; stride=0: "paris" is only in the first window, beside "visited"
    assert predict_tags(model, [words], max_length=5, stride=0) == located
    # stride=2: windows "visited a paris", "a paris a", ...: the second gives "paris" the most context
    assert predict_tags(model, [words], max_length=5, stride=2) == [["O"] * 6]
    text = " ".join(words)
    assert [e["text"] for e in predict_entities(model, text, max_length=5, stride=0)] == ["paris"]
    assert predict_entities(model, text, max_length=5, stride=2) == []
    # so too when a word the tokenizer drops (U+FE0F) is read as [UNK] and the windows are cut again
    assert predict_tags(model, [words[:-1] + ["\ufe0f"]], max_length=5, stride=2) == [["O"] * 6]
    # 4 words per window, stride=3: "paris" has 2 tokens of context on each side first in "a visited a paris"
    # (then in "visited a paris a" and "a paris a a" less or as much): an equal later context does not take it
    words = ["a", "visited", "a", "paris", "a", "a"]
    assert predict_tags(model, [words], max_length=6, stride=3) == [["O", "O", "O", "B-LOC", "O", "O"]]


def test_predict_uses_the_tokenizer_given(model, monkeypatch):
    monkeypatch.setattr(
        model, "forward", scripted_forward(model, {"paris": {"B-LOC": 0.9}, "[UNK]": {"B-LOC": 0.9}})
    )
    cased = BertTokenizer(vocab=model.tokenizer.get_vocab(), do_lower_case=False)
    assert predict_tags(model, [["visited", "paris"]]) == [["O", "B-LOC"]]
    assert predict_tags(model, [["Visited", "paris"]], tokenizer=cased) == [["B-LOC", "B-LOC"]]  # [UNK] paris
    # raw text is split into the words of the tokenizer given: "paris." is one word (one [UNK]) for WhitespaceSplit
    whitespace = with_pre_tokenizer(model.tokenizer, WhitespaceSplit())
    for entities in (
        predict_entities(model, "john visited paris.", tokenizer=whitespace),
        predict_entities(model, ["john visited paris."], tokenizer=whitespace)[0],
    ):
        assert [(e["text"], e["start"], e["end"], e["word_start"]) for e in entities] == [
            ("paris.", 13, 19, 2)
        ]
    own = predict_entities(model, "john visited paris.")  # BERT's: "paris" and "." are two words
    assert [(e["text"], e["start"], e["end"], e["word_start"]) for e in own] == [("paris", 13, 18, 2)]


def test_batch_size_is_the_number_of_windows_per_forward_pass(model, monkeypatch):
    calls = []
    monkeypatch.setattr(model, "forward", scripted_forward(model, {}, calls))
    sentences = [["john"]] * 33
    for run in (
        lambda **kw: predict_tags(model, sentences, **kw),
        lambda **kw: score_words(model, sentences, **kw),
        lambda **kw: predict_entities(model, ["john"] * 33, **kw),
    ):
        calls.clear()
        run()
        assert calls == [32, 1]  # the default
        calls.clear()
        run(batch_size=8)
        assert calls == [8, 8, 8, 8, 1]


def jamo_tokenizer(model, unk_token: str = "[UNK]") -> BertTokenizer:
    """`model.tokenizer` with the jamo of "한": uncased BERT decomposes the syllable (NFD) into three pieces that all
    carry the offsets of the one character. `unk_token` renames the unknown token."""
    vocab = sorted(model.tokenizer.get_vocab(), key=model.tokenizer.get_vocab().get)
    vocab = [unk_token if token == "[UNK]" else token for token in vocab] + ["\u1112", "##\u1161", "##\u11ab"]
    return BertTokenizer(vocab={token: i for i, token in enumerate(vocab)}, unk_token=unk_token)


def test_a_word_of_pieces_with_one_offset_is_read_at_its_first_piece(model, monkeypatch):
    tokenizer = jamo_tokenizer(model)
    assert tokenizer.tokenize("한") == ["\u1112", "##\u1161", "##\u11ab"]
    pieces = {"\u1112": {"B-LOC": 0.9}, "##\u1161": {"B-PER": 0.9}, "##\u11ab": {"B-PER": 0.9}}
    monkeypatch.setattr(model, "forward", scripted_forward(model, pieces, tokenizer=tokenizer))
    words = ["john", "한", "visited", "paris"]
    assert predict_tags(model, [words], tokenizer=tokenizer) == [["O", "B-LOC", "O", "O"]]
    # a tokenizer that adds no [CLS] / [SEP]: the window opens with the word's first piece
    bare = copy.deepcopy(tokenizer)
    bare.backend_tokenizer.post_processor = None
    assert bare("john")["input_ids"] == [tokenizer.convert_tokens_to_ids("john")]
    assert predict_tags(model, [["한"], ["한", "john"]], tokenizer=bare) == [["B-LOC"], ["B-LOC", "O"]]


def test_a_dropped_word_is_read_at_the_tokenizers_own_unknown_token(model, monkeypatch):
    tokenizer = jamo_tokenizer(model, unk_token="<unk>")
    monkeypatch.setattr(
        model, "forward", scripted_forward(model, {"<unk>": {"B-LOC": 0.9}}, tokenizer=tokenizer)
    )
    assert predict_tags(model, [["john", "\ufe0f"]], tokenizer=tokenizer) == [["O", "B-LOC"]]
