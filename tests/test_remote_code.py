"""Checkpoints that load anywhere: the saved folder carries its modeling code (loads with trust_remote_code=True in
a Python that cannot import label_semantics), loads through the Auto classes without it when the package is
installed, never unpickles weights, ignores remote code smuggled into a nested config, and push_to_hub uploads it
(tested up to the network call)."""

from __future__ import annotations

import ast
import builtins
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from huggingface_hub import HfApi
from transformers import AutoConfig, AutoModelForSequenceClassification, AutoModelForTokenClassification

from label_semantics import (
    LabelAttentionForSequenceClassification,
    LabelSemanticsForTokenClassification,
    LabelTokenForSequenceClassification,
)
from tests.test_modeling_label_semantics import make_model, train

NER_TEXT = "john smith visited paris"
CLASSIFIER_TEXT = "i feel happy"
DUAL_TOWER_CODE = {
    "configuration_label_semantics.py",
    "modeling_label_semantics.py",
    "verbalizer.py",
    "label_descriptions.py",
    "decoding.py",
    "tag_structure.py",
    "crf.py",
    "prediction.py",
    "precision.py",
    "checkpoint_files.py",
}
LABEL_TOKEN_CODE = {
    "configuration_label_token.py",
    "modeling_label_token.py",
    "label_token_tensors.py",
    "verbalizer.py",
    "label_descriptions.py",
    "checkpoint_files.py",
}
# the label-attention model is split into modules (issue 12); every one travels with the checkpoint
LABEL_ATTENTION_CODE = {
    "configuration_label_attention.py",
    "modeling_label_attention.py",
    "label_attention_scoring.py",
    "label_attention_prediction.py",
    "verbalizer.py",
    "label_descriptions.py",
    "checkpoint_files.py",
}
CODE = {"ner": DUAL_TOWER_CODE, "classifier": LABEL_TOKEN_CODE, "attention": LABEL_ATTENTION_CODE}
AUTO = {
    "ner": AutoModelForTokenClassification,
    "classifier": AutoModelForSequenceClassification,
    "attention": AutoModelForSequenceClassification,
}
CLASSES = {
    "ner": LabelSemanticsForTokenClassification,
    "classifier": LabelTokenForSequenceClassification,
    "attention": LabelAttentionForSequenceClassification,
}
TEXTS = {"ner": NER_TEXT, "classifier": CLASSIFIER_TEXT, "attention": CLASSIFIER_TEXT}
SUB_CONFIG = {"ner": "text_config", "classifier": "encoder_config", "attention": "encoder_config"}

# Runs in a fresh `python -I` whose import system refuses label_semantics (it is installed editable in the venv).
REMOTE_SCRIPT = r"""
import importlib.abc, json, sys

class BlockPackage(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] == "label_semantics":
            raise ModuleNotFoundError(f"No module named {name!r} (blocked by the test)")

sys.meta_path.insert(0, BlockPackage())
try:
    import label_semantics  # noqa: F401
except ModuleNotFoundError:
    pass
else:
    raise SystemExit("label_semantics is importable: the test proves nothing")

import torch
from transformers import AutoModelForSequenceClassification, AutoModelForTokenClassification

jobs = json.loads(sys.argv[1])
out = {}
for name, job in jobs.items():
    auto = {"token": AutoModelForTokenClassification, "sequence": AutoModelForSequenceClassification}[job["auto"]]
    try:
        auto.from_pretrained(job["folder"], trust_remote_code=False)
        refused = False
    except ValueError:
        refused = True
    model = auto.from_pretrained(job["folder"], trust_remote_code=True).eval()
    inputs = model.tokenizer(job["text"], return_tensors="pt")
    with torch.no_grad():
        logits = model(**inputs).logits
    text_config = getattr(model.config, "text_config", None) or getattr(model.config, "encoder_config", None)
    out[name] = {
        "refused_without_trust": refused,
        "module": type(model).__module__,
        "labels": [model.config.id2label[i] for i in range(len(model.config.id2label))],
        "input_ids": inputs["input_ids"][0].tolist(),
        "logits": logits[0].tolist(),
        "prediction": model.predict(job["text"]),
        "nested_auto_map": getattr(text_config, "auto_map", None),
    }
print("RESULT" + json.dumps(out))
"""


