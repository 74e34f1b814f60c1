#!/usr/bin/env bash
# Time the README's two commands on a fresh clone, as a newcomer runs them: `make test` (venv set-up included)
# and `make demo`, in a clone of this checkout's HEAD placed where no ../shared exists (the shipped samples are
# used), and write the times into benchmarks/results/fresh_clone_times.md with the commit, date and load average.
#
#   bash benchmarks/fresh_clone_times.sh            # both commands
#   SKIP_DEMO=1 bash benchmarks/fresh_clone_times.sh
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
git clone -q "$repo" "$work/label-semantics"
cd "$work/label-semantics"
commit="$(git rev-parse --short HEAD)"
load() { cut -d' ' -f1 /proc/loadavg; }
run() {  # name, command...; prints "seconds exit-code load-before load-after"
  local before start end code
  before="$(load)"; start="$(date +%s.%N)"
  set +e; "${@:2}" > "$work/$1.log" 2>&1; code=$?; set -e
  end="$(date +%s.%N)"
  printf '%s %s %s %s\n' "$(python3 -c "print($end - $start)")" "$code" "$before" "$(load)"
}
read -r test_s test_rc test_l0 test_l1 < <(run test make test)
tests_line="$(grep -E '^[0-9]+ passed' "$work/test.log" | tail -1 || true)"
demo_s=- demo_rc=- demo_l0=- demo_l1=- f1=-
if [ -z "${SKIP_DEMO:-}" ]; then
  read -r demo_s demo_rc demo_l0 demo_l1 < <(run demo make demo)
  f1="$(grep -E 'overall \(micro\)' "$work/demo.log" | tail -1 | tr -s ' ' || true)"
fi
out="$repo/benchmarks/results/fresh_clone_times.md"
{
  echo "## The README's two commands on a fresh clone"
  echo
  echo "Command: \`bash benchmarks/fresh_clone_times.sh\` at commit $commit, $(date -u +%Y-%m-%d), $(nproc) cores,"
  echo "CUDA: none (CPU build of torch). The clone has no ../shared: \`make demo\` runs on the shipped samples."
  echo
  echo "| command | wall seconds | exit code | 1-min load before / after | result |"
  echo "|---|---|---|---|---|"
  printf '| `make test` (venv set-up included) | %.0f | %s | %s / %s | %s |\n' "$test_s" "$test_rc" "$test_l0" "$test_l1" "$tests_line"
  if [ "$demo_s" != - ]; then
    printf '| `make demo` | %.0f | %s | %s / %s | %s |\n' "$demo_s" "$demo_rc" "$demo_l0" "$demo_l1" "$f1"
  fi
} > "$out"
cat "$out"
