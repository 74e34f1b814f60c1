"""ONNX export and the ONNX Runtime backend behind the same predict(): same entities as torch, labels checked."""

from __future__ import annotations

import json
import shutil

import pytest
import torch

pytest.importorskip("onnxruntime")
pytest.importorskip("onnxscript")

from label_semantics import LabelSemanticsForTokenClassification  # noqa: E402
from label_semantics.onnx_backend import (  # noqa: E402
    ONNXExportError,
    ORTLabelSemanticsForTokenClassification,
    export_onnx,
)
from label_semantics.prediction import predict_tags  # noqa: E402
from label_semantics.training import evaluate_ner  # noqa: E402

from .test_modeling_label_semantics import make_model, train  # noqa: E402

TEXTS = [
    "john smith visited paris.",
    "mary jones works at acme corp in new york city",
    "",
    "the film was great and berlin was sad",
    # several windows of the tiny encoder (64 tokens)
    "john smith visited paris and london with mary " * 12,
]


def spans(results):
    return [[(e["label"], e["start"], e["end"], e["text"]) for e in entities] for entities in results]


@pytest.fixture(scope="module")
def exported(_tiny_encoder_dir, tmp_path_factory):
    """A trained tiny model and its export (default exporter, with the int8 graph)."""
    model = make_model(_tiny_encoder_dir)
    train(model, steps=60)
    folder = tmp_path_factory.mktemp("onnx-export")
    before = model.text_encoder.config._attn_implementation
    export_onnx(model, folder, quantize=True)
    # traced from eager attention, and the model given back with the attention it had
    assert before != "eager" and model.text_encoder.config._attn_implementation == before
    return model, folder


def test_onnx_fp32_gives_the_same_entities_as_torch(exported):
    model, folder = exported
    onnx_model = LabelSemanticsForTokenClassification.from_pretrained(folder, backend="onnx")
    assert isinstance(onnx_model, ORTLabelSemanticsForTokenClassification)
    expected, got = model.predict(TEXTS, batch_size=2), onnx_model.predict(TEXTS, batch_size=2)
    assert (
        sum(len(x) for x in expected) > 5
    )  # the trained model finds entities: the comparison means something
    assert spans(got) == spans(expected)
    for theirs, ours in zip(expected, got):
        for a, b in zip(theirs, ours):
            assert b["score"] == pytest.approx(a["score"], abs=1e-4)
    # the other input forms and options go through the same code
    words = TEXTS[1].split()
    for viterbi in (True, False):
        assert word_spans(onnx_model.predict(words, is_split_into_words=True, viterbi=viterbi)) == word_spans(
            model.predict(words, is_split_into_words=True, viterbi=viterbi)
        )
    assert predict_tags(onnx_model, [words, ["paris"]]) == predict_tags(model, [words, ["paris"]])


def word_spans(entities):
    return [(e["label"], e["word_start"], e["word_end"]) for e in entities]


def test_onnx_logits_match_the_torch_forward(exported):
    model, folder = exported
    onnx_model = ORTLabelSemanticsForTokenClassification.from_pretrained(folder)
    batch = model.tokenizer(["john smith visited paris", "acme"], padding=True, return_tensors="pt")
    with torch.inference_mode():
        expected = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
    got = onnx_model(batch["input_ids"], batch["attention_mask"]).logits
    mask = batch["attention_mask"].bool()
    assert torch.allclose(got[mask], expected[mask], atol=1e-4)
    with pytest.raises(ValueError, match="token_type_ids"):
        onnx_model(
            batch["input_ids"], batch["attention_mask"], token_type_ids=torch.ones_like(batch["input_ids"])
        )


def test_evaluation_and_call_time_labels_match_torch(exported, tmp_path):
    model, folder = exported
    onnx_model = LabelSemanticsForTokenClassification.from_pretrained(folder, backend="onnx")
    rows = [
        {"tokens": ["john", "smith", "visited", "paris"], "ner_tags": ["B-PER", "I-PER", "O", "B-LOC"]},
        {"tokens": ["mary", "lives", "in", "london"], "ner_tags": ["B-PER", "O", "O", "B-LOC"]},
    ]
    assert evaluate_ner(onnx_model, rows) == pytest.approx(evaluate_ner(model, rows))
    # new labels are encoded by the exported graph (shared towers) as the torch label tower encodes them
    reference = LabelSemanticsForTokenClassification.from_pretrained(folder)
    for m in (reference, onnx_model):
        m.set_labels(["O", "B-ORG", "I-ORG", "B-LOC", "I-LOC"])
    with torch.no_grad():
        assert torch.allclose(onnx_model.get_label_embeddings(), reference.encode_labels(), atol=1e-4)
    assert spans(onnx_model.predict(TEXTS)) == spans(reference.eval().predict(TEXTS))


def test_int8_graph_loads_and_predicts(exported):
    model, folder = exported
    fp32 = (folder / "onnx" / "model.onnx").stat().st_size
    int8 = (folder / "onnx" / "model_qint8.onnx").stat().st_size
    assert int8 < fp32
    quantized = LabelSemanticsForTokenClassification.from_pretrained(
        folder, backend="onnx", file_name="model_qint8.onnx"
    )
    tags = predict_tags(quantized, [t.split() for t in TEXTS if t])
    assert [len(t) for t in tags] == [len(t.split()) for t in TEXTS if t]
    assert {tag for sentence in tags for tag in sentence} <= set(model.config.labels)


