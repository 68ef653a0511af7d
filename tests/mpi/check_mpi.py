"""talentsim under mpirun: the files of P = 1, 2 and 3 ranks are those of a
single process bit for bit, and --resume finishes a job that lost a rank
or died whole.

    check_mpi.py CASE --binary B --mpirun M --source-dir S --work W
                 [--reference R]

B is the MPI build of talentsim; without mpirun it runs as one process,
which is the reference. R, when given and present, is the default build
(no MPI at all): its files must be the same too.

Cases: run, compare, sweep, calibrate (P = 1, 2, 3 against one process);
worker-killed, manager-killed, job-terminated (a 3-rank run stopped by
kill -9 of rank 1, kill -9 of rank 0, or SIGTERM to mpirun as a batch
system's time limit sends it; then --resume on 2 ranks).
bound: ranks that the launcher binds to one core each run one thread and
say so once per rank, naming the fix; unbound ranks say nothing; the files
are one process's either way.
"""
import argparse
import os
import pathlib
import shutil
import signal
import subprocess
import sys
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent / "python"))
import h5py  # noqa: E402
from same_h5 import compare as compare_h5  # noqa: E402

# Describe the invocation, not the results.
IGNORED = {"created", "command_line"}


def mpirun_prefix(mpirun, ranks):
    cmd = [mpirun, "-n", str(ranks)]
    version = subprocess.run([mpirun, "--version"], capture_output=True, text=True).stdout
    if "Open MPI" in version or "OpenRTE" in version or "open-mpi.org" in version:
        # More ranks than cores in CI; root in CI containers.
        cmd += ["--oversubscribe"]
        if os.geteuid() == 0:
            cmd += ["--allow-run-as-root"]
    return cmd


def run(cmd, cwd, expect=0):
    p = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=600)
    if expect is not None and p.returncode != expect:
        sys.exit(f"FAIL: {' '.join(map(str, cmd))} exited {p.returncode}, expected {expect}\n"
                 f"stdout:\n{p.stdout}\nstderr:\n{p.stderr}")
    return p


def same_files(a_dir, b_dir):
    """Every .h5 and .yaml in a_dir is in b_dir with the same content."""
    files = sorted(p for p in a_dir.rglob("*") if p.suffix in (".h5", ".yaml"))
    if not files:
        sys.exit(f"FAIL: {a_dir} holds no results")
    for a in files:
        b = b_dir / a.relative_to(a_dir)
        if not b.exists():
            sys.exit(f"FAIL: {b} is missing")
        if a.suffix == ".yaml":
            if a.read_bytes() != b.read_bytes():
                sys.exit(f"FAIL: {a} and {b} differ")
            continue
        with h5py.File(a, "r") as fa, h5py.File(b, "r") as fb:
            difference = compare_h5(fa, fb, IGNORED)
        if difference:
            sys.exit(f"FAIL: {a} and {b} differ: {difference}")
    return len(files)


def case_args(case, src):
    tests = src / "tests"
    return {
        # 70 replicates: two whole rows of 32 and a part row.
        "run": ["run", str(tests / "data/every_key.yaml"), "-r", "70", "-o", "out.h5"],
        "compare": ["compare", str(src / "scenarios/baseline_2026.yaml"),
                    str(src / "scenarios/whatif/openai_spinout.yaml"), "-r", "24", "-o", "out.h5"],
        "sweep": ["sweep", str(tests / "mpi/sweep.yaml"), "-o", "out.h5"],
        "calibrate": ["calibrate", str(tests / "mpi/calibration.yaml"), "-o",
                      "out.calibration.h5"],
    }[case]


def version(binary):
    return subprocess.run([binary, "--version"], capture_output=True, text=True).stdout.strip()


def check_identical(case, a):
    args = case_args(case, a.source_dir)
    base = a.work / case
    shutil.rmtree(base, ignore_errors=True)
    single = base / "single"
    single.mkdir(parents=True)
    run([a.binary, *args, "--quiet", "--threads", "2"], single)
    if a.reference and not pathlib.Path(a.reference).exists():
        print(f"{case}: note: no default build at {a.reference}; not compared with it")
    elif a.reference and version(a.reference) != version(a.binary):
        print(f"{case}: note: {a.reference} is {version(a.reference)}, not "
              f"{version(a.binary)}; not compared with it")
    elif a.reference:
        plain = base / "plain"
        plain.mkdir()
        run([a.reference, *args, "--quiet", "--threads", "2"], plain)
        same_files(single, plain)
        print(f"{case}: the default build's files are the same")
    for ranks in (1, 2, 3):
        d = base / f"ranks{ranks}"
        d.mkdir()
        run(mpirun_prefix(a.mpirun, ranks) + [a.binary, *args, "--quiet", "--threads", "1"], d)
        n = same_files(single, d)
        print(f"{case}: {ranks} rank(s): {n} file(s) identical to one process")


