"""Two CPU processes (gloo), launched by torchrun: corpus prediction merges to the single-process output, and the
stock Trainer trains across them (examples/train_across_processes.py)."""

from __future__ import annotations

import json
import math
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from label_semantics.cli import main

from .test_corpus import texts, write_jsonl
from .test_modeling_label_semantics import make_model, train

ROOT = Path(__file__).resolve().parents[1]


def torchrun(*args: str, timeout: int = 240) -> str:
    """Run `python -m torch.distributed.run --standalone --nproc_per_node 2 ARGS` (a free port of its own); its
    output, or a failure showing the end of it."""
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2", *args]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false"}
    done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=env, cwd=ROOT)
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-4000:]
    return output


@pytest.fixture(scope="module")
def model_dir(_tiny_encoder_dir, tmp_path_factory) -> Path:
    model = make_model(_tiny_encoder_dir)
    train(model, steps=60)
    path = tmp_path_factory.mktemp("distributed-model")
    model.save_pretrained(path)
    return path


def test_two_processes_write_the_single_process_output(model_dir, tmp_path):
    source = write_jsonl(tmp_path / "corpus.jsonl", [{"text": t, "id": i} for i, t in enumerate(texts(41))])
    argv = ["predict", "--model", str(model_dir), "--input", str(source), "--chunk-size", "4", "--keep", "id"]
    # the reference runs on one thread, as each torchrun process does: matrix products summed in another order by
    # another thread count differ in the last digits of a score
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        assert main([*argv, "--output", str(tmp_path / "one.jsonl")]) == 0
    finally:
        torch.set_num_threads(threads)
    torchrun("-m", "label_semantics.cli", *argv, "--output", str(tmp_path / "two.jsonl"))
    one, two = (tmp_path / "one.jsonl").read_bytes(), (tmp_path / "two.jsonl").read_bytes()
    assert [json.loads(line)["id"] for line in two.decode().splitlines()] == list(range(41))
    assert two == one
    assert not (tmp_path / "two.jsonl.parts").exists()


def test_two_process_training_with_the_stock_trainer(_tiny_encoder_dir, tmp_path):
    from label_semantics import LabelSemanticsForTokenClassification
    from tests.conftest import write_column_file

    write_column_file(tmp_path / "data" / "train.txt", 40, ["PER", "LOC"], seed=0)
    output = tmp_path / "two-processes"
    log = torchrun(
        "examples/train_across_processes.py",
        *("--data", str(tmp_path / "data"), "--backbone", str(_tiny_encoder_dir), "--output", str(output)),
        *("--max-steps", "4", "--batch-size", "4", "--learning-rate", "1e-3"),
    )
    reports = re.findall(r"process (\d) of (\d): first loss ([\d.]+), weight checksum (-?[\d.]+)", log)
    assert sorted(r[0] for r in reports) == ["0", "1"] and {r[1] for r in reports} == {"2"}, log[-3000:]
    assert len({r[3] for r in reports}) == 1  # both processes hold the same weights
    # the loss of the first step (an untrained model: about ln 5 per word) is reported as one process computes it,
    # not multiplied by the number of processes
    first_loss = float(reports[0][2])
    assert abs(first_loss - math.log(5)) < 0.3, first_loss
    model = LabelSemanticsForTokenClassification.from_pretrained(output)  # saved once, by the main process
    assert sorted(model.labels) == ["B-LOC", "B-PER", "I-LOC", "I-PER", "O"]
    assert isinstance(model.predict("john visited paris"), list)
