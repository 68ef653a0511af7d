#!/usr/bin/python3
"""Measure how talentsim's run time grows with researchers, labs, steps and replicates.

Starting from a scenario (by default scenarios/bench/frontier_25k.yaml), the
script writes variant scenario files into a temporary directory, checks each
with `talentsim validate`, times each with

    talentsim bench VARIANT --threads-list 1 -r R --repeat K --rss-replicates 10 --json OUT

and prints one Markdown table per axis. The figure is the single-threaded
compute-only seconds per replicate (median and min-max over the K rounds),
with nanoseconds per researcher-step and market decisions per replicate from
the same bench JSON.

Axes (the scenario's own value is always one of the points, and is run from
the original file rather than a rewritten copy):
  researchers  every lab's headcount, every tier, x 0.25, 0.5, 1, 2, 4
               (capacities scaled too; named researchers unchanged)
  labs         the same synthetic researchers over 4, 7, the original and 25
               labs. Fewer: the first L-1 labs in file order plus the last one
               (the outside pool), every kept lab's headcount and capacity
               scaled up by one factor so the total stays the same; events,
               questions and poach/hires `from` entries that refer to removed
               labs are dropped, and named researchers of removed labs start in
               the last lab instead. More: copies of the open labs other than
               the last (" II", then " III", ... in file order), placed before
               the last lab; each original lab and its copies share its
               headcount and capacity. Events and questions are not copied.
  steps        the same calendar span with step_days 14, 7, 3, 1 (events and
               question windows keep their dates)
  replicates   the original scenario at -r 50, 200, 1000 (total wall time per
               measurement should grow linearly, s/replicate stay flat)

--quick (a smoke check: -r 4, --repeat 1) times only two points per axis: the
smallest and largest of researchers, labs and steps, and -r 4 and 16 for the
replicates axis; it still writes and validates every variant of the full run.
The full run takes several minutes on two cores (most of it the 1,000-replicate
point and step_days 1); timings on a busy machine are noisy, see the load line.

Run from anywhere:

    /usr/bin/python3 scripts/bench-scaling.py [SCENARIO] [--binary PATH] [-r N]
        [--repeat K] [--quick] [--markdown FILE]

Needs python3-yaml. Temporary files are removed at the end, also on errors.
"""

import argparse
import copy
import json
import math
import os
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parent.parent
DEFAULT_SCENARIO = REPO / "scenarios" / "bench" / "frontier_25k.yaml"
DEFAULT_BINARY = REPO / "build" / "release" / "sim" / "talentsim"
RSS_REPLICATES = 10
BINARY_WAIT_SECONDS = 120  # the binary may be missing briefly while it is rebuilt

RESEARCHER_SCALES = [0.25, 0.5, 1, 2, 4]
LAB_COUNTS = [4, 7, 25]  # plus the scenario's own count
STEP_DAYS = [14, 7, 3, 1]  # plus the scenario's own step_days
REPLICATES = [50, 200, 1000]
QUICK_REPLICATES = [4, 16]


class Failure(Exception):
    """An error to report without a traceback."""


# ---------------------------------------------------------------------------
# Scenario variants


def round_half_up(x):
    return int(math.floor(x + 0.5))


def roman(n):
    out = ""
    for value, digits in [(10, "X"), (9, "IX"), (5, "V"), (4, "IV"), (1, "I")]:
        while n >= value:
            out += digits
            n -= value
    return out


def synthetic_total(labs):
    return sum(int(v) for lab in labs for v in (lab.get("headcount") or {}).values())


def fmt_factor(x):
    return f"{x:g}"


def scale_researchers(doc, factor):
    """Every lab's headcount (every tier) and capacity x factor."""
    for lab in doc["labs"]:
        hc = lab.get("headcount") or {}
        for tier, v in hc.items():
            hc[tier] = round_half_up(int(v) * factor)
        if lab.get("capacity") is not None:
            lab["capacity"] = round_half_up(int(lab["capacity"]) * factor)
    return f"every lab's headcount and capacity x{fmt_factor(factor)}"


