"""Which ONNX graph of the dual tower's text tower runs fastest on this CPU (issue 14): the exporter (dynamo or
TorchScript), the attention the graph is traced from (SDPA or eager), ONNX Runtime's transformer optimizer
(`onnxruntime.transformers.optimizer`, model_type="bert") and int8 dynamic quantisation, against torch.

    python benchmarks/onnx_variants.py            # prints one line per variant: best seconds and x torch (SDPA)

Forward passes only, over 500 CoNLL-2003 test sentences in length-sorted batches of 64 (as `predict()` batches
them), every variant in this one process, alternating, best of 3. The model is the few-shot benchmark's source
checkpoint (`benchmarks/cache/fewshot_ner/minilm/source_dual`, built by `fewshot_ner.py grid`).
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))


def main() -> None:
    import onnxruntime as ort
    from onnxruntime.transformers.optimizer import optimize_model
    from speed import CHECKPOINT, load_sentences

    from label_semantics import LabelSemanticsForTokenClassification
    from label_semantics.onnx_backend import _dummy_inputs, _export, _limit, _quantize, _TextGraph

    torch.set_num_threads(2)
    words, _ = load_sentences(500)
    models = {
        attention: LabelSemanticsForTokenClassification.from_pretrained(
            CHECKPOINT, attn_implementation=attention
        ).eval()
        for attention in ("sdpa", "eager")
    }
    model = models["sdpa"]
    vectors = model.encode_labels().detach().float()
    tok = model.tokenizer
    encoded = [tok(w, is_split_into_words=True)["input_ids"] for w in words]
    order = sorted(range(len(encoded)), key=lambda i: len(encoded[i]))
    batches = []
    for start in range(0, len(order), 64):
        rows = [encoded[i] for i in order[start : start + 64]]
        ids = np.zeros((len(rows), max(map(len, rows))), np.int64)
        mask = np.zeros_like(ids)
        for r, x in enumerate(rows):
            ids[r, : len(x)], mask[r, : len(x)] = x, 1
        batches.append((ids, mask))
    options = ort.SessionOptions()
    options.intra_op_num_threads, options.inter_op_num_threads = 2, 1
    runs = {}
    with tempfile.TemporaryDirectory(prefix="onnx-variants-") as tmp:
        for attention, dual in models.items():
            for dynamo in (True, False):
                name = f"{attention} attention, {'dynamo' if dynamo else 'TorchScript'} exporter"
                path = Path(tmp) / f"{attention}-{dynamo}.onnx"
                names = ["input_ids", "attention_mask", "description_embeddings"]
                with torch.no_grad():
                    _export(
                        _TextGraph(dual.text_encoder).eval(),
                        (*_dummy_inputs(dual), vectors),
                        path,
                        names,
                        ["logits", "last_hidden_state"],
                        _limit(dual),
                        dynamo,
                    )
                graphs = {name: path}
                optimized = optimize_model(str(path), model_type="bert", num_heads=12, hidden_size=384)
                graphs[f"{name}, ORT optimizer"] = path.with_suffix(".opt.onnx")
                optimized.save_model_to_file(str(graphs[f"{name}, ORT optimizer"]))
                graphs[f"{name}, int8"] = path.with_suffix(".int8.onnx")
                _quantize(path, graphs[f"{name}, int8"])
                for label, graph in graphs.items():
                    session = ort.InferenceSession(str(graph), options, providers=["CPUExecutionProvider"])
                    feeds = [
                        {"input_ids": i, "attention_mask": a, "description_embeddings": vectors.numpy()}
                        for i, a in batches
                    ]
                    runs[label] = lambda s=session, f=feeds: [s.run(["logits"], x) for x in f]
        for attention, dual in models.items():

            def forward(dual=dual):
                with torch.inference_mode():
                    for i, a in batches:
                        dual(input_ids=torch.from_numpy(i), attention_mask=torch.from_numpy(a))

            runs[f"torch, {attention} attention"] = forward
        best = {name: float("inf") for name in runs}
        for run in runs.values():
            run()
        for _ in range(3):
            for name, run in runs.items():
                start = time.perf_counter()
                run()
                best[name] = min(best[name], time.perf_counter() - start)
    reference = best["torch, sdpa attention"]
    for name, seconds in best.items():
        print(f"| {name} | {seconds:.3f} | {reference / seconds:.2f} |")


if __name__ == "__main__":
    main()
