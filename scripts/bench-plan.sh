#!/usr/bin/env bash
# Planning benchmark: N synthetic subjects (default 1,000,000, ~2.2 KB each) through the seed rulebook,
# streamed from JSON Lines. Reports subjects/second and peak RSS; nothing here is asserted by tests.
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-1000000}
file=${TMPDIR:-/tmp}/remedy-bench-$n.jsonl
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-target}
cargo build --release --quiet --example gen_subjects
cargo build --release --quiet
[ -s "$file" ] || $CARGO_TARGET_DIR/release/examples/gen_subjects "$n" > "$file"
ls -lh "$file"
/usr/bin/time -f "elapsed %e s, peak RSS %M KB" $CARGO_TARGET_DIR/release/remedy plan \
  --rules rules/org2org-password-sync.yaml --subjects "$file" --now 2026-11-29T00:00:00Z \
  --out "${TMPDIR:-/tmp}/remedy-bench-plan.json" --output json > /dev/null
echo "subjects: $n"
cargo build --release --quiet --example bench_typed
echo "hand-written typed baseline (DESIGN section 13):"
$CARGO_TARGET_DIR/release/examples/bench_typed "$file"
