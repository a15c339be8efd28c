#!/usr/bin/env python3
"""Apply throughput under rate limits (bench/run's `apply` and `collect` sections).

Starts `remedy sim` (hub and spoke on 127.0.0.1) with Okta's default limits in windows of
APPLY_WINDOW (default 10s instead of 60 s, so the runs take about a minute each), plans the shipped
rulebook over N failing Org2Org assignments (APPLY_SUBJECTS, default 2,000, all FEDERATION: reset +
await + retry), applies it (first run: the resets, the awaits park), completes every reset, applies
again (second run: the pushes). While each command runs it reads the simulator's per-bucket request
counters every second, so it can tell the calls per second each bucket took against what the bucket
allows at the client's capacity share (0.8). Prints one Markdown table and writes the chart
bench/apply-throughput.png (with `--chart`, the default in bench/run).

Requests counted by the simulator (`/__sim/counters`, `/__sim/requests`); control calls are not.
"""
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TARGET = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
REMEDY = os.environ.get("REMEDY", os.path.join(TARGET, "release", "remedy"))
SHARE = 0.8
# Okta's default per-minute limits, as the simulator meters them (src/sim/limits.rs).
LIMITS = {"users": 600, "users.id.get": 2000, "users.id": 600, "apps": 100, "apps.id": 500,
          "groups": 500, "logs": 120}


def log(*args):
    print(*args, file=sys.stderr, flush=True)


def get(url, token):
    req = urllib.request.Request(url, headers={"Authorization": f"SSWS {token}"})
    with urllib.request.urlopen(req, timeout=30) as r:
        return json.load(r)


