#!/usr/bin/env bash
# Plans at scale (issue 16): the figures of docs/plan-format.md#plans-at-scale. Needs GNU time
# (apt-get install -y time), python3, curl, and room for ~3 GB of data in WORK (default /dev/shm).
#   1. N subjects (default 1,000,000, ~2.2 KB each, examples/gen_users.rs), 80% matching the report
#      rule bench/never-signed-in.yaml: plan time and peak RSS, against bench/locked-out-few.yaml
#      (1 in 10,000 matches) over the same file; plan bytes per matched subject;
#   2. `show` of that plan, and `test --snapshot --subjects` (the decision review) of the file: peak RSS;
#   3. apply of an unlock plan of UNLOCKS (default 200,000) locked-out users against the simulator
#      (rate limits off): with FULL_RUN=1 peak RSS of one whole run, then the same apply killed with
#      SIGKILL after KILL_AFTER seconds (default 15) and resumed, with the simulator's request counts
#      (user reads, unlocks) before and after, then once more with nothing left to do; then one
#      planned subject explained live (`explain --plan --config`) and from the subjects file.
# APPLY_ONLY=1 runs part 3 alone; PLAN_ONLY=1 parts 1 and 2 alone.
# Prints the figures; changes nothing outside WORK.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${N:-1000000}
UNLOCKS=${UNLOCKS:-200000}
WORK=${WORK:-/dev/shm/remedy-plans-at-scale}
PORT=${PORT:-18580}
NOW=2026-11-29T00:00:00Z
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-target}
bin=$CARGO_TARGET_DIR/release/remedy
cargo build --release --quiet --bin remedy --example gen_users
mkdir -p "$WORK"
measure() { # label, command...: prints elapsed seconds and peak RSS of the command
  local label=$1; shift
  /usr/bin/time -f "%e %M" -o "$WORK/time.txt" "$@" > /dev/null 2>"$WORK/err.txt" || {
    echo "$label failed:"; tail -5 "$WORK/err.txt"; return 1; }
  read -r secs kb < <(tail -1 "$WORK/time.txt")
  printf '%-44s %8.2f s  %8.1f MiB peak RSS\n' "$label" "$secs" "$(echo "$kb / 1024" | bc -l)"
}

if [ "${APPLY_ONLY:-0}" != 1 ]; then
subjects=$WORK/users-$N.jsonl
[ -s "$subjects" ] || $CARGO_TARGET_DIR/release/examples/gen_users "$N" > "$subjects"
echo "subjects: $N in $(du -h "$subjects" | cut -f1)"
# ROUNDS (default 5) alternated rounds of each plan (each output removed first: truncating a large
# file costs the next run); the ratio is the median of the rounds' ratios.
ratios=()
for round in $(seq "${ROUNDS:-5}"); do
  rm -f "$WORK/plan-many.json" "$WORK/plan-few.json"
  measure "plan, 80% match (report), round $round" $bin plan --rules bench/never-signed-in.yaml \
    --subjects "$subjects" --now $NOW --out "$WORK/plan-many.json" --output json
  many=$secs
  measure "plan, few match, round $round" $bin plan --rules bench/locked-out-few.yaml \
    --subjects "$subjects" --now $NOW --out "$WORK/plan-few.json" --output json
  ratios+=("$(echo "$many / $secs" | bc -l)")
