"""Multi-source pre-finetuning: one model, several label sets, each sentence scored against its own."""

from __future__ import annotations

import logging

import datasets
import pytest
import torch

from label_semantics import LabelSemanticsForTokenClassification
from label_semantics.cli import main
from label_semantics.multi_source import (
    MultiSourceCollator,
    MultiSourceError,
    Source,
    combine_sources,
    encode_sources,
)
from label_semantics.training import finetune

from .conftest import write_column_file

NEWS = {
    "tokens": [["john", "visited", "paris"], ["acme", "bought", "google"], ["mary", "lives", "in", "london"]],
    "ner_tags": [["B-PER", "O", "B-LOC"], ["B-ORG", "O", "B-ORG"], ["B-PER", "O", "O", "B-LOC"]],
}
MOVIES = {
    "tokens": [["john", "smith", "film"], ["a", "sad", "movie"], ["mary", "jones", "song"]],
    "ner_tags": [["B-actor", "I-actor", "O"], ["O", "B-genre", "O"], ["B-actor", "I-actor", "O"]],
}


def _model(path, **config):
    return LabelSemanticsForTokenClassification.from_encoder(path, labels=["O", "B-PER", "I-PER"], **config)


def _sources():
    return [
        Source("news.txt", datasets.Dataset.from_dict(NEWS)),
        Source("movies.txt", datasets.Dataset.from_dict(MOVIES)),
    ]


@pytest.mark.parametrize("crf_loss", [None, "nll", "nll+ce"])
def test_each_sentence_sees_only_its_own_labels_through_the_stock_trainer(
    tiny_encoder_dir, tmp_path, crf_loss
):
    crf = {"crf": True, "crf_loss": crf_loss} if crf_loss else {}
    model = _model(tiny_encoder_dir, **crf)
    seen = []

    def record(module, args, kwargs, output):
        seen.append(
            (kwargs.get("allowed_tags"), kwargs["labels"], output.logits.detach(), output.loss.detach())
        )

    model.register_forward_hook(record, with_kwargs=True)
    finetune(model, sources=_sources(), output_dir=str(tmp_path / "run"), batch_size=2, max_steps=6, seed=0)

    labels = model.labels
    assert labels == ["O", "B-PER", "I-PER", "B-LOC", "I-LOC", "B-ORG", "I-ORG", "B-actor", "I-actor"] + [
        "B-genre",
        "I-genre",
    ]
    news = [int(t in {"O", "B-PER", "I-PER", "B-LOC", "I-LOC", "B-ORG", "I-ORG"}) for t in labels]
    movies = [int(t in {"O", "B-actor", "I-actor", "B-genre", "I-genre"}) for t in labels]
    assert len(seen) == 6
    rows_seen = set()
    for allowed, gold, logits, loss in seen:
        assert allowed is not None, (
            "the Trainer dropped allowed_tags: every sentence was scored on every label"
        )
        assert torch.isfinite(loss)
        for row, tags in zip(allowed.tolist(), gold):
            assert row in (news, movies)
            rows_seen.add(tuple(row))
            ids = {int(i) for i in tags if i != -100}
            assert ids <= {i for i, on in enumerate(row) if on}  # its gold labels are its own source's
        # a foreign label has the lowest score there is: the softmax gives it nothing
        foreign = ~allowed.bool()[:, None, :].expand_as(logits)
        assert torch.all(logits[foreign] == torch.finfo(logits.dtype).min)
        assert torch.all(logits.softmax(-1)[foreign] == 0)
    assert rows_seen == {tuple(news), tuple(movies)}  # both sources were trained on


@pytest.mark.parametrize("crf_loss", [None, "nll", "nll+ce"])
def test_masked_union_loss_equals_the_loss_on_the_sources_own_labels(tiny_encoder_dir, crf_loss):
    crf = {"crf": True, "crf_loss": crf_loss} if crf_loss else {}
    model = _model(tiny_encoder_dir, **crf).eval()
    if model.crf is not None:
        with torch.no_grad():
            model.crf.transitions.normal_()
            model.crf.start_transitions.normal_()
    combined = combine_sources(_sources())
    model.set_labels(combined.labels, descriptions=combined.descriptions)
    encoded = encode_sources(combined, model.tokenizer, model.config.label2id)
    collator = MultiSourceCollator(model.tokenizer)
    movie_rows = [row for row in encoded if row["allowed_tags"] == combined.allowed[1]]
    batch = collator(movie_rows)
    union = model(**batch).loss

    own = ["O", "B-actor", "I-actor", "B-genre", "I-genre"]
    remap = torch.tensor([own.index(t) if t in own else -1 for t in combined.labels])
    gold = batch["labels"].clone()
    gold[gold != -100] = remap[gold[gold != -100]]
    model.set_labels(own)
    alone = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"], labels=gold).loss
    torch.testing.assert_close(union, alone)
    # and without the mask the foreign labels do take probability mass: the loss differs
    model.set_labels(combined.labels, descriptions=combined.descriptions)
    unmasked = model(**{k: v for k, v in batch.items() if k != "allowed_tags"}).loss
    assert not torch.allclose(union, unmasked)