def post(url, token, body=None):
    data = json.dumps(body or {}).encode()
    req = urllib.request.Request(url, data=data, method="POST", headers={
        "Authorization": f"SSWS {token}", "Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as r:
        return r.status


class Sampler(threading.Thread):
    """Reads both orgs' per-bucket counters every second while a command runs."""

    def __init__(self, orgs):
        super().__init__(daemon=True)
        self.orgs = orgs
        self.samples = []  # (t, {"org bucket": count})
        self.stop = threading.Event()

    def snapshot(self):
        out = {}
        for org, (url, token) in self.orgs.items():
            for bucket, n in get(f"{url}/__sim/counters", token).items():
                out[f"{org} {bucket}"] = n
        return out

    def run(self):
        start = time.monotonic()
        while not self.stop.is_set():
            self.samples.append((time.monotonic() - start, self.snapshot()))
            self.stop.wait(1.0)
        self.samples.append((time.monotonic() - start, self.snapshot()))


def run_measured(name, cmd, orgs, env):
    sampler = Sampler(orgs)
    sampler.start()
    start = time.monotonic()
    res = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
    wall = time.monotonic() - start
    sampler.stop.set()
    sampler.join()
    if res.returncode not in (0, 2, 3):
        raise SystemExit(f"{name} failed ({res.returncode}): {res.stderr[-3000:]}")
    log(f"  {name}: {wall:.1f} s (exit {res.returncode})")
    return wall, res, sampler.samples


def count_failed(doc):
    """Subjects (or steps) the apply summary reports failed: objects whose state is `failed`."""
    if isinstance(doc, dict):
        own = 1 if doc.get("state") == "failed" else 0
        return own + sum(count_failed(v) for v in doc.values())
    if isinstance(doc, list):
        return sum(count_failed(v) for v in doc)
    return 0


def rates(samples, window):
    """Per bucket: total calls, active seconds, achieved calls/s, allowed calls/s, per-second series."""
    out = {}
    first, last = samples[0][1], samples[-1][1]
    for key in last:
        total = last[key] - first.get(key, 0)
        if total == 0:
            continue
        series = []
        for (t0, a), (t1, b) in zip(samples, samples[1:]):
            series.append((t1, (b.get(key, 0) - a.get(key, 0)) / max(t1 - t0, 1e-6)))
        active = [t for t, r in series if r > 0]
        span = (active[-1] - active[0] + 1.0) if active else 1.0
        bucket = key.split(" ", 1)[1]
        allowed = SHARE * LIMITS.get(bucket, 600) / window
        out[key] = {"total": total, "span": span, "rate": total / span, "allowed": allowed,
                    "series": series}
    return out


def start_sim(port, assignments, failures, window, users=500):
    """`remedy sim` on `port` and `port + 1` with `users` background hub users and `failures`
    FEDERATION failures among `assignments`; returns once both orgs answer."""
    sim = subprocess.Popen(
        [REMEDY, "sim", "--hub-port", str(port), "--spoke-port", str(port + 1), "--users", str(users),
         "--assignments", str(assignments), "--federation-collisions", str(failures),
         "--policy-lookalikes", "0", "--not-active-hub", "0", "--missing-hub", "0",
         "--deprovisioned-hub", "0", "--suspended-hub", "0", "--protected-admins", "0",
         "--group-assigned", "0", "--seed", "7", "--rate-window", f"{window}s", "--push-delay", "0s"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 300
    for url, token in [(f"http://127.0.0.1:{port}", "hub-token"),
                       (f"http://127.0.0.1:{port + 1}", "spoke-token")]:
        while True:
            try:
                get(f"{url}/__sim/counters", token)
                break
            except OSError:
                if time.monotonic() > deadline or sim.poll() is not None:
                    stop_sim(sim)
                    raise SystemExit("the simulator did not start")
                time.sleep(0.2)
    return sim


def stop_sim(sim):
    os.killpg(sim.pid, signal.SIGTERM)
    sim.wait(timeout=30)


def write_inputs(work, hub, spoke):
    with open(os.path.join(work, "remedy.yaml"), "w") as f:
        f.write(f"orgs:\n  hub:\n    orgUrl: {hub}\n    tokenEnv: BENCH_HUB_TOKEN\n"
                f"  spoke:\n    orgUrl: {spoke}\n    tokenEnv: BENCH_SPOKE_TOKEN\n")
    with open(os.path.join(ROOT, "rules", "org2org-password-sync.yaml")) as f:
        rules = f.read().replace("max_actions: 200", "max_actions: 100000")
    with open(os.path.join(work, "rules.yaml"), "w") as f:
        f.write(rules)


def requests_by_bucket(orgs):
    out = {}
    for org, (url, token) in orgs.items():
        for r in get(f"{url}/__sim/requests", token):
            key = f"{org} {r['bucket']}"
            out[key] = out.get(key, 0) + 1
    return out


def summary(name, *rows):
    """Hands bench/bench.py its lines of the summary table (when it runs this script)."""
    out = os.environ.get("BENCH_SUMMARY_DIR")
    if out:
        with open(os.path.join(out, name), "w") as f:
            json.dump(list(rows), f)


def collect_main():
    """Requests and wall time of plan and of apply's first run per scenario, against the cheapest
    combination of docs/cost-model.md."""
    window = float(os.environ.get("COLLECT_WINDOW", "6"))
    scenarios = [tuple(int(x) for x in s.split(":"))
                 for s in os.environ.get("COLLECT_SCENARIOS", "2000:1200 100000:10 12000:10000").split()]
    port = int(os.environ.get("APPLY_PORT", "18580"))
    env = dict(os.environ, BENCH_HUB_TOKEN="hub-token", BENCH_SPOKE_TOKEN="spoke-token")
    worst = {}
    print("| assignments | failures | command | requests (by bucket) | cheapest | ratio | wall s |")
    print("|---|---|---|---|---|---|---|")
    for assignments, failures in scenarios:
        work = tempfile.mkdtemp(prefix="remedy-bench-collect-")
        hub, spoke = f"http://127.0.0.1:{port}", f"http://127.0.0.1:{port + 1}"
        orgs = {"hub": (hub, "hub-token"), "spoke": (spoke, "spoke-token")}
        write_inputs(work, hub, spoke)
        sim = start_sim(port, assignments, failures, window)
        try:
            cfg = ["--config", os.path.join(work, "remedy.yaml")]
            plan = os.path.join(work, "plan.json")
            start = time.monotonic()
            subprocess.run([REMEDY, "plan", "--rules", os.path.join(work, "rules.yaml"), *cfg,
                            "--out", plan, "--quiet"], cwd=ROOT, env=env, check=True,
                           capture_output=True)
            plan_wall = time.monotonic() - start
            planned = requests_by_bucket(orgs)
            logs = planned.get("spoke logs", 0)
            # Hub users are searched by login, about 40 a query (docs/cost-model.md).
            cheapest_plan = 1 + logs + min(failures, -(-assignments // 500)) + -(-failures // 40)
            start = time.monotonic()
            res = subprocess.run([REMEDY, "--output", "json", "apply", plan, *cfg], cwd=ROOT, env=env,
                                 capture_output=True, text=True)
            apply_wall = time.monotonic() - start
            if res.returncode not in (0, 3):
                raise SystemExit(f"apply failed: {res.stderr[-2000:]}")
            after = requests_by_bucket(orgs)
            applied = {k: after.get(k, 0) - planned.get(k, 0) for k in after}
            cheapest_apply = 4 * failures + (applied.get("spoke logs", 0))
        finally:
            stop_sim(sim)
            shutil.rmtree(work, ignore_errors=True)
        for name, counts, cheapest, wall in [("plan", planned, cheapest_plan, plan_wall),
                                              ("apply, first run", applied, cheapest_apply, apply_wall)]:
            total = sum(counts.values())
            worst[name] = max(worst.get(name, 0.0), total / cheapest)
            detail = ", ".join(f"{k} {v:,}" for k, v in sorted(counts.items()) if v)
            print(f"| {assignments:,} | {failures:,} | {name} | {total:,} ({detail}) | {cheapest:,} | "
                  f"{total / cheapest:.2f}x | {wall:.1f} |")
        log(f"  {assignments} assignments, {failures} failures: plan {plan_wall:.1f} s, apply {apply_wall:.1f} s")
    print(f"\nRate-limit window {window:g} s instead of Okta's 60 s (request counts do not depend on "
          "it; wall times of the largest scenario are bound by apply's concurrency, not the limits). "
          "Cheapest: plan = the app + the log pages + min(lookups, pages of 500) + hub searches "
          "of 40 logins; apply's first run = 4 a subject + the log pages (docs/cost-model.md).")
    summary("collect-apply.json", {
        "goal": "apply's first run at the cheapest safe reads (4 a subject)",
        "figure": f"largest ratio {worst.get('apply, first run', 0):.2f}x "
                  f"({', '.join(f'{f:,} of {a:,}' for a, f in scenarios)} failures)",
        "met": worst.get("apply, first run", 99) <= 1.0,
    })


def main():
    n = int(os.environ.get("APPLY_SUBJECTS", "2000"))
    window = float(os.environ.get("APPLY_WINDOW", "10"))
    chart = os.environ.get("APPLY_CHART", os.path.join(ROOT, "bench", "apply-throughput.png"))
    port = int(os.environ.get("APPLY_PORT", "18580"))
    work = tempfile.mkdtemp(prefix="remedy-bench-apply-")
    hub, spoke = f"http://127.0.0.1:{port}", f"http://127.0.0.1:{port + 1}"
    orgs = {"hub": (hub, "hub-token"), "spoke": (spoke, "spoke-token")}
    env = dict(os.environ, BENCH_HUB_TOKEN="hub-token", BENCH_SPOKE_TOKEN="spoke-token")
    write_inputs(work, hub, spoke)
    sim = start_sim(port, n, n, window)
    try:
        cfg = ["--config", os.path.join(work, "remedy.yaml")]
        plan = os.path.join(work, "plan.json")
        runs = {}
        runs["plan"] = run_measured("plan", [REMEDY, "plan", "--rules", os.path.join(work, "rules.yaml"),
                                             *cfg, "--out", plan], orgs, env)
        apply_cmd = [REMEDY, "--output", "json", "apply", plan, *cfg]
        runs["apply, first run (resets)"] = run_measured("apply 1", apply_cmd, orgs, env)
        with open(plan) as f:
            logins = [s["key"] for s in json.load(f)["subjects"] if s.get("verdict") == "matched"]
        hub_logins = []
        for s in get(f"{hub}/__sim/state", "hub-token").get("users", []):
            if s.get("status") == "RECOVERY":
                hub_logins.append(s.get("profile", {}).get("login"))
        for login in hub_logins:
            post(f"{hub}/__sim/users/{login}/complete_reset", "hub-token")
        log(f"  completed {len(hub_logins)} resets ({len(logins)} subjects planned)")
        runs["apply, second run (pushes)"] = run_measured("apply 2", apply_cmd, orgs, env)
        statuses = {}
        for org, (url, token) in orgs.items():
            for r in get(f"{url}/__sim/requests", token):
                statuses[r["status"]] = statuses.get(r["status"], 0) + 1
    finally:
        stop_sim(sim)
    rows, series, binding, failed_total = [], {}, [], 0
    for name, (wall, res, samples) in runs.items():
        failed = ""
        if name != "plan":
            try:
                n_failed = count_failed(json.loads(res.stdout))
                failed = str(n_failed)
            except json.JSONDecodeError:
                n_failed, failed = 1, "?"
            failed_total += n_failed + (0 if res.returncode == 0 else 1)
            failed += f" (exit {res.returncode})"
            # The binding bucket: the one whose requests take longest at the allowed rate.
            per_bucket = rates(samples, window)
            if per_bucket:
                key, r = max(per_bucket.items(), key=lambda kv: kv[1]["total"] / kv[1]["allowed"])
                binding.append((name, key, r["rate"] / r["allowed"]))
        for key, r in sorted(rates(samples, window).items(), key=lambda kv: -kv[1]["total"]):
            if r["total"] < 50:
                continue
            rows.append([name, f"{wall:.1f}", key, str(r["total"]), f"{r['rate']:.1f}",
                         f"{r['allowed']:.1f}", f"{100 * r['rate'] / r['allowed']:.0f}%", failed])
            series[(name, key)] = r
    print("| run | wall s | org bucket | requests | achieved calls/s (active span) | allowed at share 0.8 | achieved/allowed | failed steps |")
    print("|---|---|---|---|---|---|---|---|")
    for row in rows:
        print("| " + " | ".join(row) + " |")
    print(f"\nRate-limit window {window:g} s (Okta: 60 s), limits are Okta's defaults per window; "
          f"{n:,} FEDERATION failures. Responses by status over all runs: "
          + ", ".join(f"{k}: {v:,}" for k, v in sorted(statuses.items())) + ".")
    too_many = statuses.get(429, 0)
    worst = min((b[2] for b in binding), default=0.0)
    summary("apply.json", {
        "goal": "apply at 90% or more of the allowed rate, zero 429 failures, zero failed steps",
        "figure": "; ".join(f"{name.split(' (')[0]}: {key} at {100 * share:.0f}%"
                            for name, key, share in binding)
                  + f" of 0.8 x its limit; {too_many} responses 429, {failed_total} failed steps",
        "met": worst >= 0.9 and too_many == 0 and failed_total == 0,
    })
    if chart:
        draw(series, chart, window)
        print(f"\n![calls per second against the bucket limit]({os.path.relpath(chart, ROOT)})")
    shutil.rmtree(work, ignore_errors=True)


def draw(series, path, window):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    keys = [k for k in series if k[0] != "plan"]
    fig, axes = plt.subplots(len(keys), 1, figsize=(9, 2.4 * len(keys)), sharex=False)
    if len(keys) == 1:
        axes = [axes]
    for ax, key in zip(axes, keys):
        r = series[key]
        ts = [t for t, _ in r["series"]]
        vals = [v for _, v in r["series"]]
        ax.plot(ts, vals, label="calls/s (each second)", color="tab:blue", alpha=0.35)
        # Okta meters fixed windows, so a client bursts at each window's start and then waits: the
        # mean over one window is what the limit bounds.
        w = max(1, int(round(window)))
        mean = [sum(vals[max(0, i - w + 1):i + 1]) / w for i in range(len(vals))]
        ax.plot(ts, mean, label=f"calls/s (mean over {w} s)", color="tab:blue")
        ax.axhline(r["allowed"], color="tab:green", linestyle="--", label="allowed (share 0.8)")
        ax.axhline(r["allowed"] / SHARE, color="tab:red", linestyle=":", label="bucket limit")
        ax.set_title(f"{key[0]}: {key[1]}", fontsize=9)
        ax.set_ylabel("calls/s")
        ax.legend(fontsize=7, loc="upper right")
    axes[-1].set_xlabel(f"seconds since the command started (window {window:g} s)")
    fig.tight_layout()
    fig.savefig(path, dpi=80)


if __name__ == "__main__":
    collect_main() if sys.argv[1:] == ["collect"] else main()
