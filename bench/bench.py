#!/usr/bin/env python3
"""The benchmark driver behind bench/run (which builds everything first): generates the data, runs
each contender side by side in every round, and prints one Markdown table per section. Medians of
RUNS rounds; peak RSS from GNU time (`/usr/bin/time -f`). Nothing here is asserted by tests.

Sections (SECTIONS, space-separated): eval (evaluation throughput), rulebooks (large rulebooks),
apply (apply throughput under rate limits: bench/apply.py), collect (requests of plan and apply per
scenario: bench/apply.py collect), service (bench/serve.sh: polling at 60 s and 1 s, event hooks, an hour-equivalent of trickle).
"""
import json
import os
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TARGET = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
REMEDY = os.path.join(TARGET, "release", "remedy")
CONTENDERS = os.path.join(TARGET, "bench", "cargo", "release")
GEN = os.path.join(CONTENDERS, "gen_subjects")
TYPED = os.path.join(CONTENDERS, "bench_typed")
REGORUS = os.path.join(CONTENDERS, "regorus-eval")
NOW = "2026-11-29T00:00:00Z"


def log(*args):
    print(*args, file=sys.stderr, flush=True)


def timed(cmd, workdir):
    """Runs `cmd` under GNU time; returns (wall seconds, peak RSS in MiB, stdout)."""
    tfile = os.path.join(workdir, "time.txt")
    full = ["/usr/bin/time", "-f", "%e %M", "-o", tfile] + cmd
    start = time.monotonic()
    out = subprocess.run(full, cwd=ROOT, capture_output=True, text=True)
    wall = time.monotonic() - start
    if out.returncode != 0:
        raise SystemExit(f"failed ({out.returncode}): {' '.join(cmd)}\n{out.stderr[-2000:]}")
    with open(tfile) as f:
        _, rss_kb = f.read().split()[-2:]
    return wall, int(rss_kb) / 1024, out.stdout


def matched_of(tool, stdout, plan):
    """How many subjects the contender found matching (all must agree)."""
    if tool.startswith("remedy plan"):
        with open(plan) as f:
            doc = json.load(f)
        return sum(1 for s in doc["subjects"] if s.get("verdict") == "matched")
    if tool == "jq":
        return int(stdout.strip())
    # "N subjects, M matched, ..."
    return int(stdout.split(",")[1].split()[0])


def contenders(subjects, rules, workdir, include_slow):
    plan = os.path.join(workdir, "plan.json")
    out = [
        ("hand-written (serde, borrowed)", [TYPED, subjects], None),
        ("remedy plan", [REMEDY, "plan", "--rules", rules, "--subjects", subjects, "--now", NOW,
                         "--out", plan, "--output", "json"], plan),
    ]
    # The same rule with a filter the direct walk does not compile: what the engine did before it.
    fallback = os.path.join(ROOT, "bench", "rules", "eval-fallback.yaml")
    out.append(("remedy plan, filter via jsonpath-rust", [
        REMEDY, "plan", "--rules", fallback, "--subjects", subjects, "--now", NOW, "--out", plan,
        "--output", "json"], plan))
    if include_slow:
        out += [
            ("regorus (Rego)", [REGORUS, os.path.join(ROOT, "bench", "rules", "bench.rego"), subjects],
             None),
            ("jq", ["jq", "-n", "-f", os.path.join(ROOT, "bench", "eval.jq"), subjects], None),
        ]
    return out


def generate(n, data):
    path = os.path.join(data, f"subjects-{n}.jsonl")
    if not (os.path.exists(path) and os.path.getsize(path) > 0):
        log(f"generating {n} subjects into {path}")
        with open(path + ".tmp", "w") as f:
            subprocess.run([GEN, str(n)], stdout=f, check=True)
        os.rename(path + ".tmp", path)
    return path


def fmt_rate(r):
    return f"{r:,.0f}"


def eval_section(sizes, runs, slow_runs_big, data, workdir):
    rules = os.path.join(ROOT, "bench", "rules", "eval.yaml")
    rows = []
    for n in sizes:
        subjects = generate(n, data)
        size_mb = os.path.getsize(subjects) / 1e6
        results = {}  # tool -> list of (wall, rss, ratio)
        for r in range(runs):
            slow = n < 1_000_000 or r < slow_runs_big
            walls = {}
            for tool, cmd, plan in contenders(subjects, rules, workdir, slow):
                wall, rss, stdout = timed(cmd, workdir)
                m = matched_of(tool, stdout, plan)
                expected = n // 1000 + (1 if n % 1000 > 7 else 0)
                if m != expected:
                    raise SystemExit(f"{tool} found {m} matching subjects of {n}, expected {expected}")
                walls[tool] = wall
                results.setdefault(tool, []).append((wall, rss, None))
                log(f"  {n} round {r + 1}: {tool}: {wall:.2f} s, {rss:.0f} MiB")
            base = walls["hand-written (serde, borrowed)"]
            for tool, w in walls.items():
                wall, rss, _ = results[tool][-1]
                results[tool][-1] = (wall, rss, w / base)
        for tool, rs in results.items():
            wall = statistics.median(x[0] for x in rs)
            rows.append([
                f"{n:,} ({size_mb:,.0f} MB)", tool, str(len(rs)), f"{wall:.2f}", fmt_rate(n / wall),
                f"{statistics.median(x[2] for x in rs):.2f}x", f"{statistics.median(x[1] for x in rs):.0f}",
            ])
    return table(["subjects", "contender", "runs", "wall s (median)", "subjects/s",
                  "ratio to hand-written (median of same-round ratios)", "peak RSS MiB"], rows)


