#!/usr/bin/python3
"""Run the engine on a scenario and read its results file back with xarray.

usage: check_engine_output.py TALENTSIM SCENARIO WORKDIR

This is what an analyst does: `xarray.open_dataset(path)` on a real run.
Checks the dimension names of MODEL.md section 7, the labels, the decoded
dates, the provenance attributes, and the model's accounting identities
(stocks follow flows; researchers are conserved; the scripted move shows in
named_lab). Exit 0 on success, 1 with a message on any mismatch.
"""

import os
import subprocess
import sys

import numpy as np
import xarray as xr


def fail(message):
    print(f"FAIL: {message}", file=sys.stderr)
    sys.exit(1)


def main():
    binary, scenario, workdir = sys.argv[1:4]
    out = os.path.join(workdir, "engine_output.h5")
    os.makedirs(workdir, exist_ok=True)
    run = subprocess.run([binary, "run", scenario, "-r", "12", "--seed", "5", "-o", out,
                          "--force", "--quiet"], capture_output=True, text=True)
    if run.returncode != 0:
        fail(f"talentsim exited {run.returncode}: {run.stderr}")

    with xr.open_dataset(out) as ds:
        want_dims = {"replicate": 12, "time": 53, "lab": 4, "tier": 3, "named": 3,
                     "from_lab": 4, "to_lab": 4, "question": 7, "quantile": 5}
        if dict(ds.sizes) != want_dims:
            fail(f"dimensions {dict(ds.sizes)}, expected {want_dims}")
        dims = {
            "headcount": ("replicate", "time", "lab", "tier"),
            "hires": ("replicate", "time", "lab", "tier"),
            "departures": ("replicate", "time", "lab", "tier"),
            "star_power": ("replicate", "time", "lab"),
            "named_lab": ("replicate", "time", "named"),
            "flows": ("replicate", "from_lab", "to_lab", "tier"),
        }
        for name, d in dims.items():
            if ds[name].dims != d:
                fail(f"{name} has dims {ds[name].dims}, expected {d}")
        if list(ds.lab.values) != ["LabA", "LabB", "Outside", "SpinOut"]:
            fail(f"lab labels {list(ds.lab.values)}")
        if list(ds.tier.values) != ["junior", "senior", "star"]:
            fail(f"tier labels {list(ds.tier.values)}")
        if list(ds.named.values) != ["Star One", "Star Two", "Star Three"]:
            fail(f"named labels {list(ds.named.values)}")
        times = ds.time.values
        if times.dtype.kind != "M" or str(times[0])[:10] != "2026-01-01":
            fail(f"time not decoded to dates from 2026-01-01: {times[:2]}")
        if not (np.diff(times) == np.timedelta64(7, "D")).all():
            fail("time steps are not 7 days apart")
        with open(scenario, encoding="utf-8") as f:
            if ds.attrs["scenario"] != f.read():
                fail("the scenario attribute is not the file as run")
        if int(ds.attrs["seed"]) != 5 or int(ds.attrs["replicates"]) != 12:
            fail(f"seed/replicates attributes {ds.attrs['seed']}, {ds.attrs['replicates']}")
        for key in ("software_version", "file_format_version", "git_commit", "created",
                    "command_line"):
            if key not in ds.attrs:
                fail(f"root attribute {key} is missing")

        # Stocks follow flows: headcount(t) - headcount(t-1) = hires(t) - departures(t).
        change = ds.headcount.diff("time")
        net = (ds.hires - ds.departures).isel(time=slice(1, None))
        if not (change.values == net.values).all():
            fail("headcount changes do not equal hires - departures")
        # Conservation: everyone is in a lab or (named only) nowhere.
        in_labs = ds.headcount.sum(["lab", "tier"])
        nowhere = (ds.named_lab < 0).sum("named")
        total = in_labs + nowhere
        if not (total == total.isel(time=0)).all():
            fail("the number of researchers changes over time")
        # Between-lab flows are a subset of hires (arrivals from nowhere are not flows).
        if (ds.flows.sum(["from_lab", "to_lab", "tier"]) > ds.hires.sum(["time", "lab", "tier"])).any():
            fail("more flows than hires")
        # The scripted move: Star One is at LabB from the step containing 2026-02-01.
        at = ds.named_lab.sel(named="Star One", time="2026-01-29").values
        if not (at == 1).all():
            fail(f"Star One not at LabB (index 1) after the move event: {at}")
        # Questions: ids and bounds as in the file; named_at values are 0 or 1.
        ids = ["labb_star_hires", "laba_from_labb", "labb_departures", "labb_net",
               "spinout_size", "labb_share", "two_at_spinout"]
        if list(ds.question.values) != ids:
            fail(f"question ids {list(ds.question.values)}")
        if ds.question_value.dims != ("replicate", "question"):
            fail(f"question_value dims {ds.question_value.dims}")
        if float(ds.question_at_least.sel(question="labb_star_hires")) != 2.0 or \
                not np.isnan(float(ds.question_at_most.sel(question="labb_star_hires"))):
            fail("question bounds not stored")
        if not set(np.unique(ds.question_value.sel(question="two_at_spinout").values)) <= {0.0, 1.0}:
            fail("named_at values other than 0 and 1")
        # The share question reads the same state as star_power.
        final_share = (ds.star_power / ds.star_power.sum("lab")).sel(lab="LabB").isel(time=-1)
        if not np.allclose(final_share.values, ds.question_value.sel(question="labb_share").values):
            fail("labb_share differs from star_power at the end")
        # Fan-chart summaries: exact percentiles across replicates.
        q = ds["quantile"].values
        want = np.quantile(ds.headcount.sum("tier").values, q, axis=0)
        if not np.allclose(ds.total_headcount_quantiles.values, want, rtol=0, atol=1e-9):
            fail("total_headcount_quantiles differ from numpy's quantiles")
        share = (ds.star_power / ds.star_power.sum("lab")).values
        if not np.allclose(ds.share_quantiles.values, np.quantile(share, q, axis=0), atol=1e-12):
            fail("share_quantiles differ from numpy's quantiles")
        # Star power share is a proper share.
        share = ds.star_power / ds.star_power.sum("lab")
        if not np.allclose(share.sum("lab").values, 1.0):
            fail("star power shares do not sum to 1")
    print("ok: engine output reads back through xarray with labels, dates and identities")


if __name__ == "__main__":
    main()
