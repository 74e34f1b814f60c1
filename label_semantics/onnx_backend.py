"""ONNX export of the dual-tower NER model, and a model backed by ONNX Runtime that runs behind the same `predict()`.

The design follows sentence-transformers' `backend="onnx"` and optimum's `ORTModelForTokenClassification`: the
exported graphs live in the `onnx/` subfolder of an ordinary checkpoint folder, beside its `config.json` and
tokenizer, and one call loads them:

```python
>>> from label_semantics import LabelSemanticsForTokenClassification
>>> from label_semantics.onnx_backend import export_onnx

>>> export_onnx(model, "my-ner", quantize=True)   # onnx/model.onnx, onnx/model_qint8.onnx, label vectors
>>> fast = LabelSemanticsForTokenClassification.from_pretrained("my-ner", backend="onnx")
>>> fast.predict("John Smith lives in Paris.")     # the same windowing and decoding as the torch model
```

What is exported: the text tower, whose graph takes the label vectors as its third input
(`input_ids`, `attention_mask`, `description_embeddings` -> `logits`, `last_hidden_state`), so one graph serves the
model's own labels and labels given at call time. The vectors of the model's labels are computed by the torch label
tower in float32 at export time and saved beside the graph (`onnx/label_vectors.npy`); `set_labels` on the loaded
model encodes new labels with the exported text graph (shared towers) or with `onnx/label_encoder.onnx` (a
separate label tower). `export.json` records the labels the vectors belong to, and loading refuses a folder whose
`config.json` holds other labels.

Inference still imports torch: the pre- and post-processing (windowing, batching, Viterbi decoding, spans) are the
torch-based code of `label_semantics.prediction` and `label_semantics.decoding`, shared with the torch model; a
torch-free path would need a second copy of them. ONNX Runtime replaces the encoder, which is where the time goes.
"""

from __future__ import annotations

import importlib
import json
import logging
import os
import warnings
from pathlib import Path

import numpy as np
import torch
from torch import nn
from transformers import AutoTokenizer
from transformers.modeling_outputs import TokenClassifierOutput

from .configuration_label_semantics import LabelSemanticsConfig
from .modeling_label_semantics import (
    LABEL_TOKENIZER_DIR,
    LabelSemanticsForTokenClassification,
    label_input_tensors,
    pool_label_states,
)

logger = logging.getLogger(__name__)

ONNX_DIR = "onnx"
MODEL_FILE = "model.onnx"
QUANTIZED_FILE = "model_qint8.onnx"
LABEL_ENCODER_FILE = "label_encoder.onnx"
LABEL_VECTORS_FILE = "label_vectors.npy"
CRF_FILE = "crf.npz"
EXPORT_FILE = "export.json"
EXPORT_FORMAT = 1


class ONNXExportError(ValueError):
    """An ONNX folder that cannot serve the model it sits beside (missing files, other labels)."""


def _require(module: str):
    try:
        return importlib.import_module(module)
    except ImportError as err:
        raise ImportError(
            f"The ONNX backend needs {module!r}, which is not installed: pip install 'label-semantics[onnx]' "
            "(onnx, onnxruntime, onnxscript)."
        ) from err


# ---------------------------------------------------------------------------------------------- export


class _TextGraph(nn.Module):
    """What is exported: the text tower and the dot product with label vectors given as an input."""

    def __init__(self, encoder: nn.Module):
        super().__init__()
        self.encoder = encoder

    def forward(self, input_ids, attention_mask, description_embeddings):
        states = self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        return states @ description_embeddings.T, states


class _EncoderGraph(nn.Module):
    def __init__(self, encoder: nn.Module):
        super().__init__()
        self.encoder = encoder

    def forward(self, input_ids, attention_mask):
        return self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state