def test_masked_crf_training_has_finite_gradients(tiny_encoder_dir):
    model = _model(tiny_encoder_dir, crf=True, crf_loss="nll")
    combined = combine_sources(_sources())
    model.set_labels(combined.labels, descriptions=combined.descriptions)
    batch = MultiSourceCollator(model.tokenizer)(
        list(encode_sources(combined, model.tokenizer, model.config.label2id))
    )
    model(**batch).loss.backward()
    grads = [p.grad for p in model.parameters() if p.grad is not None]
    assert grads and all(torch.isfinite(g).all() for g in grads)


def test_a_gold_label_the_mask_forbids_is_an_error(tiny_encoder_dir):
    model = _model(tiny_encoder_dir)
    batch = model.tokenizer(["john"], return_tensors="pt")
    with pytest.raises(
        ValueError, match="gold label id 1 at position 1, which its allowed_tags row masks out"
    ):
        model(**batch, labels=torch.tensor([[-100, 1, -100]]), allowed_tags=torch.tensor([[1, 0, 1]]))
    with pytest.raises(ValueError, match=r"allowed_tags has shape \(1, 2\); it must be"):
        model(**batch, allowed_tags=torch.tensor([[1, 0]]))


def test_one_meaning_under_two_names_is_merged_by_description_and_logged(caplog):
    wnut = Source("wnut17/train.txt", [{"tokens": ["john"], "ner_tags": ["B-person"]}])
    conll = Source("conll2003/train.txt", [{"tokens": ["paris"], "ner_tags": ["B-PER"]}])
    with caplog.at_level(logging.WARNING, logger="label_semantics.multi_source"):
        combined = combine_sources([conll, wnut])
    assert combined.labels == ["O", "B-PER", "I-PER"]
    assert combined.datasets[1]["ner_tags"] == [["B-PER"]]
    assert combined.merged == {("wnut17/train.txt", "person"): "PER"}
    message = caplog.text
    assert (
        "'person' of source 'wnut17/train.txt'" in message
        and "'PER' of source 'conll2003/train.txt'" in message
    )
    assert "merged into one type 'PER'" in message
    # a description of its own keeps them apart
    apart = combine_sources([conll, Source(wnut.name, wnut.dataset, descriptions={"person": "person name"})])
    assert apart.labels == ["O", "B-PER", "I-PER", "B-person", "I-person"]


def test_one_name_with_two_descriptions_is_an_error_naming_both_sources():
    a = Source("a.txt", [{"tokens": ["paris"], "ner_tags": ["B-LOC"]}])
    b = Source(
        "b.txt", [{"tokens": ["paris"], "ner_tags": ["B-LOC"]}], descriptions={"LOC": "restaurant place"}
    )
    with pytest.raises(MultiSourceError, match=r"'LOC' is described as 'location' in source 'a.txt' and as "):
        combine_sources([a, b])
    renamed = combine_sources(
        [a, Source(b.name, b.dataset, descriptions=b.descriptions, rename={"LOC": "spot"})]
    )
    assert renamed.labels == ["O", "B-LOC", "I-LOC", "B-spot", "I-spot"]


def test_sources_in_different_schemes_are_converted_and_named(caplog):
    iob2 = Source("iob2.txt", [{"tokens": ["john", "smith"], "ner_tags": ["B-PER", "I-PER"]}])
    bioes = Source("bioes.txt", [{"tokens": ["mary", "x"], "ner_tags": ["S-PER", "O"]}])
    with caplog.at_level(logging.WARNING, logger="label_semantics.multi_source"):
        combined = combine_sources([iob2, bioes], scheme="IOB2")
    assert combined.labels == ["O", "B-PER", "I-PER"]
    assert combined.datasets[1]["ner_tags"] == [["B-PER", "O"]]
    assert "iob2.txt: IOB2, bioes.txt: BIOES" in caplog.text


@pytest.mark.parametrize("rows", [[], [{"tokens": ["the"], "ner_tags": ["O"]}]])
def test_a_source_without_entities_is_an_error_naming_it(rows):
    good = Source("good.txt", [{"tokens": ["paris"], "ner_tags": ["B-LOC"]}])
    with pytest.raises(MultiSourceError, match="source 'empty.txt' has .*every source must tag entities"):
        combine_sources([good, Source("empty.txt", rows)])