def test_folder_whose_labels_differ_from_the_config_is_refused(exported, tmp_path):
    _, folder = exported
    stale = tmp_path / "stale"
    shutil.copytree(folder, stale)
    model = LabelSemanticsForTokenClassification.from_pretrained(stale)
    model.set_labels(["O", "B-ORG", "I-ORG"])
    model.save_pretrained(stale)  # a new config beside the old export's label vectors
    with pytest.raises(
        ONNXExportError, match=r"made for labels \['O', 'B-PER'.*holds \['O', 'B-ORG', 'I-ORG'\]"
    ):
        LabelSemanticsForTokenClassification.from_pretrained(stale, backend="onnx")
    # a description changed by hand is caught as well
    record = json.loads((folder / "onnx" / "export.json").read_text())
    record["label_descriptions"][1] = "begin human"
    (stale / "onnx" / "export.json").write_text(json.dumps(record))
    export = LabelSemanticsForTokenClassification.from_pretrained(folder)
    export.save_pretrained(stale)
    with pytest.raises(ONNXExportError, match="label_descriptions"):
        ORTLabelSemanticsForTokenClassification.from_pretrained(stale)


def test_missing_exports_and_wrong_options_are_explained(exported, tmp_path, _tiny_encoder_dir):
    model, folder = exported
    plain = tmp_path / "plain"
    model.save_pretrained(plain)
    with pytest.raises(ONNXExportError, match=r"No ONNX export .*export_onnx\("):
        LabelSemanticsForTokenClassification.from_pretrained(plain, backend="onnx")
    unquantized = tmp_path / "unquantized"
    shutil.copytree(folder, unquantized)
    (unquantized / "onnx" / "model_qint8.onnx").unlink()
    with pytest.raises(ONNXExportError, match=r"No .*model_qint8.onnx \(export with quantize=True"):
        ORTLabelSemanticsForTokenClassification.from_pretrained(unquantized, file_name="model_qint8.onnx")
    with pytest.raises(ValueError, match="backend='tensorflow'"):
        LabelSemanticsForTokenClassification.from_pretrained(folder, backend="tensorflow")
    with pytest.raises(TypeError, match=r"does not take \['dtype'\]"):
        LabelSemanticsForTokenClassification.from_pretrained(folder, backend="onnx", dtype="bfloat16")
    onnx_model = ORTLabelSemanticsForTokenClassification.from_pretrained(folder)
    with pytest.raises(ValueError, match="dtype=torch.bfloat16 applies to torch models"):
        onnx_model.predict("john", dtype="bfloat16")
    with pytest.raises(ValueError, match="does not train"):
        onnx_model.train()
    with pytest.raises(ValueError, match="float32 weights"):
        export_onnx(make_model(_tiny_encoder_dir).to(torch.bfloat16), tmp_path / "bf16")


def test_separate_label_tower_and_torchscript_exporter(_tiny_encoder_dir, tmp_path):
    model = make_model(_tiny_encoder_dir, share_towers=False).eval()
    onnx_dir = export_onnx(model, tmp_path / "two", torch_weights=False, dynamo=False)
    assert (onnx_dir / "label_encoder.onnx").is_file()
    assert not (tmp_path / "two" / "model.safetensors").exists()
    onnx_model = LabelSemanticsForTokenClassification.from_pretrained(tmp_path / "two", backend="onnx")
    assert spans(onnx_model.predict(TEXTS)) == spans(model.predict(TEXTS))
    for m in (model, onnx_model):
        m.set_labels(["O", "B-ORG", "I-ORG"])
    with torch.no_grad():
        assert torch.allclose(onnx_model.get_label_embeddings(), model.encode_labels(), atol=1e-4)


def test_learned_crf_transitions_travel_with_the_export(_tiny_encoder_dir, tmp_path):
    model = make_model(_tiny_encoder_dir, crf=True).eval()
    torch.manual_seed(1)
    with torch.no_grad():
        for parameter in model.crf.parameters():
            parameter.normal_(0, 3)  # strong enough to change the decoded tags
    export_onnx(model, tmp_path / "crf", torch_weights=False, dynamo=False)
    onnx_model = LabelSemanticsForTokenClassification.from_pretrained(tmp_path / "crf", backend="onnx")
    expected = spans(model.predict(TEXTS))
    assert spans(onnx_model.predict(TEXTS)) == expected
    onnx_model.crf = None  # the test can fail: without the transitions the tags differ
    assert spans(onnx_model.predict(TEXTS)) != expected


def test_the_ner_pipeline_runs_the_onnx_model(exported, caplog):
    """`pipeline("label-semantics-ner", model=<the ONNX Runtime model>)`: the torch pipeline's entities, with the
    model's labels and with labels given at call time, and no "not supported" complaint from transformers."""
    import logging

    from transformers import pipeline

    model, folder = exported
    onnx_model = LabelSemanticsForTokenClassification.from_pretrained(folder, backend="onnx")
    with caplog.at_level(logging.ERROR):
        fast = pipeline("label-semantics-ner", model=onnx_model, tokenizer=model.tokenizer)
    assert "not supported" not in caplog.text
    slow = pipeline("label-semantics-ner", model=model, tokenizer=model.tokenizer)

    def groups(results):
        return [[(e["entity_group"], e["start"], e["end"]) for e in r] for r in results]

    for options in ({}, {"labels": ["LOC"]}):
        expected, got = slow(TEXTS, **options), fast(TEXTS, **options)
        assert sum(len(r) for r in expected) > 2 and groups(got) == groups(expected)
        for theirs, ours in zip(expected, got, strict=True):
            assert [e["score"] for e in ours] == pytest.approx([e["score"] for e in theirs], abs=1e-4)
