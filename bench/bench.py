#!/usr/bin/env python3
"""The benchmark driver behind bench/run (which builds everything first): generates the data, runs
each contender side by side in every round, and prints one Markdown table per section. Medians of
RUNS rounds; peak RSS from GNU time (`/usr/bin/time -f`). Nothing here is asserted by tests.

Sections (SECTIONS, space-separated): eval (evaluation throughput), rulebooks (large rulebooks),
apply (apply throughput under rate limits: bench/apply.py), collect (requests of plan at 10,000 to
1,000,000 hub users: bench/collect.py; of plan and apply per scenario: bench/apply.py collect),
service (bench/serve.sh: polling at 60 s and 1 s, event hooks, an hour-equivalent of trickle).

Before the section tables it prints one summary table over sections 1 to 4: each goal of issue 15,
the figure measured, met or not. Each section's script leaves its lines of that table as JSON in
BENCH_SUMMARY_DIR (target/bench/summary/); a section left out of SECTIONS is named as not run.
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
                  "ratio to hand-written (median of same-round ratios)", "peak RSS MiB"], rows), \
        eval_summary(rows)


def eval_summary(rows):
    """The summary's lines for section 1 from the evaluation table's rows."""
    plan = [(r[0].split(" ")[0], float(r[5].rstrip("x")), float(r[6])) for r in rows
            if r[1] == "remedy plan"]
    ratios = "; ".join(f"{ratio:.2f}x at {n}" for n, ratio, _ in plan)
    rss = "; ".join(f"{mib:.0f} MiB at {n}" for n, _, mib in plan)
    largest = plan[-1][0] if plan else "?"
    return [
        ("1", "`remedy plan` within 1.5x of the hand-written program", ratios,
         all(ratio <= 1.5 for _, ratio, _ in plan)),
        ("1", "memory flat, under 100 MiB at 1,000,000 subjects", f"{rss} (largest size run: {largest})",
         all(mib < 100 for _, _, mib in plan) if largest == "1,000,000" else "not run at 1,000,000"),
    ]


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
    test = statistics.median(x[0] for x in results["remedy test (1,000 cases)"])
    validate = statistics.median(x[0] for x in results["remedy validate (5,000 rules)"])
    summary = [
        ("1", "large rulebooks interactive: 1,000 test cases and a 5,000-rule rulebook under 1 s",
         f"test {test:.2f} s, validate {validate:.2f} s", test < 1 and validate < 1),
        ("1", "50 rules sharing paths cost sublinearly (less than 50x one rule)",
         f"{fifty / one:.2f}x one rule over {n:,} subjects", fifty / one < 50),
    ]
    return table(["command", "runs", "wall s (median)", "peak RSS MiB"], rows) + note, summary


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


def script(args, what, env):
    """Runs a section's script; returns its stdout (its progress goes to stderr)."""
    res = subprocess.run(args, capture_output=True, text=True, env=env)
    sys.stderr.write(res.stderr)
    if res.returncode != 0:
        raise SystemExit(f"{what} failed")
    return res.stdout


def read_summaries(summary_dir, names):
    """The summary lines a section's scripts left in `summary_dir` (rows of goal, figure, met)."""
    rows = []
    for name in names:
        path = os.path.join(summary_dir, name)
        if os.path.exists(path):
            with open(path) as f:
                rows += [(r["goal"], r["figure"], r["met"]) for r in json.load(f)]
    return rows


def service_summary(summary_dir):
    """Section 4's lines from bench/serve.sh's figures. Issue 15 sets no number for the service: its
    latency, ingest and memory are recorded, not judged."""
    runs = {}
    for name in sorted(os.listdir(summary_dir)):
        if name.startswith("service-"):
            with open(os.path.join(summary_dir, name)) as f:
                v = json.load(f)
            runs[(v["mode"], v["interval"], v["rate"])] = v

    def lat(v):
        p50, p99, n = v["reset_ms"]
        return "n/a" if p50 is None else f"p50 {p50 / 1000:.1f} s, p99 {p99 / 1000:.1f} s ({n} users)"

    latency = "; ".join(
        f"{'hooks' if m == 'hook' else f'polling every {i}'} at {r:,}/min: {lat(v)}"
        for (m, i, r), v in runs.items() if r <= 600)
    rows = [("4", "failure → reset latency (p50, p99), polling and event hooks", latency or "not run",
             None)]
    for (m, i, r), v in runs.items():
        if r > 600:
            rows.append(("4", f"processing keeps up with {r:,} collisions/min ({v['seconds']} s, "
                              f"{'hooks' if m == 'hook' else f'polling every {i}'})",
                         f"{lat(v)}; {v['events']:,} events stored, {v['backlog']:,} users still "
                         f"waiting at the end", v["backlog"] == 0))
            rows.append(("4", "memory after an hour-equivalent of trickle",
                         f"{v['rss_mib']:.1f} MiB peak RSS", None))
    return rows