done
printf 'plan time, 80%% against few matches: median of %s= %.2fx\n' "$(printf '%.2f ' "${ratios[@]}")" \
  "$(printf '%s\n' "${ratios[@]}" | sort -n | sed -n "$(( (${#ratios[@]} + 1) / 2 ))p")"
matched=$(grep -o '"matched":[0-9]*' "$WORK/plan-many.json" | tail -1 | cut -d: -f2)
bytes=$(stat -c %s "$WORK/plan-many.json")
echo "plan file: $bytes bytes, $matched matched: $((bytes / matched)) bytes per matched subject (one step each)"
measure "show (text, 50 per action)" $bin show "$WORK/plan-many.json"
measure "show --format markdown" $bin show "$WORK/plan-many.json" --format markdown
measure "show --all (every step, streamed)" $bin show "$WORK/plan-many.json" --all
# The decision review of the whole subjects file, beside a copy of the rulebook.
cp bench/never-signed-in.yaml "$WORK/never-signed-in.yaml"
rm -f "$WORK"/never-signed-in.subjects.snap*
measure "test --snapshot --subjects (review)" $bin test --snapshot --subjects "$subjects" \
  "$WORK/never-signed-in.yaml" --now $NOW
echo "  review file: $(stat -c %s "$WORK/never-signed-in.subjects.snap") bytes"
fi
[ "${PLAN_ONLY:-0}" = 1 ] && exit 0

# Apply: a simulator whose UNLOCKS hub users are all locked out for more than an hour.
seed=$WORK/seed-$UNLOCKS.json
if [ ! -s "$seed" ]; then
  $bin sim --users "$UNLOCKS" --assignments 0 --federation-collisions 0 --policy-lookalikes 0 \
    --not-active-hub 0 --missing-hub 0 --deprovisioned-hub 0 --suspended-hub 0 --protected-admins 0 \
    --group-assigned 0 --write-seed "$seed.gen" > /dev/null
  python3 - "$seed.gen" "$seed" <<'PY'
import json, sys
seed = json.load(open(sys.argv[1]))
# No `anchor`: the simulator would move every timestamp to its own start time, so a restarted
# simulator's users would differ from the snapshot the plan was made of (drift on every subject).
seed.pop("anchor", None)
# Locked out long before both the plan's `now` and the wall clock at apply, so `older_than: 1h` holds
# for the plan and again when apply re-evaluates the live user.
def lock(users):
    for u in users:
        u["status"] = "LOCKED_OUT"
        u["statusChanged"] = "2026-01-01T08:00:00.000Z"
        u["lastUpdated"] = "2026-01-01T08:00:00.000Z"
for org in seed.values() if isinstance(seed, dict) else []:
    if isinstance(org, dict) and isinstance(org.get("users"), list):
        lock(org["users"])
json.dump(seed, open(sys.argv[2], "w"))
PY
  rm -f "$seed.gen"
fi
start_sim() {
  $bin sim --seed-file "$seed" --no-rate-limits --hub-port "$PORT" --spoke-port $((PORT + 1)) \
    > "$WORK/sim.txt" 2>&1 &
  sim=$!
  for _ in $(seq 1 600); do
    curl -fs -o /dev/null -H 'Authorization: SSWS hub-token' "http://127.0.0.1:$PORT/api/v1/users?limit=1" && break
    sleep 0.2
  done
}
start_sim
trap 'kill $sim 2>/dev/null || true' EXIT
cat > "$WORK/remedy.yaml" <<YAML
orgs:
  hub: { orgUrl: 'http://127.0.0.1:$PORT', token: hub-token }
  spoke: { orgUrl: 'http://127.0.0.1:$((PORT + 1))', token: spoke-token }
YAML
$bin snapshot --rules bench/unlock-all.yaml --config "$WORK/remedy.yaml" --now $NOW \
  --out "$WORK/locked.jsonl" > /dev/null
$bin plan --rules bench/unlock-all.yaml --subjects "$WORK/locked.jsonl" --now $NOW \
  --out "$WORK/plan-unlock.json" --output json > /dev/null
steps=$(grep -o '"steps":[0-9]*' "$WORK/plan-unlock.json" | tail -1 | cut -d: -f2)
echo "unlock plan: $steps steps, $(stat -c %s "$WORK/plan-unlock.json") bytes"
apply_cmd=("$bin" --output json apply "$WORK/plan-unlock.json" --config "$WORK/remedy.yaml"
  --journal "$WORK/journal.sqlite" --audit-log "$WORK/audit.jsonl" --concurrency 16)
count() { python3 -c "import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute(sys.argv[2]).fetchone()[0])" "$WORK/journal.sqlite" "$1"; }
# Requests the simulator's hub served in a rate-limit bucket since it started (`users.id.get`: reads
# of one user; `users.id`: the unlock POSTs, the only other call on a user here).
served() { curl -fs -H 'Authorization: SSWS hub-token' "http://127.0.0.1:$PORT/__sim/counters" |
  python3 -c "import json,sys; print(json.load(sys.stdin).get(sys.argv[1], 0))" "$1"; }
done_subjects() { count "select count(*) from subjects where state='done'"; }
# A. (FULL_RUN=1) The whole plan in one run, on a fresh simulator.
if [ "${FULL_RUN:-0}" = 1 ]; then
  rm -f "$WORK"/journal.sqlite* "$WORK/audit.jsonl"
  measure "apply, $steps unlocks in one run" "${apply_cmd[@]}"
  echo "  done: $(done_subjects); user reads: $(served users.id.get), unlocks: $(served users.id)"
  kill $sim; wait $sim 2>/dev/null || true; start_sim
fi
# B. On a fresh simulator, killed with SIGKILL part-way, then resumed.
rm -f "$WORK"/journal.sqlite* "$WORK/audit.jsonl"
# Started directly (not through a function, whose subshell would be what gets killed).
"${apply_cmd[@]}" > /dev/null 2>&1 &
victim=$!
sleep "${KILL_AFTER:-15}"
kill -KILL $victim; wait $victim 2>/dev/null || true
before=$(done_subjects)
reads_before=$(served users.id.get); unlocks_before=$(served users.id)
open_steps=$(count "select count(*) from steps where state='intent'")
echo "killed with SIGKILL after ${KILL_AFTER:-15} s: $before subjects done, $open_steps steps mid-call;" \
  "the simulator served $reads_before user reads, $unlocks_before unlocks"
measure "apply, resumed after SIGKILL" "${apply_cmd[@]}"
reads=$(served users.id.get); unlocks=$(served users.id)
echo "  done: $(done_subjects); the resumed run read $((reads - reads_before)) users for" \
  "$((steps - before)) subjects not done before the kill, and sent $((unlocks - unlocks_before)) unlocks"
echo "  unlocks served in all: $unlocks for $steps steps; journaled intents: $(count "select count(*) from calls where phase='intent'")"
# C. Everything done: what resuming costs when nothing is left (no Okta read per finished subject).
measure "apply, all $steps already done" "${apply_cmd[@]}"
echo "  user reads by that run: $(($(served users.id.get) - reads)), unlocks: $(($(served users.id) - unlocks))"
# The run's status: 50 subjects per state, then every subject and step (text and JSON), streamed.
measure "status (50 per state)" $bin status "$WORK/journal.sqlite"
measure "status --all" $bin status "$WORK/journal.sqlite" --all
measure "status --all --output json" $bin --output json status "$WORK/journal.sqlite" --all
# D. One planned subject explained live from the simulator (the plan's last subject) and from the
# subjects file, side by side.
key=$(grep -o '"subject":"[^"]*"' "$WORK/plan-unlock.json" | tail -1 | cut -d'"' -f4)
reads=$(served users.id.get)
measure "explain --plan --config (live)" $bin explain --plan "$WORK/plan-unlock.json" --subject "$key" \
  --config "$WORK/remedy.yaml"
echo "  user reads: $(($(served users.id.get) - reads))"
measure "explain --plan --subjects (file)" $bin explain --plan "$WORK/plan-unlock.json" --subject "$key" \
  --subjects "$WORK/locked.jsonl"