def rounded(value):
    """Floats rounded to 4 places, inside any nesting of lists and dicts."""
    if isinstance(value, float):
        return round(value, 4)
    if isinstance(value, dict):
        return {k: rounded(v) for k, v in value.items()}
    if isinstance(value, list):
        return [rounded(v) for v in value]
    return value


def save_dual_tower(encoder_dir, folder) -> LabelSemanticsForTokenClassification:
    model = make_model(encoder_dir)
    train(model, steps=30)
    model.save_pretrained(folder)
    return model


def save_label_token(encoder_dir, folder) -> LabelTokenForSequenceClassification:
    torch.manual_seed(0)
    model = LabelTokenForSequenceClassification.from_encoder(
        encoder_dir, labels=["sadness", "joy", "anger"]
    ).eval()
    model.save_pretrained(folder)
    return model


def save_label_attention(encoder_dir, folder) -> LabelAttentionForSequenceClassification:
    torch.manual_seed(0)
    model = LabelAttentionForSequenceClassification.from_encoder(
        encoder_dir, labels=["sadness", "joy", "anger"]
    ).eval()
    model.save_pretrained(folder)
    return model


@pytest.fixture(scope="module")
def checkpoints(_tiny_encoder_dir, tmp_path_factory):
    root = tmp_path_factory.mktemp("checkpoints")
    ner = save_dual_tower(_tiny_encoder_dir, root / "ner")
    classifier = save_label_token(_tiny_encoder_dir, root / "classifier")
    attention = save_label_attention(_tiny_encoder_dir, root / "attention")
    return {
        "ner": (ner, root / "ner"),
        "classifier": (classifier, root / "classifier"),
        "attention": (attention, root / "attention"),
    }


def smuggle_nested_remote_code(folder: Path, marker: Path, sub_config: str = "text_config") -> None:
    """Make the nested config ask for remote code that would write `marker` when imported."""
    (folder / "evil.py").write_text(
        f"from pathlib import Path\nPath({str(marker)!r}).write_text('pwned')\n"
        "from transformers import BertConfig, BertModel\nEvilConfig, EvilModel = BertConfig, BertModel\n"
    )
    config = json.loads((folder / "config.json").read_text())
    config[sub_config]["trust_remote_code"] = True
    config[sub_config]["auto_map"] = {"AutoConfig": "evil.EvilConfig", "AutoModel": "evil.EvilModel"}
    (folder / "config.json").write_text(json.dumps(config))


