"""The SetFit baseline script's bookkeeping (SetFit itself runs in its own venv; here `run` is replaced)."""

from __future__ import annotations

import importlib.util
import json
import sys
import types
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _script():
    path = ROOT / "benchmarks" / "setfit_baseline.py"
    spec = importlib.util.spec_from_file_location("setfit_baseline", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_tuned_variant_chooses_the_rate_on_seed_0_and_reuses_finished_runs(tmp_path, monkeypatch):
    script = _script()
    monkeypatch.setitem(sys.modules, "setfit", types.SimpleNamespace(__version__="0.0-test"))
    payload = {
        "problem_type": "single_label_classification",
        "support": {f"k2_seed{s}": {} for s in range(3)},
        "test": {"texts": ["a"] * 7},
    }
    (tmp_path / "support_sets").mkdir()
    (tmp_path / "support_sets" / "emotion.json").write_text(json.dumps(payload))
    calls = []

    def fake_run(backbone, payload, key, seed, body_lr=None):
        calls.append((key, body_lr))
        val = {None: 0.4, 1e-5: 0.3, 2e-5: 0.4, 5e-5: 0.6}[body_lr]
        return {"val": {"accuracy": val}, "accuracy": val + seed / 100}

    monkeypatch.setattr(script, "run", fake_run)
    argv = ["--datasets", "emotion", "--shots", "2", "--backbone", "x", "--cache", str(tmp_path)]
    script.main(argv)  # the default recipe first
    assert calls == [("k2_seed0", None), ("k2_seed1", None), ("k2_seed2", None)]
    calls.clear()
    script.main([*argv, "--body-lrs", "1e-5", "2e-5", "5e-5"])
    # 2e-5 is the default recipe's rate: its seed-0 run is reused, not trained again
    assert calls == [("k2_seed0", 1e-5), ("k2_seed0", 5e-5), ("k2_seed1", 5e-5), ("k2_seed2", 5e-5)]
    records = json.loads((tmp_path / "setfit" / "records.json").read_text())
    tuned = [r for r in records if r["variant"] == "tuned"]
    assert sorted((r["seed"], r["lr"], r["selected"]) for r in tuned) == [
        (0, 1e-5, False),
        (0, 2e-5, False),
        (0, 5e-5, True),
        (1, 5e-5, True),
        (2, 5e-5, True),
    ]
    calls.clear()
    script.main([*argv, "--body-lrs", "1e-5", "2e-5", "5e-5"])  # everything cached
    assert calls == []


def test_two_runs_in_parallel_keep_each_others_records(tmp_path):
    script = _script()
    out = tmp_path / "records.json"

    def key(r):
        return r["dataset"], r["seed"]

    first = [{"dataset": "emotion", "seed": 0}]
    script.save(out, first, key)
    second = [{"dataset": "sst5", "seed": 0}]  # a run that started before the first one wrote
    script.save(out, second, key)
    first.append({"dataset": "emotion", "seed": 1})
    script.save(out, first, key)
    assert sorted(key(r) for r in json.loads(out.read_text())) == [
        ("emotion", 0),
        ("emotion", 1),
        ("sst5", 0),
    ]
