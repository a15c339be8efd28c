#!/usr/bin/env python3
"""Collection cost at scale (bench/run's `collect` section, with `bench/apply.py collect`).

For every hub size (COLLECT_HUB_SIZES, default 10,000 100,000 1,000,000 hub users) and every count of
failing assignments (COLLECT_FAILURES, default 100 1,000; all FEDERATION collisions among
COLLECT_ASSIGNMENTS assignments, default 5,000): a fresh `remedy sim`, then `remedy plan` and
`remedy plan --full-scan` against it. Prints, per plan, the requests per endpoint (the plan's own
`source.requests`, checked against the simulator's per-bucket counters) and the ratio to the cheapest
combination of docs/cost-model.md; and, per simulator, its start time (until both orgs answer) and
its peak resident memory (the kernel's VmHWM of the process, what GNU time's %M reports).

Cheapest, with F failures, A assignments and L log pages (the pages the plan read: the failure log
must be read whole either way):
  plan              = 1 app + L + min(F assignment lookups, ceil(A/500) pages) + ceil(F/40) hub searches
  plan --full-scan  = 1 app + L + ceil(A/500) pages (the full listing)       + ceil(F/40) hub searches
Hub users are searched by login, about 40 a query; nothing here depends on the hub's size.
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from apply import (REMEDY, ROOT, log, requests_by_bucket, start_sim, stop_sim,  # noqa: E402
                   summary, write_inputs)


def peak_rss_mib(pid):
    """Peak resident set size of a live process (VmHWM), MiB."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def cheapest(failures, assignments, log_pages, full_scan):
    pages = -(-assignments // 500)
    assignments_read = pages if full_scan else min(failures, pages)
    return 1 + log_pages + assignments_read + -(-failures // 40)


def plan(work, env, full_scan):
    """Runs `remedy plan` (optionally `--full-scan`); returns (wall seconds, requests by endpoint,
    matched subjects)."""
    out = os.path.join(work, "plan.json")
    cmd = [REMEDY, "plan", "--rules", os.path.join(work, "rules.yaml"), "--config",
           os.path.join(work, "remedy.yaml"), "--out", out, "--quiet"]
    if full_scan:
        cmd.append("--full-scan")
    start = time.monotonic()
    res = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
    wall = time.monotonic() - start
    if res.returncode not in (0, 2):
        raise SystemExit(f"plan failed ({res.returncode}): {res.stderr[-2000:]}")
    with open(out) as f:
        doc = json.load(f)
    matched = sum(1 for s in doc["subjects"] if s.get("verdict") == "matched")
    return wall, doc["source"].get("requests", {}), matched


def endpoint(key):
    """`spoke GET /api/v1/apps/{id}/users` -> `spoke apps/{id}/users`, shorter for the table."""
    org, _method, path = key.split(" ", 2)
    return f"{org} {path.removeprefix('/api/v1/')}"


def scenario(hub_users, failures, assignments, window, port):
    """One simulator, both plans; returns (sim row, plan rows)."""
    work = tempfile.mkdtemp(prefix="remedy-bench-collect-scale-")
    hub, spoke = f"http://127.0.0.1:{port}", f"http://127.0.0.1:{port + 1}"
    orgs = {"hub": (hub, "hub-token"), "spoke": (spoke, "spoke-token")}
    env = dict(os.environ, BENCH_HUB_TOKEN="hub-token", BENCH_SPOKE_TOKEN="spoke-token")
    write_inputs(work, hub, spoke)
    start = time.monotonic()
    sim = start_sim(port, assignments, failures, window, users=hub_users)
    started = time.monotonic() - start
    rows = []
    try:
        before = requests_by_bucket(orgs)
        for full_scan in (False, True):
            wall, requests, matched = plan(work, env, full_scan)
            after = requests_by_bucket(orgs)
            counted = sum(after.values()) - sum(before.values())
            before = after
            total = sum(requests.values())
            if counted != total:
                raise SystemExit(f"the plan reports {total} requests, the simulator counted {counted}")
            if matched != failures:
                raise SystemExit(f"the plan matched {matched} subjects, expected {failures}")
            logs = sum(v for k, v in requests.items() if k.endswith(" /api/v1/logs"))
            least = cheapest(failures, assignments, logs, full_scan)
            detail = ", ".join(f"{endpoint(k)} {v:,}" for k, v in sorted(requests.items()))
            rows.append([f"{hub_users:,}", f"{failures:,}",
                         "plan --full-scan" if full_scan else "plan", f"{total:,} ({detail})",
                         f"{least:,}", f"{total / least:.2f}x", f"{wall:.1f}"])
            log(f"  {hub_users} hub users, {failures} failures, full scan {full_scan}: "
                f"{total} requests, {wall:.1f} s")
        rss = peak_rss_mib(sim.pid)
    finally:
        stop_sim(sim)
        shutil.rmtree(work, ignore_errors=True)
    return [f"{hub_users:,}", f"{assignments:,}", f"{failures:,}", f"{started:.1f}", f"{rss:,.0f}"], rows


def table(header, rows):
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    return "\n".join(lines + ["| " + " | ".join(r) + " |" for r in rows]) + "\n"


def main():
    sizes = [int(s) for s in os.environ.get("COLLECT_HUB_SIZES", "10000 100000 1000000").split()]
    counts = [int(s) for s in os.environ.get("COLLECT_FAILURES", "100 1000").split()]
    assignments = int(os.environ.get("COLLECT_ASSIGNMENTS", "5000"))
    window = float(os.environ.get("COLLECT_WINDOW", "6"))
    port = int(os.environ.get("COLLECT_PORT", "18590"))
    sims, plans = [], []
    for n in sizes:
        for f in counts:
            sim_row, rows = scenario(n, f, assignments, window, port)
            sims.append(sim_row)
            plans += rows
    ratios = [float(r[5].rstrip("x")) for r in plans]
    print(table(["hub users", "failures", "command", "requests (by endpoint)", "cheapest", "ratio",
                 "wall s"], plans))
    print(f"Largest ratio to the cheapest: {max(ratios):.2f}x. {assignments:,} assignments, all "
          f"failures FEDERATION collisions; rate-limit windows of {window:g} s (request counts do not "
          "depend on them). Cheapest: plan = the app + the log pages + min(lookups, pages of 500) "
          "+ hub searches of 40 logins; `--full-scan` = the app + the log pages + every page of the "
          "assignments + hub searches (docs/cost-model.md).\n")
    print(table(["hub users", "assignments", "failures", "simulator start s", "simulator peak RSS MiB"],
                sims))
    # Growth with the hub: requests at the largest hub over those at the smallest, same failures and
    # command. Not exactly 1: the generator's logins carry a serial that grows with the hub, and
    # longer logins fit fewer to a search.
    total = {(r[0], r[1], r[2]): int(r[3].split(" ")[0].replace(",", "")) for r in plans}
    small, large = f"{sizes[0]:,}", f"{sizes[-1]:,}"
    growth = max(total[(large, f, c)] / total[(small, f, c)]
                 for (_, f, c) in total)
    summary("collect-scale.json", {
        "goal": "collection at the minimum, flat with hub size",
        "figure": f"largest ratio to the cheapest {max(ratios):.2f}x; requests at {large} hub users "
                  f"{growth:.2f}x those at {small} (failures {', '.join(f'{c:,}' for c in counts)}, "
                  "with and without --full-scan)",
        "met": max(ratios) <= 1.2 and growth <= 1.05})


if __name__ == "__main__":
    main()
