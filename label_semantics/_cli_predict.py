"""The `label-semantics predict` subcommand: texts from --text, --file or stdin printed as JSON lines, or a
corpus (--input) streamed into --output."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from ._cli_common import _argument, _existing, _load_model


def _text_lines(text: str) -> list[str]:
    """One text per line. Lines end at "\\n" only: str.splitlines would also cut at U+2028, U+0085, form
    feeds and other characters that may sit inside a text. A last newline ends the last line."""
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()
    return [line.removesuffix("\r") for line in lines]


def _input_texts(args) -> list[str]:
    """The texts of `predict`: --text, the lines of --file, or the lines of stdin (all UTF-8)."""
    if args.text is not None:
        return [args.text]
    if args.file is not None:
        try:
            text = Path(_existing(args.file, "--file")).read_text(encoding="utf-8-sig")
        except UnicodeDecodeError as err:
            raise SystemExit(
                f"error: --file {args.file!r} is not UTF-8 ({err}); re-encode it, e.g. "
                f"iconv -f latin1 -t utf-8 {args.file} > texts.txt"
            ) from err
        except IsADirectoryError as err:
            raise SystemExit(f"error: --file {args.file!r} is a folder; pass a text file") from err
        return _text_lines(text)
    try:
        return _text_lines(sys.stdin.read())
    except UnicodeDecodeError as err:
        raise SystemExit(
            f"error: stdin is not UTF-8 ({err}); re-encode it, e.g. iconv -f latin1 -t utf-8 texts.txt | "
            f"label-semantics predict ..."
        ) from err


def _predict_model(args):
    """The model of `predict`: torch (a NER model or a classifier) or, with --backend onnx, an exported NER model."""
    if args.backend == "torch":
        if args.quantized:
            raise SystemExit("error: --quantized loads the int8 ONNX graph; add --backend onnx")
        return _load_model(args.model)
    from .modeling_label_semantics import LabelSemanticsForTokenClassification

    file_name = "model_qint8.onnx" if args.quantized else "model.onnx"
    with _argument("--model", args.model, (ValueError, OSError, ImportError)):
        _existing(args.model, "--model")
        return LabelSemanticsForTokenClassification.from_pretrained(
            args.model, backend="onnx", file_name=file_name
        )


def cmd_predict(args) -> int:
    if args.output is not None and args.input is None:
        raise SystemExit(
            "error: --output goes with --input CORPUS; --text, --file and stdin print JSON lines"
        )
    model = _predict_model(args)
    options = {}
    if model.config.model_type == "label-token":
        for flag, value in (("--argmax", args.argmax), ("--dtype", args.dtype)):
            if value:
                raise SystemExit(
                    f"error: {flag} only applies to NER models; this is a text classifier (label-token)"
                )
        key = "labels" if model.config.is_multi_label else "label"
    else:
        # bulk tagging runs in bfloat16 where the hardware multiplies it natively ("auto"), unless --dtype says
        dtype = args.dtype or ("auto" if args.backend == "torch" else None)
        options = {"viterbi": not args.argmax, **({"dtype": dtype} if dtype else {})}
        key = "entities"
    if args.input is not None:
        return _predict_corpus(args, model, options)
    texts = _input_texts(args)
    results = model.predict(texts, batch_size=args.batch_size, **options) if texts else []
    for text, result in zip(texts, results):
        print(json.dumps({"text": text, key: result}, ensure_ascii=False))
    return 0


def _predict_corpus(args, model, options: dict) -> int:
    """`predict --input`: stream a corpus into --output, resumable, split across processes under accelerate."""
    from .corpus import CorpusError, output_format_of, process_state, tag_corpus

    if args.output is None:
        raise SystemExit(
            "error: --input needs --output FILE (*.jsonl or *.parquet); the parts of an interrupted run are kept "
            "beside it, so the same command resumes"
        )
    with _argument("--output", args.output, (ValueError,)):
        output_format_of(args.output)
    if args.backend == "torch":
        model.to(process_state().device)  # one GPU per process under accelerate launch; the CPU otherwise
    settings = {
        "model": str(Path(args.model).resolve()),
        "backend": args.backend,
        "quantized": args.quantized,
    }
    with _argument("--input", args.input, (CorpusError, FileNotFoundError)):
        written = tag_corpus(
            model,
            args.input,
            args.output,
            field=args.field,
            split=args.split,
            keep=args.keep or (),
            chunk_size=args.chunk_size,
            batch_size=args.batch_size,
            overwrite=args.overwrite,
            settings=settings,
            **options,
        )
    if written is not None:
        print(f"Wrote {written}", file=sys.stderr)
    return 0
