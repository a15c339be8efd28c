#!/usr/bin/env bash
# The service's figures on the simulator (issue 12): events ingested per second (System Log polling and
# event hooks), failure → fix latency, memory after an hour-equivalent of trickle, and SIGKILL.
# Usage: bench/serve.sh [SECONDS] [TRICKLE_PER_MIN] [poll|hook] [POLL_INTERVAL]
#   (defaults: 60 s at 6000/min = 100/min for an hour, System Log polling every 1s)
#   hook: the simulator delivers Okta event hooks (spoke failures, hub password changes) to the service.
# Environment: REMEDY (another build of remedy, for before/after), APPLY_CONCURRENCY (the service's
# applyConcurrency, default 8 as the service's own), BENCH_SUMMARY_DIR (also write the figures as
# JSON there).
# Everything runs on 127.0.0.1; the binaries are built in release mode.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-60}
rate=${2:-6000}
mode=${3:-poll}
interval=${4:-1s}
# REMEDY=path runs another build of remedy (a before/after comparison) instead of building this one.
if [ -z "${REMEDY:-}" ]; then cargo build --release --quiet; fi
bin=${REMEDY:-$PWD/target/release/remedy}
tmp=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$tmp"' EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
hub=$(free_port); spoke=$(free_port); svc=$(free_port)
export REMEDY_BENCH_HOOK_SECRET=bench-hook-secret
hooks=()
sources="[poll]"
if [ "$mode" = hook ]; then
  hooks=(--event-hook "spoke=http://127.0.0.1:$svc/hooks/okta/spoke" --event-hook "hub=http://127.0.0.1:$svc/hooks/okta/hub"
         --event-hook-secret-env REMEDY_BENCH_HOOK_SECRET)
  sources="[hook]"
fi
"$bin" sim --hub-port "$hub" --spoke-port "$spoke" --users 200 --trickle "$rate/min" \
  --complete-resets-after 2s --no-rate-limits "${hooks[@]}" > "$tmp/sim.log" 2>&1 &
for _ in $(seq 100); do grep -q "press Ctrl-C" "$tmp/sim.log" && break; sleep 0.1; done
cat > "$tmp/remedy.yaml" <<YAML
orgs:
  hub: { orgUrl: "http://127.0.0.1:$hub", token: hub-token }
  spoke: { orgUrl: "http://127.0.0.1:$spoke", token: spoke-token }
service:
  stateDir: state
  listen: "127.0.0.1:$svc"
  pollInterval: $interval
  recheck: 30s
  sources: $sources
  eventHook: { header: Authorization, secretEnv: REMEDY_BENCH_HOOK_SECRET }
  applyConcurrency: ${APPLY_CONCURRENCY:-8}
remediations:
  - { name: org2org, rules: org2org-password-sync, limits: { perHour: 100000, perDay: 100000 } }
YAML
"$bin" serve --config "$tmp/remedy.yaml" > "$tmp/serve.out" 2> "$tmp/serve.err" &
pid=$!
start=$(date +%s.%N)
sleep "$secs"
rss_kb=$(awk '/VmHWM/ {print $2}' /proc/$pid/status)
kill -TERM "$pid"; wait "$pid" && stopped="exit 0 after SIGTERM" || stopped="exit $? after SIGTERM"
python3 - "$tmp/state/serve.sqlite" "$tmp/state/audit.jsonl" "$start" "$secs" "$rss_kb" "$stopped" "$rate" "$mode" "$interval" <<'PY'
import sqlite3, sys, json, datetime as dt
db, audit, start, secs, rss, stopped, rate, mode, interval = sys.argv[1:]
c = sqlite3.connect(db)
def t(s): return dt.datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp()
events = c.execute("select count(*) from events").fetchone()[0]
recv = [t(r[0]) for r in c.execute("select received from events")]
span = (max(recv) - min(recv)) if len(recv) > 1 else 0
states = dict(c.execute("select state, count(*) from work group by state").fetchall())
calls = {}
for line in open(audit):
    v = json.loads(line)
    if v.get("result") == "ok":
        calls.setdefault((v["user"], v["action"]), t(v["time"]))
fail = {}
for uid, pub in c.execute("select user_id, min(published) from events where event_type like 'application.provision.user%' and outcome='FAILURE' group by user_id"):
    fail[uid] = t(pub)
pw = {}
for uid, pub in c.execute("select user_id, min(published) from events where event_type='user.account.update_password' group by user_id"):
    pw[uid] = t(pub)
d1, d2 = [], []
for uid, subj, hub in c.execute("select user_id, subject, hub_user_id from work where subject is not null"):
    f = fail.get(uid); r = calls.get((subj, "reset_password")); p = pw.get(hub); y = calls.get((subj, "retry_provisioning"))
    if f and r and f >= float(start): d1.append((r - f) * 1000)
    if p and y and y >= p: d2.append((y - p) * 1000)
def q(v, x):
    if not v: return "n/a"
    v = sorted(v); return "%.0f ms" % v[min(len(v)-1, max(0, int(round(x * len(v) + 0.5)) - 1))]
src = "event hooks" if mode == "hook" else f"System Log polling every {interval}"
print(f"service figures ({secs} s, trickle {rate}/min, {src}, recheck 30 s, release build)")
print(f"  events stored: {events} over {span:.1f} s of ingest")
print(f"  work by state: {states}")
print(f"  failure → reset:  p50 {q(d1,.5)}, p99 {q(d1,.99)} over {len(d1)} users")
print(f"  password → retry: p50 {q(d2,.5)}, p99 {q(d2,.99)} over {len(d2)} users")
print(f"  peak RSS of remedy serve: {int(rss)/1024:.1f} MiB; {stopped}")
import os
def ms(v, x):
    if not v: return None
    v = sorted(v); return v[min(len(v)-1, max(0, int(round(x * len(v) + 0.5)) - 1))]
if os.environ.get("BENCH_SUMMARY_DIR"):
    # The raw figures, for bench/bench.py's summary table.
    name = f"service-{mode}-{interval if mode == 'poll' else 'hook'}-{rate}.json"
    with open(os.path.join(os.environ["BENCH_SUMMARY_DIR"], name), "w") as f:
        json.dump({"mode": mode, "interval": interval, "rate": int(rate), "seconds": int(secs),
                   "events": events, "backlog": states.get("new", 0),
                   "reset_ms": [ms(d1, .5), ms(d1, .99), len(d1)],
                   "retry_ms": [ms(d2, .5), ms(d2, .99), len(d2)],
                   "rss_mib": int(rss) / 1024}, f)
PY