def _dummy_inputs(model, length: int = 8) -> tuple[torch.Tensor, torch.Tensor]:
    vocab = model.config.get_text_config().vocab_size
    device = model.text_encoder.device
    input_ids = torch.arange(2 * length, device=device).remainder(vocab - 10).add(5).view(2, length)
    attention_mask = torch.ones_like(input_ids)
    attention_mask[1, length // 2 :] = 0
    return input_ids, attention_mask


def _export(
    graph: nn.Module, args: tuple, path: Path, names: list[str], outputs: list[str], limit: int, dynamo
):
    batch = torch.export.Dim("batch", max=1 << 20)
    length = torch.export.Dim("sequence", max=limit)
    shapes = {names[0]: {0: batch, 1: length}, names[1]: {0: batch, 1: length}}
    axes = {name: {0: "batch", 1: "sequence"} for name in names[:2]}
    axes.update({name: {0: "batch", 1: "sequence"} for name in outputs})
    if len(names) > 2:
        shapes[names[2]] = {0: torch.export.Dim("labels", max=1 << 20)}
        axes[names[2]] = {0: "labels"}
        axes[outputs[0]] = {0: "batch", 1: "sequence", 2: "labels"}
    with warnings.catch_warnings():
        # torch.onnx reports that input_ids and attention_mask share their axes, as they are meant to
        warnings.filterwarnings("ignore", message=".*shares the same shape constraints.*")
        if dynamo:
            torch.onnx.export(
                graph,
                args,
                str(path),
                input_names=names,
                output_names=outputs,
                dynamic_shapes=shapes,
                dynamo=True,
                external_data=False,
                verbose=False,
            )
        else:
            torch.onnx.export(
                graph,
                args,
                str(path),
                input_names=names,
                output_names=outputs,
                dynamic_axes=axes,
                opset_version=17,
                dynamo=False,
            )


def export_onnx(
    model: LabelSemanticsForTokenClassification,
    save_directory: str | os.PathLike,
    *,
    quantize: bool = False,
    torch_weights: bool = True,
    dynamo: bool = True,
) -> Path:
    r"""
    Export a dual-tower model to ONNX, into the `onnx/` subfolder of a checkpoint folder that then loads with
    `LabelSemanticsForTokenClassification.from_pretrained(save_directory, backend="onnx")`.

    Args:
        model ([`LabelSemanticsForTokenClassification`]): the model, in float32, with its tokenizer.
        save_directory (`str` or `os.PathLike`): the folder; created when missing.
        quantize (`bool`, *optional*, defaults to `False`): also write `onnx/model_qint8.onnx`, the text graph with
            int8 weights (ONNX Runtime dynamic quantisation: int8 weights, activations quantised per batch); load it
            with `file_name="model_qint8.onnx"`. The label vectors stay the float32 ones.
        torch_weights (`bool`, *optional*, defaults to `True`): save the torch checkpoint as well (`save_pretrained`),
            so the folder loads with either backend; with `False` only the config and tokenizer(s) are written
            beside `onnx/`.
        dynamo (`bool`, *optional*, defaults to `True`): use torch's `torch.export`-based exporter (the supported
            one); `False` uses the older TorchScript exporter.

    Returns:
        `Path`: the `onnx/` folder.
    """
    _require("onnx")
    if not isinstance(model, LabelSemanticsForTokenClassification):
        raise TypeError(
            f"export_onnx exports a LabelSemanticsForTokenClassification, got {type(model).__name__}. For other "
            "transformers models use optimum: optimum-cli export onnx --model PATH OUTPUT."
        )
    dtypes = {p.dtype for p in model.parameters()}
    if dtypes != {torch.float32}:
        raise ValueError(
            f"export_onnx exports float32 weights; the model holds {sorted(map(str, dtypes))}. Call model.float() "
            "first (int8 comes from quantize=True)."
        )
    if model.tokenizer is None:
        raise ValueError(
            "export_onnx needs the model's tokenizer, which is saved beside the graphs: set model.tokenizer = "
            "AutoTokenizer.from_pretrained(encoder_path)."
        )
    folder = Path(save_directory)
    onnx_dir = folder / ONNX_DIR
    onnx_dir.mkdir(parents=True, exist_ok=True)
    was_training = model.training
    model.eval()
    towers = [t for t in (model.text_encoder, model.label_encoder) if t is not None]
    attention = [t.config._attn_implementation for t in towers]
    try:
        # the graphs are traced from eager attention, whose ONNX Runtime graphs (float32 and above all int8) run
        # faster than those traced from SDPA on the CPU (BENCHMARKS.md, inference speed); the scores are the same
        for tower in towers:
            tower.set_attn_implementation("eager")
        with torch.no_grad():
            vectors = model.encode_labels().float()
        if torch_weights:
            model.save_pretrained(folder)
        else:
            model.config.save_pretrained(folder)
            model.tokenizer.save_pretrained(folder)
            if model.label_tokenizer is not None:
                model.label_tokenizer.save_pretrained(folder / LABEL_TOKENIZER_DIR)
        limit = _limit(model)
        input_ids, attention_mask = _dummy_inputs(model)
        logger.info("Exporting the text tower to %s", onnx_dir / MODEL_FILE)
        _export(
            _TextGraph(model.text_encoder).eval(),
            (input_ids, attention_mask, vectors),
            onnx_dir / MODEL_FILE,
            ["input_ids", "attention_mask", "description_embeddings"],
            ["logits", "last_hidden_state"],
            limit,
            dynamo,
        )
        files = {"model": MODEL_FILE}
        if model.label_encoder is not None:
            logger.info("Exporting the label tower to %s", onnx_dir / LABEL_ENCODER_FILE)
            _export(
                _EncoderGraph(model.label_encoder).eval(),
                model._label_inputs(),
                onnx_dir / LABEL_ENCODER_FILE,
                ["input_ids", "attention_mask"],
                ["last_hidden_state"],
                limit,
                dynamo,
            )
            files["label_encoder"] = LABEL_ENCODER_FILE
    finally:
        for tower, implementation in zip(towers, attention, strict=True):
            tower.set_attn_implementation(implementation)
        model.train(was_training)
    if quantize:
        _quantize(onnx_dir / MODEL_FILE, onnx_dir / QUANTIZED_FILE)
        files["quantized"] = QUANTIZED_FILE
    elif (onnx_dir / QUANTIZED_FILE).exists():
        (onnx_dir / QUANTIZED_FILE).unlink()  # an older export's: it would not match the new graph
    np.save(onnx_dir / LABEL_VECTORS_FILE, vectors.cpu().numpy())
    crf = getattr(model, "crf", None)
    if crf is not None:  # the learned transitions Viterbi decodes with: prediction reads them off `model.crf`
        np.savez(
            onnx_dir / CRF_FILE,
            **{name: p.detach().float().cpu().numpy() for name, p in crf.named_parameters()},
        )
    else:
        (onnx_dir / CRF_FILE).unlink(missing_ok=True)
    record = {
        "format": EXPORT_FORMAT,
        "labels": model.config.labels,
        "label_descriptions": list(model.config.label_descriptions),
        "label_pooling": model.config.label_pooling,
        "crf_scheme": crf.scheme if crf is not None else None,
        "share_towers": model.label_encoder is None,
        "hidden_size": int(vectors.shape[-1]),
        "max_length": limit,
        "files": files,
        "exporter": "dynamo" if dynamo else "torchscript",
        "torch_version": torch.__version__,
    }
    (onnx_dir / EXPORT_FILE).write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")
    return onnx_dir


def _quantize(source: Path, target: Path) -> None:
    """ONNX Runtime dynamic quantisation (int8 weights; activations quantised per batch, the u8s8 form that
    AVX-512 VNNI and AMX run), after the shape inference and graph clean-up ONNX Runtime asks for first."""
    quantization = _require("onnxruntime.quantization")
    from onnxruntime.quantization.shape_inference import quant_pre_process

    logger.info("Quantising %s to int8 in %s", source, target)
    prepared = target.with_suffix(".prepared.onnx")
    try:
        quant_pre_process(str(source), str(prepared), skip_symbolic_shape=True)
        quantization.quantize_dynamic(str(prepared), str(target), weight_type=quantization.QuantType.QInt8)
    finally:
        prepared.unlink(missing_ok=True)


def _limit(model) -> int:
    config = model.config.get_text_config()
    limits = [
        getattr(config, "max_position_embeddings", None),
        getattr(model.tokenizer, "model_max_length", None),
    ]
    limits = [x for x in limits if isinstance(x, int) and 0 < x < 100_000]
    return min(limits) if limits else 512


# ---------------------------------------------------------------------------------------------- loading


def _check_export(record: dict, config: LabelSemanticsConfig, folder: Path) -> None:
    if record.get("format") != EXPORT_FORMAT:
        raise ONNXExportError(
            f"{folder / ONNX_DIR / EXPORT_FILE} is in export format {record.get('format')!r}, this version reads "
            f"{EXPORT_FORMAT}; export again with export_onnx(model, {str(folder)!r})."
        )
    mismatched = [
        (name, record.get(name), ours)
        for name, ours in (
            ("labels", config.labels),
            ("label_descriptions", list(config.label_descriptions or [])),
            ("label_pooling", config.label_pooling),
            ("crf_scheme", config.crf_scheme if getattr(config, "crf", False) else None),
        )
        if record.get(name) != ours
    ]
    if mismatched:
        name, theirs, ours = mismatched[0]
        raise ONNXExportError(
            f"The ONNX export in {folder / ONNX_DIR} was made for {name} {theirs}, but {folder / 'config.json'} "
            f"holds {ours}: its label vectors would score the wrong labels. Export again from the model, e.g. "
            f"export_onnx(LabelSemanticsForTokenClassification.from_pretrained({str(folder)!r}), "
            f"{str(folder)!r})."
        )


class ORTLabelSemanticsForTokenClassification:
    r"""
    The dual-tower NER model run by ONNX Runtime. It has what `label_semantics.prediction` reads of a model
    (`config`, `tokenizer`, `get_label_embeddings`, a call returning `logits`), so `predict()`, `predict_tags` and
    `evaluate_ner` run on it unchanged, with the same windowing and decoding as the torch model. Labels can be
    replaced with [`set_labels`], as on the torch model. It does not train.

    Load it with `LabelSemanticsForTokenClassification.from_pretrained(path, backend="onnx")` or with
    [`from_pretrained`] on a folder written by [`export_onnx`].

    Example:

    ```python
    >>> model = LabelSemanticsForTokenClassification.from_pretrained("my-ner", backend="onnx")
    >>> model.predict(["John lives in Paris.", "Acme Corp hired Mary."])
    >>> int8 = LabelSemanticsForTokenClassification.from_pretrained(
    ...     "my-ner", backend="onnx", file_name="model_qint8.onnx"
    ... )
    ```
    """

    main_input_name = "input_ids"
    training = False
    crf = None

    def __init__(
        self,
        session,
        config: LabelSemanticsConfig,
        label_vectors: torch.Tensor,
        *,
        tokenizer=None,
        label_tokenizer=None,
        label_session=None,
    ):
        self.session = session
        self.label_session = label_session
        self.config = config
        self.tokenizer = tokenizer
        self.label_tokenizer = label_tokenizer
        self._exported_vectors = label_vectors
        self._labels_version = 0
        self._label_cache: tuple[int, torch.Tensor] | None = None
        self._outputs = {output.name for output in session.get_outputs()}

    @classmethod
    def from_pretrained(
        cls,
        pretrained_model_name_or_path: str | os.PathLike,
        *,
        file_name: str = MODEL_FILE,
        providers: list | None = None,
        session_options=None,
        num_threads: int | None = None,
        **kwargs,
    ) -> ORTLabelSemanticsForTokenClassification:
        r"""
        Load a folder written by [`export_onnx`].

        Args:
            pretrained_model_name_or_path (`str` or `os.PathLike`): a local folder holding `config.json`, the
                tokenizer and `onnx/`.
            file_name (`str`, *optional*, defaults to `"model.onnx"`): the text graph in `onnx/`;
                `"model_qint8.onnx"` for the int8 one.
            providers (`list`, *optional*): ONNX Runtime execution providers; defaults to `["CPUExecutionProvider"]`.
            session_options (`onnxruntime.SessionOptions`, *optional*): used as given when passed.
            num_threads (`int`, *optional*): intra-op threads; defaults to torch's (`torch.get_num_threads()`,
                which follows `OMP_NUM_THREADS`), so both backends use the same cores.
            **kwargs: `local_files_only`, `revision`, `token`, `cache_dir` are accepted for the tokenizer; anything
                else is an error.
        """
        ort = _require("onnxruntime")
        unknown = sorted(
            set(kwargs) - {"local_files_only", "revision", "token", "cache_dir", "trust_remote_code"}
        )
        if unknown:
            raise TypeError(
                f"backend='onnx' does not take {unknown}; it takes file_name, providers, session_options and "
                "num_threads (the graph's precision is fixed at export: dtype= does not apply)."
            )
        folder = Path(pretrained_model_name_or_path)
        onnx_dir = folder / ONNX_DIR
        if not (onnx_dir / EXPORT_FILE).is_file():
            raise ONNXExportError(
                f"No ONNX export in {onnx_dir} (no {EXPORT_FILE}). Export the model first: "
                f"export_onnx(LabelSemanticsForTokenClassification.from_pretrained({str(folder)!r}), "
                f"{str(folder)!r})."
            )
        record = json.loads((onnx_dir / EXPORT_FILE).read_text(encoding="utf-8"))
        config = LabelSemanticsConfig.from_pretrained(folder)
        _check_export(record, config, folder)
        if not (onnx_dir / file_name).is_file():
            present = sorted(p.name for p in onnx_dir.glob("*.onnx"))
            hint = " (export with quantize=True to write it)" if file_name == QUANTIZED_FILE else ""
            raise ONNXExportError(f"No {onnx_dir / file_name}{hint}; {onnx_dir} holds {present}.")
        if session_options is None:
            session_options = ort.SessionOptions()
            session_options.intra_op_num_threads = num_threads or torch.get_num_threads()
            session_options.inter_op_num_threads = 1
        providers = providers or ["CPUExecutionProvider"]
        session = ort.InferenceSession(str(onnx_dir / file_name), session_options, providers=providers)
        label_session = None
        if "label_encoder" in record["files"]:
            label_session = ort.InferenceSession(
                str(onnx_dir / record["files"]["label_encoder"]), session_options, providers=providers
            )
        vectors = torch.from_numpy(np.load(onnx_dir / LABEL_VECTORS_FILE))
        crf = _load_crf(onnx_dir, record["crf_scheme"]) if record.get("crf_scheme") else None
        options = {
            k: kwargs[k] for k in ("local_files_only", "revision", "token", "cache_dir") if k in kwargs
        }
        tokenizer = AutoTokenizer.from_pretrained(folder, **options)
        label_tokenizer = None
        if (folder / LABEL_TOKENIZER_DIR).is_dir():
            label_tokenizer = AutoTokenizer.from_pretrained(folder / LABEL_TOKENIZER_DIR, **options)
        positions = getattr(config.get_text_config(), "max_position_embeddings", None)
        if isinstance(positions, int) and tokenizer.model_max_length > positions:
            tokenizer.model_max_length = positions
        model = cls(
            session,
            config,
            vectors,
            tokenizer=tokenizer,
            label_tokenizer=label_tokenizer,
            label_session=label_session,
        )
        model.crf = crf
        return model

    # what prediction reads of a model

    @property
    def device(self) -> torch.device:
        """Inputs are handed to ONNX Runtime from CPU tensors."""
        return torch.device("cpu")

    def eval(self) -> ORTLabelSemanticsForTokenClassification:
        return self

    def train(self, mode: bool = True) -> ORTLabelSemanticsForTokenClassification:
        if mode:
            raise ValueError(
                "An ONNX Runtime model does not train; fine-tune the torch model "
                "(LabelSemanticsForTokenClassification.from_pretrained(path)) and export it again."
            )
        return self

    @property
    def labels(self) -> list[str]:
        """The labels in id order."""
        return self.config.labels

    # the torch model's label handling (verbalising, tag schemes, checks), shared rather than copied: it reads and
    # writes only the config, the tokenizers and the cache fields this class also has
    set_labels = LabelSemanticsForTokenClassification.set_labels

    def _label_inputs(self) -> tuple[torch.Tensor, torch.Tensor]:
        return label_input_tensors(self.config)

    def encode_labels(
        self, label_input_ids: torch.Tensor | None = None, label_attention_mask: torch.Tensor | None = None
    ) -> torch.Tensor:
        r"""
        Run the label tower's graph: one vector per label description, `(num_labels, hidden_size)`.
        """
        if label_input_ids is None:
            label_input_ids, label_attention_mask = self._label_inputs()
        elif label_attention_mask is None:
            label_attention_mask = torch.ones_like(label_input_ids)
        feeds = {"input_ids": _int64(label_input_ids), "attention_mask": _int64(label_attention_mask)}
        if self.label_session is not None:
            states = self.label_session.run(["last_hidden_state"], feeds)[0]
        else:
            dummy = np.zeros((1, self._exported_vectors.shape[-1]), dtype=np.float32)
            states = self.session.run(["last_hidden_state"], {**feeds, "description_embeddings": dummy})[0]
        return pool_label_states(torch.from_numpy(states), label_attention_mask, self.config.label_pooling)

    def get_label_embeddings(self) -> torch.Tensor:
        """The label vectors: the exported ones until `set_labels` is called, then encoded once per label set."""
        if self._labels_version == 0:
            return self._exported_vectors
        if self._label_cache is None or self._label_cache[0] != self._labels_version:
            self._label_cache = (self._labels_version, self.encode_labels())
        return self._label_cache[1]

    def __call__(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        token_type_ids: torch.Tensor | None = None,
        description_embeddings: torch.Tensor | None = None,
    ) -> TokenClassifierOutput:
        r"""
        Args:
            input_ids (`torch.LongTensor` of shape `(batch_size, sequence_length)`).
            attention_mask (`torch.LongTensor` of shape `(batch_size, sequence_length)`, *optional*).
            token_type_ids (*optional*): accepted when all zero (what the graph was exported with).
            description_embeddings (`torch.Tensor` of shape `(num_labels, hidden_size)`, *optional*): label vectors;
                the model's own when not given.

        Returns:
            [`~transformers.modeling_outputs.TokenClassifierOutput`] with float32 `logits` of shape
            `(batch_size, sequence_length, num_labels)`.
        """
        if token_type_ids is not None and bool(torch.as_tensor(token_type_ids).any()):
            raise ValueError(
                "The ONNX graph was exported without token_type_ids (all zero); these inputs have other segment "
                "ids, which it cannot read. Tag one segment per text."
            )
        if attention_mask is None:
            attention_mask = torch.ones_like(torch.as_tensor(input_ids))
        if description_embeddings is None:
            description_embeddings = self.get_label_embeddings()
        feeds = {
            "input_ids": _int64(input_ids),
            "attention_mask": _int64(attention_mask),
            "description_embeddings": np.ascontiguousarray(
                torch.as_tensor(description_embeddings).detach().float().cpu().numpy()
            ),
        }
        logits = self.session.run(["logits"], feeds)[0]
        return TokenClassifierOutput(logits=torch.from_numpy(logits))

    def predict(self, inputs, **kwargs):
        r"""
        Tag text and return entities, exactly as [`LabelSemanticsForTokenClassification.predict`] does (same
        options, same output).
        """
        from .prediction import predict_entities

        return predict_entities(self, inputs, **kwargs)

    def __repr__(self) -> str:
        providers = self.session.get_providers()
        return f"{type(self).__name__}(labels={self.labels}, providers={providers})"


def _load_crf(onnx_dir: Path, scheme: str):
    """The learned transitions of a dual tower with a CRF, as the module prediction reads them from."""
    from .crf import CollapsedCRF

    crf = CollapsedCRF(scheme)
    with np.load(onnx_dir / CRF_FILE) as saved, torch.no_grad():
        for name, parameter in crf.named_parameters():
            parameter.copy_(torch.from_numpy(saved[name]))
    return crf.eval().requires_grad_(False)


def _int64(values) -> np.ndarray:
    return np.ascontiguousarray(torch.as_tensor(values).cpu().numpy().astype(np.int64, copy=False))


__all__ = [
    "ONNXExportError",
    "ORTLabelSemanticsForTokenClassification",
    "export_onnx",
]