def summary_table(rows, sections):
    """One table over sections 1 to 4: every goal, the figure measured, met or not."""
    out = []
    for section, goal, figure, met in rows:
        if isinstance(met, str):
            verdict = met
        else:
            verdict = "recorded (no target)" if met is None else ("met" if met else "**not met**")
        out.append([section, goal, figure, verdict])
    skipped = [s for s in ALL_SECTIONS if s not in sections]
    note = f"\nNot run this time (SECTIONS): {', '.join(skipped)}.\n" if skipped else ""
    return table(["§", "goal", "measured", "verdict"], out) + note


ALL_SECTIONS = ["eval", "rulebooks", "apply", "collect", "service"]


def main():
    runs = int(os.environ.get("RUNS", "5"))
    sizes = [int(s) for s in os.environ.get("SIZES", "100000 1000000").split()]
    slow_runs_big = int(os.environ.get("SLOW_RUNS_BIG", "1"))
    sections = os.environ.get("SECTIONS", " ".join(ALL_SECTIONS)).split()
    unknown = [s for s in sections if s not in ALL_SECTIONS]
    if unknown:
        raise SystemExit(f"unknown SECTIONS {unknown}; known: {' '.join(ALL_SECTIONS)}")
    out_dir = os.environ.get("BENCH_OUT", os.path.join(TARGET, "bench"))
    data = os.path.join(out_dir, "data")
    workdir = os.path.join(out_dir, "work")
    summary_dir = os.path.join(out_dir, "summary")
    for d in (data, workdir, summary_dir):
        os.makedirs(d, exist_ok=True)
    for name in os.listdir(summary_dir):
        os.remove(os.path.join(summary_dir, name))
    env = dict(os.environ, BENCH_SUMMARY_DIR=summary_dir)
    header = (f"Measured {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} on {machine()}; "
              f"`{os.environ.get('BENCH_COMMAND', 'bench/run')}` (RUNS={runs}, "
              f"SIZES=\"{' '.join(map(str, sizes))}\", SECTIONS=\"{' '.join(sections)}\").\n")
    parts, summary = [], []
    if "eval" in sections:
        log("== evaluation throughput")
        text, rows = eval_section(sizes, runs, slow_runs_big, data, workdir)
        parts.append("### Evaluation throughput\n\n" + text)
        summary += rows
    if "rulebooks" in sections:
        log("== large rulebooks")
        text, rows = rulebooks_section(runs, data, workdir)
        parts.append("### Large rulebooks\n\n" + text)
        summary += rows
    if "apply" in sections:
        log("== apply throughput")
        out = script([sys.executable, os.path.join(ROOT, "bench", "apply.py")], "apply benchmark", env)
        parts.append("### Apply throughput under rate limits\n\n" + out)
        summary += [("2", *r) for r in read_summaries(summary_dir, ["apply.json"])]
    if "collect" in sections:
        log("== collection cost")
        scale = script([sys.executable, os.path.join(ROOT, "bench", "collect.py")],
                       "collection benchmark (hub sizes)", env)
        out = script([sys.executable, os.path.join(ROOT, "bench", "apply.py"), "collect"],
                     "collection benchmark (plan and apply)", env)
        parts.append("### Collection cost at scale\n\n" + scale)
        parts.append("### Collection cost of plan and apply\n\n" + out)
        summary += [("3", *r) for r in read_summaries(summary_dir, ["collect-scale.json",
                                                                   "collect-apply.json"])]
    if "service" in sections:
        log("== service latency (bench/serve.sh)")
        out = []
        for args in (["150", "600", "poll", "60s"], ["60", "600", "poll", "1s"], ["60", "600", "hook"],
                     ["60", "6000", "poll", "1s"]):
            res = script(["bash", os.path.join(ROOT, "bench", "serve.sh"), *args], "service benchmark",
                         env)
            out.append("```\n" + res.strip() + "\n```\n")
        parts.append("### Service latency\n\n" + "\n".join(out))
        summary += service_summary(summary_dir)
    text = "\n".join([header, "### Summary\n\n" + summary_table(summary, sections)] + parts)
    print(text)
    with open(os.path.join(out_dir, "results.md"), "w") as f:
        f.write(text)
    log(f"wrote {os.path.join(out_dir, 'results.md')}")


if __name__ == "__main__":
    main()