def drop_lab_references(doc, removed, last_name):
    """Drops events and questions about removed labs; moves named researchers to the last lab."""
    moved = []
    for r in doc.get("researchers") or []:
        if r.get("lab") in removed:
            r["lab"] = last_name
            moved.append(r["name"])

    def keep(item):
        if item.get("lab") in removed:
            return False
        if "from" in item and item["from"] is not None:
            sources = [lab for lab in item["from"] if lab not in removed]
            if not sources:  # an empty list would mean something else (or nothing)
                return False
            item["from"] = sources
        return True

    counts = {}
    for key in ("events", "questions"):
        items = doc.get(key) or []
        kept = [item for item in items if keep(item)]
        counts[key] = (len(items) - len(kept), len(items))
        if key in doc:
            doc[key] = kept
    return moved, counts


def apportion(values, total):
    """Rounds non-negative reals to integers summing to `total` (largest remainder)."""
    floors = [int(math.floor(v)) for v in values]
    rest = total - sum(floors)
    order = sorted(range(len(values)), key=lambda i: floors[i] - values[i])
    for i in order[: max(rest, 0)]:
        floors[i] += 1
    return floors


def fewer_labs(doc, count):
    labs = doc["labs"]
    last = labs[-1]
    kept = labs[: count - 1] + [last]
    removed = {lab["name"] for lab in labs[count - 1 : -1]}
    before, after = synthetic_total(labs), synthetic_total(kept)
    if after == 0:
        raise Failure(f"cannot keep {count} labs: the kept labs have no synthetic researchers")
    factor = before / after
    cells = [(lab, tier) for lab in kept for tier in (lab.get("headcount") or {})]
    scaled = apportion([int(lab["headcount"][tier]) * factor for lab, tier in cells], before)
    for (lab, tier), v in zip(cells, scaled):
        lab["headcount"][tier] = v
    for lab in kept:
        if lab.get("capacity") is not None:
            lab["capacity"] = int(math.ceil(int(lab["capacity"]) * factor))
    doc["labs"] = kept
    moved, counts = drop_lab_references(doc, removed, last["name"])
    note = (
        f"kept {', '.join(lab['name'] for lab in kept)}; headcounts and capacities "
        f"x{factor:.3f}; dropped {counts['events'][0]} of {counts['events'][1]} events and "
        f"{counts['questions'][0]} of {counts['questions'][1]} questions"
    )
    if moved:
        note += f"; {', '.join(moved)} start in {last['name']}"
    return note


def split_counts(total, parts, ceil=False):
    if ceil:
        return [int(math.ceil(total / parts))] * parts
    q, r = divmod(total, parts)
    return [q + (1 if i < r else 0) for i in range(parts)]


def more_labs(doc, count):
    labs = doc["labs"]
    base, last = labs[:-1], labs[-1]
    candidates = [lab for lab in base if lab.get("open", True) is not False]
    if not candidates:
        raise Failure("cannot add labs: no open lab to copy")
    names = {lab["name"] for lab in labs}
    groups = {lab["name"]: [lab] for lab in candidates}
    copies = []
    for k in range(count - len(labs)):
        original = candidates[k % len(candidates)]
        clone = copy.deepcopy(original)
        clone["name"] = f"{original['name']} {roman(k // len(candidates) + 2)}"
        if clone["name"] in names:
            raise Failure(f"cannot add lab {clone['name']!r}: the scenario already has one")
        names.add(clone["name"])
        groups[original["name"]].append(clone)
        copies.append(clone)
    for group in groups.values():
        if len(group) == 1:
            continue
        for tier, v in (group[0].get("headcount") or {}).items():
            for lab, part in zip(group, split_counts(int(v), len(group))):
                lab["headcount"][tier] = part
        if group[0].get("capacity") is not None:
            for lab, part in zip(group, split_counts(int(group[0]["capacity"]), len(group), True)):
                lab["capacity"] = part
    doc["labs"] = base + copies + [last]
    return (
        f"added {', '.join(c['name'] for c in copies)} (copies of open labs, sharing their "
        f"original's headcount and capacity)"
    )


def set_step_days(doc, days):
    doc["step_days"] = days
    return f"step_days {days}"


def write_variant(doc, path, source, note):
    header = (
        f"# Generated by scripts/bench-scaling.py from {source}: {note}.\n"
        "# A benchmark variant, not a forecast; removed when the script ends.\n"
    )
    text = yaml.safe_dump(doc, sort_keys=False, allow_unicode=True, width=100)
    path.write_text(header + text, encoding="utf-8")


# ---------------------------------------------------------------------------
# Running talentsim


