# Copyright 2025 The label-semantics authors.
#
# Licensed under the Apache License, Version 2.0 (the "License");
# you may not use this file except in compliance with the License.
# You may obtain a copy of the License at
#
#     http://www.apache.org/licenses/LICENSE-2.0
#
# Unless required by applicable law or agreed to in writing, software
# distributed under the License is distributed on an "AS IS" BASIS,
# WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
# See the License for the specific language governing permissions and
# limitations under the License.
"""seqeval as an `evaluate` metric script that loads without the Hub.

``evaluate.load("seqeval")`` fetches the metric script from the Hugging Face Hub. This file is a local
stand-in with the same inputs, options and result layout as that metric (huggingface/evaluate,
``metrics/seqeval/seqeval.py``, Apache-2.0), written for this project against evaluate 0.4
(the Hub script's current version needs an ``evaluate.info.Config`` that evaluate 0.4 lacks). Load
it with ``evaluate.load(path_to_this_file)``, or with ``label_semantics.evaluation.load_seqeval()``.
"""

import datasets
import evaluate
from seqeval import scheme as seqeval_schemes
from seqeval.metrics import accuracy_score, classification_report

_CITATION = """\
@misc{seqeval,
  title={{seqeval}: A Python framework for sequence labeling evaluation},
  url={https://github.com/chakki-works/seqeval},
  author={Hiroki Nakayama},
  year={2018},
}
"""

_DESCRIPTION = """\
Entity-level precision, recall and F1 of tag sequences (CoNLL-style: an entity counts when its type
and boundaries both match), overall and per entity type, plus token-level accuracy, computed by
seqeval. Tags may follow IOB1, IOB2, IOE1, IOE2, IOBES or BILOU.
"""

_KWARGS_DESCRIPTION = """
Args:
    predictions (`list[list[str]]`): predicted tags, one list per sentence.
    references (`list[list[str]]`): gold tags, the same shape as `predictions`.
    suffix (`bool`, defaults to `False`): the tag prefix comes after the type ("PER-B").
    scheme (`str`, *optional*): one of "IOB1", "IOB2", "IOE1", "IOE2", "IOBES", "BILOU"; used with
        mode="strict".
    mode (`str`, *optional*): "strict" counts only entities that are well-formed in `scheme`; the default
        reads ill-formed sequences leniently (a stray "I-PER" opens an entity).
    sample_weight (`list[float]`, *optional*): one weight per sentence.
    zero_division (`"warn"`, `0` or `1`, defaults to `"warn"`): the value of a ratio whose denominator is 0.

Returns:
    `dict`: for each entity type a dict with "precision", "recall", "f1" and "number" (gold entities),
    then "overall_precision", "overall_recall", "overall_f1" (micro averages) and "overall_accuracy".

Example:
    >>> seqeval = evaluate.load("label_semantics/metrics/seqeval.py")
    >>> results = seqeval.compute(predictions=[["B-PER", "I-PER", "O"]], references=[["B-PER", "O", "O"]])
    >>> results["overall_f1"], results["overall_accuracy"]
    (0.0, 0.6666666666666666)
"""


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS_DESCRIPTION)
class Seqeval(evaluate.Metric):
    """Entity-level precision, recall and F1 by seqeval."""

    def _info(self):
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation=_CITATION,
            inputs_description=_KWARGS_DESCRIPTION,
            homepage="https://github.com/chakki-works/seqeval",
            features=datasets.Features(
                {
                    "predictions": datasets.Sequence(datasets.Value("string", id="label"), id="sequence"),
                    "references": datasets.Sequence(datasets.Value("string", id="label"), id="sequence"),
                }
            ),
            codebase_urls=["https://github.com/chakki-works/seqeval"],
        )

    def _compute(
        self,
        predictions,
        references,
        suffix=False,
        scheme=None,
        mode=None,
        sample_weight=None,
        zero_division="warn",
    ):
        scheme_class = None
        if scheme is not None:
            scheme_class = getattr(seqeval_schemes, scheme, None)
            if scheme not in ("IOB1", "IOB2", "IOE1", "IOE2", "IOBES", "BILOU") or scheme_class is None:
                raise ValueError(
                    f"scheme={scheme!r} is not a seqeval scheme; use one of IOB1, IOB2, IOE1, IOE2, IOBES, "
                    f'BILOU, e.g. compute(..., scheme="IOB2", mode="strict")'
                )
        report = classification_report(
            y_true=references,
            y_pred=predictions,
            suffix=suffix,
            output_dict=True,
            scheme=scheme_class,
            mode=mode,
            sample_weight=sample_weight,
            zero_division=zero_division,
        )
        overall = report.pop("micro avg")
        for average in ("macro avg", "weighted avg"):
            report.pop(average)
        results = {
            name: {
                "precision": row["precision"],
                "recall": row["recall"],
                "f1": row["f1-score"],
                "number": row["support"],
            }
            for name, row in report.items()
        }
        results["overall_precision"] = overall["precision"]
        results["overall_recall"] = overall["recall"]
        results["overall_f1"] = overall["f1-score"]
        results["overall_accuracy"] = accuracy_score(y_true=references, y_pred=predictions)
        return results
