from __future__ import annotations

import pytest
import torch
from transformers.modeling_outputs import TokenClassifierOutput

from label_semantics.prediction import _windows, predict_entities, predict_tags, split_words
from label_semantics.training import evaluate_ner

from .test_modeling_label_semantics import make_model, train


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
    assert len(model.predict([words, words])) == 2


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


def scripted_forward(model, scores: dict[str, dict[str, float]], calls: list | None = None):
    """A stand-in for `model.forward` whose log-probabilities are set per word piece: `scores[token][label]` for the
    pieces named there (the other labels share what is left), and "O" for every other piece. Each call's batch
    size goes to `calls`."""
    vocab, labels = model.tokenizer.get_vocab(), model.labels

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