class Runner:
    def __init__(self, binary, tmpdir):
        self.binary = binary
        self.env = dict(os.environ, TMPDIR=str(tmpdir))  # bench's own temporary files go here too

    def wait_for_binary(self):
        deadline = time.monotonic() + BINARY_WAIT_SECONDS
        announced = False
        while not (self.binary.is_file() and os.access(self.binary, os.X_OK)):
            if time.monotonic() > deadline:
                raise Failure(
                    f"{self.binary} is missing (waited {BINARY_WAIT_SECONDS} s); build the "
                    "release preset or pass --binary"
                )
            if not announced:
                print(f"bench-scaling: waiting for {self.binary} to appear ...", file=sys.stderr)
                announced = True
            time.sleep(5)

    def run(self, args):
        """Runs talentsim with args in its own process group; returns (rc, stdout, stderr)."""
        self.wait_for_binary()
        proc = subprocess.Popen(
            [str(self.binary), *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=REPO,
            env=self.env,
            start_new_session=True,
        )
        try:
            out, err = proc.communicate()
        except BaseException:
            try:
                os.killpg(proc.pid, signal.SIGTERM)
                proc.wait(timeout=10)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                proc.wait()
            raise
        return proc.returncode, out, err

    def validate(self, path, label):
        rc, out, err = self.run(["validate", str(path)])
        if rc != 0:
            raise Failure(
                f"variant {label} ({path.name}) does not validate (talentsim validate exit {rc}):\n"
                + (out + err).rstrip()
            )

    def bench(self, path, replicates, repeat, json_path):
        args = [
            "bench", str(path), "--threads-list", "1", "-r", str(replicates),
            "--repeat", str(repeat), "--rss-replicates", str(RSS_REPLICATES),
            "--json", str(json_path),
        ]
        rc, out, err = self.run(args)
        if rc != 0:
            raise Failure(
                f"talentsim {shlex.join(args)} failed (exit {rc}):\n" + (out + err).rstrip()
            )
        with open(json_path, encoding="utf-8") as f:
            return json.load(f)


# ---------------------------------------------------------------------------
# Formatting


def fmt_seconds(s):
    if s >= 1:
        return f"{s:.3g} s" if s < 100 else f"{s:.0f} s"
    if s >= 1e-3:
        return f"{s * 1e3:.3g} ms"
    return f"{s * 1e6:.3g} µs"


def fmt_spread(sp):
    return f"{fmt_seconds(sp['median'])} ({fmt_seconds(sp['min'])} – {fmt_seconds(sp['max'])})"


def fmt_int(x):
    return f"{round_half_up(x):,}"


def compute_row(data):
    rows = [r for r in data["compute"] if r["threads"] == 1]
    if not rows:
        raise Failure("bench JSON has no single-threaded compute row")
    return rows[0]


def machine_lines(data):
    m = data["machine"]
    return [
        f"machine: {m['cpu_model']}; {m['logical_cpus']} logical CPUs ({m['available_cpus']} "
        f"available to this process); {m['memory_bytes'] / 2**30:.1f} GiB memory; {m['kernel']}",
        f"build: talentsim {m['talentsim_version']} (commit {m['git_commit']}), {m['compiler']}, "
        f"{m['build']}",
    ]


def table(axis, points):
    head = [axis["column"], "researchers", "labs", "steps"]
    if axis["key"] == "replicates":
        head.append("wall s per measurement, median (min – max)")
    head += ["s/replicate, median (min – max)", "ns per researcher-step", "decisions per replicate"]
    align = ["---:"] * 4 + ["---"] * (len(head) - 6) + ["---:"] * 2
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join(align) + "|"]
    for p in points:
        sc, row = p["data"]["scenario"], compute_row(p["data"])
        cells = [p["label"], f"{sc['population']:,}", str(sc["labs"]), str(sc["steps"])]
        if axis["key"] == "replicates":
            cells.append(fmt_spread(row["wall_seconds"]))
        cells += [
            fmt_spread(row["seconds_per_replicate"]),
            f"{1e9 / row['researcher_steps_per_second']['median']:.2f}",
            fmt_int(row["market_decisions_per_replicate"]),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    notes = [f"- {p['label']}: {p['note']}" for p in points if p.get("note")]
    if axis["key"] != "labs":  # the title says it all
        notes = []
    return lines, notes


# ---------------------------------------------------------------------------


def parse_args(argv):
    ap = argparse.ArgumentParser(
        description="Measure how talentsim's single-threaded run time grows with researchers, "
        "labs, steps and replicates.",
        epilog="See the docstring at the top of this file for how each variant is made.",
    )
    ap.add_argument("scenario", nargs="?", default=str(DEFAULT_SCENARIO),
                    help="scenario to vary (default: scenarios/bench/frontier_25k.yaml)")
    ap.add_argument("--binary", default=str(DEFAULT_BINARY),
                    help="talentsim binary (default: build/release/sim/talentsim in the repository)")
    ap.add_argument("-r", "--replicates", type=int, default=None,
                    help="replicates per timed measurement for the researchers, labs and steps "
                    "axes (default: 20; --quick: 4)")
    ap.add_argument("--repeat", type=int, default=None,
                    help="rounds per point; figures are median and min-max (default: 3; --quick: 1)")
    ap.add_argument("--quick", action="store_true",
                    help="smoke check: -r 4, --repeat 1, two points per axis")
    ap.add_argument("--markdown", metavar="FILE", help="also write the tables to FILE")
    a = ap.parse_args(argv)
    if a.replicates is None:
        a.replicates = 4 if a.quick else 20
    if a.repeat is None:
        a.repeat = 1 if a.quick else 3
    if a.replicates < 1 or a.repeat < 1:
        ap.error("-r and --repeat must be at least 1")
    return a


def plan(doc, source, quick):
    """Returns the axes, each with its points (label, note, transform or None for the original)."""
    n_labs = len(doc["labs"])
    step_days = int(doc.get("step_days", 1))

    def pick(points):
        return [points[0], points[-1]] if quick and len(points) > 2 else points

    researchers = [
        dict(value=f, label=f"x{fmt_factor(f)}",
             transform=None if f == 1 else (lambda d, f=f: scale_researchers(d, f)))
        for f in RESEARCHER_SCALES
    ]
    lab_counts = sorted({c for c in LAB_COUNTS if c >= 2} | {n_labs})
    labs = []
    for c in lab_counts:
        if c == n_labs:
            t = None
        elif c < n_labs:
            t = lambda d, c=c: fewer_labs(d, c)
        else:
            t = lambda d, c=c: more_labs(d, c)
        labs.append(dict(value=c, label=f"{c}" + (" (original)" if c == n_labs else ""),
                         transform=t))
    steps = [
        dict(value=d, label=f"{d}" + (" (original)" if d == step_days else ""),
             transform=None if d == step_days else (lambda doc, d=d: set_step_days(doc, d)))
        for d in sorted(set(STEP_DAYS) | {step_days}, reverse=True)
    ]
    replicates = [dict(value=r, label=str(r), transform=None, replicates=r)
                  for r in (QUICK_REPLICATES if quick else REPLICATES)]
    axes = [
        dict(key="researchers", title="Researchers: every lab's headcount (every tier) and "
             "capacity scaled; named researchers unchanged", column="headcount scale",
             all=researchers, run=pick(researchers)),
        dict(key="labs", title="Labs: the same synthetic researchers over more or fewer labs",
             column="labs asked (L)", all=labs, run=pick(labs)),
        dict(key="steps", title=f"Steps: the same calendar span ({doc['start']} to {doc['end']}, "
             "end exclusive) with shorter or longer steps", column="step_days",
             all=steps, run=pick(steps)),
        dict(key="replicates", title="Replicates: the original scenario at more replicates per "
             "measurement", column="replicates (-r)", all=replicates, run=replicates),
    ]
    return axes


def main(argv):
    a = parse_args(argv)
    command = shlex.join([sys.executable, *sys.argv])
    source = Path(a.scenario)
    if not source.is_file():
        raise Failure(f"scenario {a.scenario} not found")
    try:
        shown_source = source.resolve().relative_to(REPO)
    except ValueError:
        shown_source = source
    doc0 = yaml.safe_load(source.read_text(encoding="utf-8"))
    if not isinstance(doc0, dict) or not doc0.get("labs"):
        raise Failure(f"{source} does not look like a talentsim scenario (no labs)")
    binary = Path(a.binary)
    if not binary.is_absolute():
        binary = Path.cwd() / binary
    axes = plan(doc0, shown_source, a.quick)

    tmpdir = Path(tempfile.mkdtemp(prefix="bench-scaling-"))
    try:
        runner = Runner(binary, tmpdir)
        # Write and validate every variant of the full run first: a bad one fails in seconds.
        runner.validate(source.resolve(), "original")
        for axis in axes:
            for p in axis["all"]:
                p["path"] = source.resolve()
                p["note"] = ""
                if p["transform"] is None:
                    continue
                doc = copy.deepcopy(doc0)
                p["note"] = p["transform"](doc)
                slug = f"{axis['key']}_{p['label'].split()[0]}".replace(".", "p")
                doc["name"] = f"{doc0.get('name', 'scenario')}_{slug}"
                doc["description"] = (
                    f"bench-scaling variant of {doc0.get('name', source.name)}: {p['note']}."
                )
                p["path"] = tmpdir / f"{slug}.yaml"
                write_variant(doc, p["path"], shown_source, p["note"])
                runner.validate(p["path"], f"{axis['key']} {p['label']}")
        total = sum(len(axis["run"]) for axis in axes)
        files = sum(1 for x in axes for p in x["all"] if p["transform"] is not None)
        print(f"bench-scaling: the scenario and {files} variant files are valid; timing "
              f"{total} points (-r {a.replicates}, --repeat {a.repeat}, 1 thread)", file=sys.stderr)

        done, loads, builds, first = 0, [], set(), None
        for axis in axes:
            for p in axis["run"]:
                done += 1
                r = p.get("replicates", a.replicates)
                started = time.monotonic()
                data = runner.bench(p["path"], r, a.repeat, tmpdir / f"bench_{done}.json")
                p["data"] = data
                first = first or data
                loads.append(data["machine"]["load_average"])
                builds.add((data["machine"]["git_commit"], data["machine"]["build"]))
                row, sc = compute_row(data), data["scenario"]
                print(
                    f"[{done}/{total}] {axis['key']} {p['label']}: {sc['population']:,} researchers, "
                    f"{sc['labs']} labs, {sc['steps']} steps, -r {r}: "
                    f"{fmt_seconds(row['seconds_per_replicate']['median'])}/replicate "
                    f"(load {data['machine']['load_average']:.2f}; "
                    f"{time.monotonic() - started:.0f} s)",
                    file=sys.stderr,
                )
    finally:
        shutil.rmtree(tmpdir, ignore_errors=True)

    # The scenario's own figures, from a point run on the original file.
    base = next(p["data"]["scenario"] for x in axes for p in x["run"] if p["transform"] is None)
    out = [
        f"# talentsim run-time scaling: {doc0.get('name', source.name)}",
        "",
        f"- command: `{command}`",
        f"- scenario: {shown_source} ({base['population']:,} researchers, {base['labs']} labs, "
        f"{base['steps']} steps of {base['step_days']} days from {doc0['start']})",
        *[f"- {line}" for line in machine_lines(first)],
        f"- load: {first['machine']['load_average']:.2f} (1-minute load average at the first bench; "
        f"{min(loads):.2f} – {max(loads):.2f} over all {len(loads)}; other work on the machine skews "
        "the timings)",
        f"- each point: `talentsim bench VARIANT --threads-list 1 -r R --repeat {a.repeat} "
        f"--rss-replicates {RSS_REPLICATES} --json OUT` with R = {a.replicates} (the replicates "
        "axis: R as shown); s/replicate is compute only on one thread, median (min – max) over "
        f"the {a.repeat} round{'s' if a.repeat != 1 else ''}; ns per researcher-step = "
        "1e9 / median researcher-steps/s; decisions: market decisions per replicate",
    ]
    if a.quick:
        out.append("- --quick: a smoke check, two points per axis and one round: not for comparison")
    if len(builds) > 1:
        out.append(f"- WARNING: the binary changed during the run: {sorted(builds)}")
    for axis in axes:
        lines, notes = table(axis, axis["run"])
        out += ["", f"## {axis['title']}", "", *lines]
        if notes:
            out += ["", *notes]
    text = "\n".join(out) + "\n"
    print(text, end="")
    if a.markdown:
        Path(a.markdown).write_text(text, encoding="utf-8")
    return 0


def _terminate(signum, _frame):
    raise SystemExit(128 + signum)


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, _terminate)
    signal.signal(signal.SIGHUP, _terminate)
    try:
        sys.exit(main(sys.argv[1:]))
    except Failure as e:
        print(f"bench-scaling: error: {e}", file=sys.stderr)
        sys.exit(1)
    except KeyboardInterrupt:
        print("bench-scaling: interrupted", file=sys.stderr)
        sys.exit(130)