def run_without_package(jobs: dict, tmp_path: Path) -> dict:
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(tmp_path),
        "HF_HOME": str(tmp_path / "hf-home"),
        "HF_MODULES_CACHE": str(tmp_path / "hf-modules"),
        "HF_HUB_OFFLINE": "1",
        "OMP_NUM_THREADS": "1",
        "TOKENIZERS_PARALLELISM": "false",
    }
    script = tmp_path / "load_elsewhere.py"
    script.write_text(REMOTE_SCRIPT)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    done = subprocess.run(
        [sys.executable, "-I", str(script), json.dumps(jobs)],
        cwd=elsewhere,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "Do you wish to run the custom code" not in done.stdout + done.stderr
    return json.loads(done.stdout.split("RESULT", 1)[1])


def test_saved_folder_is_self_contained(checkpoints):
    for name, code in CODE.items():
        _, folder = checkpoints[name]
        files = {p.name for p in folder.iterdir()}
        card = {"README.md"} if name != "attention" else set()  # the label-attention model writes no card
        assert code | {"config.json", "model.safetensors", "tokenizer.json"} | card <= files
        # exactly the code the model needs: nothing of another model's
        assert {f for f in files if f.endswith(".py")} == code
        assert not {f for f in files if f.endswith((".bin", ".pt", ".pth", ".pkl"))}
        auto_map = json.loads((folder / "config.json").read_text())["auto_map"]
        assert set(auto_map) == {"AutoConfig", AUTO[name].__name__}
        assert {f"{ref.split('.')[0]}.py" for ref in auto_map.values()} <= code
        for file in code:  # only relative imports of files that travel with them; never the package
            tree = ast.parse((folder / file).read_text())
            for node in ast.walk(tree):
                if isinstance(node, ast.ImportFrom) and node.level:
                    assert f"{node.module}.py" in files, (file, node.module)
                names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
                names += [node.module] if isinstance(node, ast.ImportFrom) and not node.level else []
                assert not any(n.split(".")[0] == "label_semantics" for n in names), (file, names)


def test_loads_with_trust_remote_code_where_the_package_cannot_be_imported(checkpoints, tmp_path):
    _, ner_folder = checkpoints["ner"]
    smuggled = tmp_path / "smuggled"
    shutil.copytree(ner_folder, smuggled)
    marker = tmp_path / "pwned"
    smuggle_nested_remote_code(smuggled, marker)
    jobs = {
        name: {"folder": str(checkpoints[name][1]), "auto": auto, "text": TEXTS[name]}
        for name, auto in (("ner", "token"), ("classifier", "sequence"), ("attention", "sequence"))
    }
    jobs["smuggled"] = {"folder": str(smuggled), "auto": "token", "text": NER_TEXT}
    result = run_without_package(jobs, tmp_path)
    for name in CODE:
        model, text = checkpoints[name][0], TEXTS[name]
        got = result[name]
        assert got["refused_without_trust"]
        assert got["module"].startswith("transformers_modules.")
        assert got["labels"] == [model.config.id2label[i] for i in range(len(model.config.id2label))]
        inputs = model.tokenizer(text, return_tensors="pt")
        assert got["input_ids"] == inputs["input_ids"][0].tolist()
        with torch.no_grad():
            expected = model(**inputs).logits[0]
        torch.testing.assert_close(torch.tensor(got["logits"]), expected, atol=1e-5, rtol=1e-5)
        assert rounded(model.predict(text)) == rounded(got["prediction"])
    assert result["ner"]["prediction"][0]["label"] == "PER"
    assert result["smuggled"]["prediction"] == result["ner"]["prediction"]
    assert result["smuggled"]["nested_auto_map"] is None
    assert not marker.exists()


def test_loads_through_the_auto_classes_without_trust_remote_code(checkpoints, monkeypatch):
    def no_prompt(*args):
        raise AssertionError("asked whether to run remote code")

    monkeypatch.setattr(builtins, "input", no_prompt)
    for name, cls in CLASSES.items():
        auto = AUTO[name]
        model, folder = checkpoints[name]
        assert type(AutoConfig.from_pretrained(folder)) is type(model.config)
        for trust in (None, True):  # the installed code wins even when remote code is allowed
            loaded = auto.from_pretrained(folder, trust_remote_code=trust)
            assert type(loaded) is cls and loaded.tokenizer is not None
            assert loaded.config.label_descriptions == model.config.label_descriptions


@pytest.mark.parametrize("name", ["ner", "classifier", "attention"])
def test_nested_config_cannot_smuggle_remote_code(checkpoints, tmp_path, name):
    model, folder = checkpoints[name]
    smuggled = tmp_path / "smuggled"
    shutil.copytree(folder, smuggled)
    marker = tmp_path / "pwned"
    smuggle_nested_remote_code(smuggled, marker, SUB_CONFIG[name])
    for trust in (None, True):
        for loader in (AUTO[name], CLASSES[name]):
            loaded = loader.from_pretrained(smuggled, trust_remote_code=trust)
            sub = getattr(loaded.config, SUB_CONFIG[name])
            assert not hasattr(sub, "trust_remote_code")
            assert getattr(sub, "auto_map", None) is None
            assert rounded(loaded.predict(TEXTS[name])) == rounded(model.predict(TEXTS[name]))
    assert not marker.exists()


class _Pickled:
    """Unpickling this runs code: it creates the file `path`."""

    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        return (open, (self.path, "w"))


@pytest.mark.parametrize("name", ["ner", "classifier", "attention"])
def test_weights_load_from_safetensors_only(checkpoints, tmp_path, name):
    model, folder = checkpoints[name]
    marker = tmp_path / "unpickled"
    poisoned = tmp_path / "poisoned"
    shutil.copytree(folder, poisoned)
    key = next(iter(model.state_dict()))
    torch.save({key: _Pickled(marker)}, poisoned / "pytorch_model.bin")
    loaded = AUTO[name].from_pretrained(poisoned)  # safetensors present: the pickle is ignored
    assert rounded(loaded.predict(TEXTS[name])) == rounded(model.predict(TEXTS[name]))
    (poisoned / "model.safetensors").unlink()
    for loader in (AUTO[name], CLASSES[name]):
        with pytest.raises(OSError, match="safetensors"):
            loader.from_pretrained(poisoned)
    assert not marker.exists()


@pytest.mark.parametrize("name", ["ner", "classifier"])
def test_push_to_hub_uploads_the_folder_with_its_card(checkpoints, tmp_path, monkeypatch, name):
    model, _ = checkpoints[name]
    uploaded = tmp_path / "hub"
    calls = []

    def create_repo(self, repo_id, **kwargs):
        calls.append(("create_repo", repo_id, kwargs.get("private")))
        return SimpleNamespace(repo_id=f"me/{repo_id}" if "/" not in repo_id else repo_id)

    def create_commit(self, repo_id, operations, commit_message=None, **kwargs):
        calls.append(("create_commit", repo_id, commit_message))
        for op in operations:  # the files live in a temporary folder: keep what would be uploaded
            target = uploaded / op.path_in_repo
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(op.path_or_fileobj, target)
        return SimpleNamespace(commit_url=f"https://huggingface.co/{repo_id}/commit/0", oid="0")

    def no_generic_card(*args, **kwargs):
        raise AssertionError("the stock push_to_hub path would replace README.md with a generic card")

    monkeypatch.setattr(HfApi, "create_repo", create_repo)
    monkeypatch.setattr(HfApi, "create_commit", create_commit)
    monkeypatch.setattr("transformers.utils.hub.create_and_tag_model_card", no_generic_card)
    info = model.push_to_hub("tiny-model", private=True, commit_message="Add a tiny model", tags=["toy"])
    assert info.oid == "0"
    assert calls == [
        ("create_repo", "tiny-model", True),
        ("create_commit", "me/tiny-model", "Add a tiny model"),
    ]
    files = {p.name for p in uploaded.iterdir()}
    code = DUAL_TOWER_CODE if name == "ner" else LABEL_TOKEN_CODE
    assert (
        code | {"config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json", "README.md"}
        == files
    )
    card = (uploaded / "README.md").read_text()
    assert 'model="me/tiny-model"' in card and "- toy\n" in card
    auto = AutoModelForTokenClassification if name == "ner" else AutoModelForSequenceClassification
    loaded = auto.from_pretrained(uploaded).eval()
    text = NER_TEXT if name == "ner" else CLASSIFIER_TEXT
    inputs = model.tokenizer(text, return_tensors="pt")
    with torch.no_grad():
        torch.testing.assert_close(loaded(**inputs).logits, model(**inputs).logits)


# ------------------------------------------------------------------------------- saving over an older checkpoint
STALE_WEIGHTS = (
    "pytorch_model.bin",
    "pytorch_model-00001-of-00002.bin",
    "pytorch_model.bin.index.json",
    "tf_model.h5",
    "flax_model.msgpack",
)


def plant_an_older_checkpoint(folder: Path, model) -> None:
    """What an older save leaves: weights in other formats, a shard index whose shards are gone, old-style
    tokenizer files, a label tokenizer of a separate label tower, another model's code."""
    for name in STALE_WEIGHTS:
        (folder / name).write_bytes(b"stale")
    index = {"metadata": {}, "weight_map": {"x": "model-00001-of-00002.safetensors"}}
    (folder / "model.safetensors.index.json").write_text(json.dumps(index))
    (folder / "vocab.txt").write_text("[PAD]\n[UNK]\n")
    (folder / "special_tokens_map.json").write_text("{}")
    model.tokenizer.save_pretrained(folder / "label_tokenizer")
    (folder / "label_tokenizer" / "vocab.txt").write_text("[PAD]\n")
    for code in set().union(*CODE.values()):
        if not (folder / code).exists():
            (folder / code).write_text("raise ImportError('stale code')\n")


@pytest.mark.parametrize("name", ["ner", "classifier", "attention"])
def test_saving_over_an_older_checkpoint_leaves_only_the_new_model(checkpoints, tmp_path, name):
    model, fresh = checkpoints[name]
    folder = tmp_path / "folder"
    folder.mkdir()
    plant_an_older_checkpoint(folder, model)
    (folder / "notes.txt").write_text("the user's own file")
    (folder / "optimizer.pt").write_bytes(b"training state")
    model.save_pretrained(folder)
    kept = {p.relative_to(folder).as_posix() for p in folder.rglob("*")}
    expected = {p.relative_to(fresh).as_posix() for p in fresh.rglob("*")}
    assert kept == expected | {"notes.txt", "optimizer.pt"}
    loaded = CLASSES[name].from_pretrained(folder)
    assert getattr(loaded, "label_tokenizer", None) is None  # the stale label tokenizer is gone
    assert rounded(loaded.predict(TEXTS[name])) == rounded(model.predict(TEXTS[name]))


def test_a_label_tokenizer_is_replaced_whole(checkpoints, tmp_path):
    model, _ = checkpoints["ner"]
    folder = tmp_path / "folder"
    model.label_tokenizer = model.tokenizer
    try:
        (folder / "label_tokenizer").mkdir(parents=True)
        (folder / "label_tokenizer" / "vocab.txt").write_text("[PAD]\n")
        model.save_pretrained(folder)
    finally:
        model.label_tokenizer = None
    assert {p.name for p in (folder / "label_tokenizer").iterdir()} == {
        "tokenizer.json",
        "tokenizer_config.json",
    }
    assert LabelSemanticsForTokenClassification.from_pretrained(folder).label_tokenizer is not None


def test_sharded_and_unsharded_saves_replace_each_other(_tiny_encoder_dir, tmp_path):
    torch.manual_seed(0)
    old = LabelTokenForSequenceClassification.from_encoder(_tiny_encoder_dir, labels=["joy", "anger"])
    torch.manual_seed(1)
    new = LabelTokenForSequenceClassification.from_encoder(
        _tiny_encoder_dir, labels=["joy", "anger"], init="random"
    )
    folder = tmp_path / "folder"
    for model, shard_size, single in ((old, "50GB", True), (new, "40KB", False), (old, "50GB", True)):
        model.save_pretrained(folder, max_shard_size=shard_size)
        weights = {p.name for p in folder.iterdir() if "safetensors" in p.name}
        assert ("model.safetensors" in weights) == single
        assert ("model.safetensors.index.json" in weights) == (not single) and len(weights) > 1 - single
        loaded = LabelTokenForSequenceClassification.from_pretrained(folder)
        for key, value in model.state_dict().items():
            assert torch.equal(loaded.state_dict()[key], value), key