def test_finetune_takes_a_dataset_or_sources_not_both(tiny_encoder_dir, tmp_path):
    model = _model(tiny_encoder_dir)
    data = datasets.Dataset.from_dict(NEWS)
    with pytest.raises(ValueError, match="not both"):
        finetune(model, data, sources=_sources(), output_dir=str(tmp_path))
    with pytest.raises(ValueError, match="give each its own: Source"):
        finetune(model, sources=_sources(), scheme="IOB2", output_dir=str(tmp_path))


def test_cli_train_on_several_data_sets(tiny_encoder_dir, tmp_path, capsys):
    write_column_file(tmp_path / "news" / "train.txt", 12, ["PER", "LOC"], seed=0)
    write_column_file(tmp_path / "movies" / "train.txt", 12, ["actor", "genre"], seed=1)
    out = tmp_path / "model"
    argv = ["train", "--data", str(tmp_path / "news"), "--data", str(tmp_path / "movies")]
    argv += [
        "--backbone",
        str(tiny_encoder_dir),
        "--output",
        str(out),
        "--max-steps",
        "2",
        "--batch-size",
        "4",
    ]
    assert main(argv) == 0
    saved = LabelSemanticsForTokenClassification.from_pretrained(out)
    assert set(saved.labels) == {
        "O",
        "B-PER",
        "I-PER",
        "B-LOC",
        "I-LOC",
        "B-actor",
        "I-actor",
        "B-genre",
        "I-genre",
    }
    assert "24 training sentences" in capsys.readouterr().out
    with pytest.raises(SystemExit, match="--labels does not go with several --data"):
        main([*argv, "--labels", "O", "B-PER"])


@pytest.mark.parametrize(
    "argv",
    [
        ["evaluate", "--model", "m", "--data", "a", "--data", "b"],
        ["sample", "--data", "a", "--data", "b", "--k", "1", "--output", "o"],
        ["fewshot", "--source", "a", "--source", "b"],
    ],
)
def test_a_repeated_single_data_flag_is_an_error_naming_it(argv, capsys):
    with pytest.raises(SystemExit):
        main(argv)
    flag = argv[argv.index("a") - 1]
    assert f"argument {flag}: given twice ('a' and 'b')" in capsys.readouterr().err


def test_fewshot_transfer_pre_finetunes_on_several_sources(tiny_encoder_dir, tmp_path):
    from label_semantics.training import fewshot_transfer

    model = _model(tiny_encoder_dir)
    seen = []
    model.register_forward_hook(lambda m, a, k, out: seen.append(k.get("allowed_tags")), with_kwargs=True)
    target = datasets.Dataset.from_dict(
        {"tokens": [["paris", "song"], ["a", "book"]], "ner_tags": [["B-place", "O"], ["O", "B-work"]]}
    )
    model, support = fewshot_transfer(
        model,
        _sources(),
        target,
        k=1,
        output_dir=str(tmp_path),
        source_epochs=1,
        target_steps=1,
        batch_size=2,
    )
    assert (
        seen[0] is not None and seen[-1] is None
    )  # the source stage ran masked, the target stage on its labels
    assert model.labels == ["O", "B-place", "I-place", "B-work", "I-work"]


def test_cli_train_several_data_sets_with_definitions(tiny_encoder_dir, tmp_path):
    from label_semantics.label_descriptions import describe_type

    write_column_file(tmp_path / "news" / "train.txt", 12, ["PER", "LOC"], seed=0)
    write_column_file(tmp_path / "movies" / "train.txt", 12, ["actor", "genre"], seed=1)
    out = tmp_path / "model"
    argv = ["train", "--data", str(tmp_path / "news"), "--data", str(tmp_path / "movies")]
    argv += ["--backbone", str(tiny_encoder_dir), "--output", str(out), "--max-steps", "1"]
    assert main([*argv, "--description-style", "definitions"]) == 0
    saved = LabelSemanticsForTokenClassification.from_pretrained(out)
    assert saved.config.description_style == "definitions"
    descriptions = dict(zip(saved.labels, saved.config.label_descriptions))
    # the label tower reads the definitions, not the names the sources were matched by
    assert descriptions["B-PER"] == "begin " + describe_type("PER", style="definitions")
    assert descriptions["I-genre"] == "inside " + describe_type("genre", style="definitions")
    assert describe_type("PER", style="definitions") != describe_type("PER")
    with pytest.raises(SystemExit):  # given twice: an error, not the last one silently
        main([*argv, "--description-style", "names", "--description-style", "definitions"])