def rulebooks_section(runs, data, workdir):
    books = os.path.join(data, "rulebooks")
    subprocess.run([sys.executable, os.path.join(ROOT, "bench", "gen_rulebooks.py"), books], check=True)
    big = generate(1_000_000, data) if os.environ.get("BIG", "1") == "1" else generate(100_000, data)
    n = 1_000_000 if big.endswith("-1000000.jsonl") else 100_000
    plan = os.path.join(workdir, "plan.json")
    cases = {
        "remedy test (1,000 cases)": [REMEDY, "test", os.path.join(books, "cases-1000.yaml"), "--now", NOW],
        "remedy validate (5,000 rules)": [REMEDY, "validate", os.path.join(books, "rules-5000.yaml")],
        f"remedy plan, 1 rule, {n:,} subjects": [
            REMEDY, "plan", "--rules", os.path.join(ROOT, "bench", "rules", "eval.yaml"),
            "--subjects", big, "--now", NOW, "--out", plan, "--output", "json"],
        f"remedy plan, 50 rules, {n:,} subjects": [
            REMEDY, "plan", "--rules", os.path.join(books, "rules-50.yaml"), "--subjects", big,
            "--now", NOW, "--out", plan, "--output", "json"],
    }
    results = {k: [] for k in cases}
    for r in range(runs):
        for name, cmd in cases.items():
            wall, rss, _ = timed(cmd, workdir)
            results[name].append((wall, rss))
            log(f"  round {r + 1}: {name}: {wall:.2f} s, {rss:.0f} MiB")
    rows = [[name, str(len(rs)), f"{statistics.median(x[0] for x in rs):.2f}",
             f"{statistics.median(x[1] for x in rs):.0f}"] for name, rs in results.items()]
    one = statistics.median(x[0] for x in results[f"remedy plan, 1 rule, {n:,} subjects"])
    fifty = statistics.median(x[0] for x in results[f"remedy plan, 50 rules, {n:,} subjects"])
    note = f"\n50 rules cost {fifty / one:.2f}x one rule over the same file.\n"
    return table(["command", "runs", "wall s (median)", "peak RSS MiB"], rows) + note


def table(header, rows):
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines) + "\n"


def machine():
    cpu = "unknown"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo") as f:
        mem_kb = int(f.readline().split()[1])
    load = os.getloadavg()
    return (f"{os.cpu_count()} CPUs ({cpu}), {mem_kb / 1024 / 1024:.0f} GiB RAM, "
            f"load average at the start {load[0]:.1f}")


def main():
    runs = int(os.environ.get("RUNS", "5"))
    sizes = [int(s) for s in os.environ.get("SIZES", "100000 1000000").split()]
    slow_runs_big = int(os.environ.get("SLOW_RUNS_BIG", "1"))
    sections = os.environ.get("SECTIONS", "eval rulebooks apply collect service").split()
    out_dir = os.environ.get("BENCH_OUT", os.path.join(TARGET, "bench"))
    data = os.path.join(out_dir, "data")
    workdir = os.path.join(out_dir, "work")
    os.makedirs(data, exist_ok=True)
    os.makedirs(workdir, exist_ok=True)
    parts = [f"Measured {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} on {machine()}; "
             f"`{os.environ.get('BENCH_COMMAND', 'bench/run')}` (RUNS={runs}, SIZES=\"{' '.join(map(str, sizes))}\").\n"]
    if "eval" in sections:
        log("== evaluation throughput")
        parts.append("### Evaluation throughput\n\n" + eval_section(sizes, runs, slow_runs_big, data, workdir))
    if "rulebooks" in sections:
        log("== large rulebooks")
        parts.append("### Large rulebooks\n\n" + rulebooks_section(runs, data, workdir))
    if "apply" in sections:
        log("== apply throughput")
        res = subprocess.run([sys.executable, os.path.join(ROOT, "bench", "apply.py")],
                             capture_output=True, text=True)
        sys.stderr.write(res.stderr)
        if res.returncode != 0:
            raise SystemExit("apply benchmark failed")
        parts.append("### Apply throughput under rate limits\n\n" + res.stdout)
    if "collect" in sections:
        log("== collection cost")
        res = subprocess.run([sys.executable, os.path.join(ROOT, "bench", "apply.py"), "collect"],
                             capture_output=True, text=True)
        sys.stderr.write(res.stderr)
        if res.returncode != 0:
            raise SystemExit("collection benchmark failed")
        parts.append("### Collection cost\n\n" + res.stdout)
    if "service" in sections:
        log("== service latency (bench/serve.sh)")
        out = []
        for args in (["150", "600", "poll", "60s"], ["60", "600", "poll", "1s"], ["60", "600", "hook"],
                     ["60", "6000", "poll", "1s"]):
            res = subprocess.run(["bash", os.path.join(ROOT, "bench", "serve.sh"), *args],
                                 capture_output=True, text=True)
            sys.stderr.write(res.stderr)
            if res.returncode != 0:
                raise SystemExit("service benchmark failed")
            out.append("```\n" + res.stdout.strip() + "\n```\n")
        parts.append("### Service latency\n\n" + "\n".join(out))
    text = "\n".join(parts)
    print(text)
    with open(os.path.join(out_dir, "results.md"), "w") as f:
        f.write(text)
    log(f"wrote {os.path.join(out_dir, 'results.md')}")


if __name__ == "__main__":
    main()
