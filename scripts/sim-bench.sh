#!/usr/bin/env bash
# Measures the simulator on this machine: requests/second of `GET /api/v1/users?limit=200` under wrk,
# and the peak resident memory of a simulator holding USERS hub users (default 100,000).
# Needs wrk and GNU time (apt-get install -y wrk time). Prints the figures; changes nothing.
set -euo pipefail
cd "$(dirname "$0")/.."
USERS=${USERS:-100000}
DURATION=${DURATION:-20s}
CONNECTIONS=${CONNECTIONS:-32}
THREADS=${THREADS:-2}
HUB_PORT=${HUB_PORT:-18480}
SPOKE_PORT=$((HUB_PORT + 1))
out=$(mktemp -d)
cargo build --release --quiet
/usr/bin/time -v -o "$out/time.txt" target/release/remedy sim --users "$USERS" --no-rate-limits \
  --hub-port "$HUB_PORT" --spoke-port "$SPOKE_PORT" >"$out/sim.txt" 2>&1 &
sim=$!
started=$(date +%s.%N)
url="http://127.0.0.1:$HUB_PORT/api/v1/users?limit=200"
for _ in $(seq 1 600); do
  curl -fs -o /dev/null -H 'Authorization: SSWS hub-token' "$url" && break
  sleep 0.1
done
ready=$(date +%s.%N)
echo "simulator with $USERS hub users ready in $(echo "$ready - $started" | bc) s"
after=$(curl -fs -D - -o /dev/null -H 'Authorization: SSWS hub-token' "$url" | sed -n 's/.*<\(.*\)>; rel="next".*/\1/p' | tr -d '\r')
echo "== wrk, first page: $url"
wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" -H 'Authorization: SSWS hub-token' "$url"
echo "== wrk, second page: $after"
wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" -H 'Authorization: SSWS hub-token' "$after"
# Stop the simulator itself (GNU time's child); time then reports, marking it terminated by a signal.
kill -TERM "$(pgrep -P "$sim")"
wait "$sim" || true
grep -E "Maximum resident set size|Elapsed" "$out/time.txt"
rm -rf "$out"