def rank_pids(marker):
    """pid of each rank whose command line contains `marker`, by rank."""
    out = {}
    for proc in pathlib.Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().split(b"\0")
            environ = (proc / "environ").read_bytes().split(b"\0")
        except OSError:
            continue
        if not any(marker.encode() in c for c in cmdline) or b"talentsim" not in cmdline[0]:
            continue
        for e in environ:
            if e.startswith(b"OMPI_COMM_WORLD_RANK="):
                out[int(e.split(b"=", 1)[1])] = int(proc.name)
    return out


def check_resume(case, a):
    base = a.work / case
    shutil.rmtree(base, ignore_errors=True)
    base.mkdir(parents=True)
    scenario = str(a.source_dir / "scenarios/bench/frontier_25k.yaml")
    dest = base / f"{case}.h5"  # the file name marks this job's processes
    # Open MPI's mpirun (4.1) passes a SIGTERM on to the ranks about 2 s
    # after it gets it, so that job must outlast 2 s by a wide margin: at
    # 8 ms per replicate, 256 replicates on 3 ranks finish first.
    replicates = "2048" if case == "job-terminated" else "256"
    args = ["run", scenario, "-r", replicates, "-o", str(dest), "--quiet", "--threads", "1"]
    reference = base / "reference"
    reference.mkdir()
    run([a.binary, *args[:-5], "-o", str(reference / "out.h5"), "--quiet", "--threads", "2"],
        reference)

    job = subprocess.Popen(mpirun_prefix(a.mpirun, 3) + [a.binary, *args], cwd=base,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    journal = pathlib.Path(str(dest) + ".partial")
    deadline = time.time() + 300
    # Wait for a finished row in the journal and all three ranks.
    while time.time() < deadline and job.poll() is None:
        if journal.is_dir() and any(journal.glob("run*.bin")) and len(rank_pids(dest.name)) == 3:
            break
        time.sleep(0.02)
    else:
        out, err = job.communicate()
        sys.exit(f"FAIL: the job ended (or never wrote a row) before it could be stopped\n{err}")
    ranks = rank_pids(dest.name)
    if case == "worker-killed":
        os.kill(ranks[1], signal.SIGKILL)
    elif case == "manager-killed":
        os.kill(ranks[0], signal.SIGKILL)
    else:
        job.send_signal(signal.SIGTERM)
    out, err = job.communicate(timeout=120)
    if job.returncode == 0:
        sys.exit(f"FAIL: the job survived its {case}\n{err}")
    # mpirun can return while its ranks are still being killed: wait for
    # them, as a batch system does before the next job.
    # (A zombie not yet reaped still counts: its pid is taken, so --resume
    # cannot tell that the temporary file it left is stale.)
    def alive():
        return [pid for pid in ranks.values() if pathlib.Path(f"/proc/{pid}").exists()]

    deadline = time.time() + 60
    while alive() and time.time() < deadline:
        time.sleep(0.05)
    if alive():
        sys.exit(f"FAIL: ranks outlived mpirun by a minute: {alive()}")
    if dest.exists():
        sys.exit(f"FAIL: a stopped job left {dest}")
    kept = len(list(journal.glob("run*.bin")))
    if kept == 0:
        sys.exit(f"FAIL: the journal kept nothing\n{err}")
    clean = "stopped by SIGTERM" in err
    if case == "job-terminated":
        # The workers wait while rank 0 stops cleanly: it says what it kept
        # and leaves no temporary file.
        if not clean:
            sys.exit(f"FAIL: rank 0 did not stop cleanly on SIGTERM\n{err}")
        left = list(base.glob(f"{dest.name}.tmp.*"))
        if left:
            sys.exit(f"FAIL: a clean stop left {left}")

    p = run(mpirun_prefix(a.mpirun, 2) + [a.binary, *args, "--resume"], base)
    if "resuming" not in p.stderr:
        sys.exit(f"FAIL: --resume did not reuse the journal\n{p.stderr}")
    if journal.exists():
        sys.exit("FAIL: the journal outlived the finished run")
    # A killed rank 0 leaves its temporary file; --resume removes it.
    left = list(base.glob(f"{dest.name}.tmp.*"))
    if left:
        sys.exit(f"FAIL: temporary files left behind: {left}")
    with h5py.File(reference / "out.h5", "r") as fa, h5py.File(dest, "r") as fb:
        difference = compare_h5(fa, fb, IGNORED)
    if difference:
        sys.exit(f"FAIL: the resumed file differs from one process's: {difference}")
    print(f"{case}: mpirun exit {job.returncode}, rank 0 "
          f"{'stopped cleanly' if clean else 'was killed'}, {kept} row(s) of 32 kept; --resume "
          "on 2 ranks finished it, identical to one process")


def check_bound(a):
    """Open MPI binds each of 2 ranks to one core: asked for 2 threads, a
    rank warns that it runs 1; left to use every core (no --threads), it
    notes how many it has; with --bind-to none it has them all and is silent."""
    if (os.cpu_count() or 1) < 2:
        print("bound: note: one core, so binding cannot restrict a rank; nothing to check")
        return
    if "--oversubscribe" not in mpirun_prefix(a.mpirun, 2):
        print("bound: note: not Open MPI's mpirun; its binding options differ; not checked")
        return
    base = a.work / "bound"
    shutil.rmtree(base, ignore_errors=True)
    single = base / "single"
    single.mkdir(parents=True)
    args = case_args("run", a.source_dir)
    run([a.binary, *args, "--quiet", "--threads", "2"], single)
    expected = {
        ("core", "2"): "warning: rank {r} may use only 1 of this machine's {n} cores (the MPI "
                       "launcher bound it), so it runs 1 thread, not 2; start mpirun with "
                       "--bind-to none, or srun with --cpus-per-task=2",
        ("core", None): "note: rank {r} uses 1 of this machine's {n} cores (the MPI launcher "
                       "bound it); for every core, start mpirun with --bind-to none, or srun "
                       "with --cpus-per-task",
        ("none", "2"): None,
    }
    cores = os.cpu_count()
    for (bind, threads), message in expected.items():
        d = base / f"bind-{bind}-threads-{threads or 'default'}"
        d.mkdir()
        asked = ["--threads", threads] if threads else []
        p = run(mpirun_prefix(a.mpirun, 2) + ["--bind-to", bind, a.binary, *args, "--quiet",
                                              *asked], d)
        said = [line for line in p.stderr.splitlines() if line.startswith("talentsim:")]
        want = [] if message is None else sorted(
            "talentsim: " + message.format(r=r, n=cores) for r in (0, 1))
        if sorted(said) != want:
            sys.exit(f"FAIL: --bind-to {bind} {' '.join(asked)}: expected\n"
                     + "\n".join(want or ["(nothing)"]) + "\nfound\n"
                     + "\n".join(said or ["(nothing)"]) + f"\nstderr:\n{p.stderr}")
        same_files(single, d)
        print(f"bound: --bind-to {bind} {' '.join(asked) or '(no --threads)'}: "
              f"{'said ' + str(len(said)) + ' line(s), one per rank' if said else 'silent'}; "
              "files identical to one process")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("case", choices=["run", "compare", "sweep", "calibrate", "worker-killed",
                                    "manager-killed", "job-terminated", "bound"])
    p.add_argument("--binary", required=True)
    p.add_argument("--mpirun", required=True)
    p.add_argument("--source-dir", required=True, type=pathlib.Path)
    p.add_argument("--work", required=True, type=pathlib.Path)
    p.add_argument("--reference")
    a = p.parse_args()
    a.binary = str(pathlib.Path(a.binary).resolve())
    a.source_dir = a.source_dir.resolve()
    a.work = a.work.resolve()
    if a.reference:
        a.reference = str(pathlib.Path(a.reference).resolve())
    if a.case in ("run", "compare", "sweep", "calibrate"):
        check_identical(a.case, a)
    elif a.case == "bound":
        check_bound(a)
    else:
        check_resume(a.case, a)
    return 0


if __name__ == "__main__":
    sys.exit(main())
