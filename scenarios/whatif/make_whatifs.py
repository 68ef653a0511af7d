#!/usr/bin/python3
"""Regenerate the what-if scenarios in this directory from ../brief_2026.yaml.

YAML has no includes, so each what-if is a full copy of brief_2026.yaml with
ONE change. This script makes the copies, so that `diff ../brief_2026.yaml
<file>.yaml` shows only: the header comment (the brief's own header, above
the "shared market definition" line, is replaced), `name`, `description`,
and the lines of the change. Edit brief_2026.yaml, then run

    python3 scenarios/whatif/make_whatifs.py

Each change is a list of (anchor, text) pairs: `text` is inserted right
after the line `anchor` (which must occur exactly once in the brief).
"""

from pathlib import Path

HERE = Path(__file__).resolve().parent
BRIEF = HERE.parent / "brief_2026.yaml"

SHARED = "# ---- shared market definition"
LAST_LAB_LINE = "    attrition: 0.3\n"  # the last line of the last lab (Outside)
LAST_NAMED_LINE = (
    "  - {name: Andrej Karpathy, tier: star, reputation: 200}  # judgment: among the best-known"
    " researchers in the field, beyond the synthetic stars' range\n"
)
LAST_EVENT_LINE = "  - {date: 2026-05-20, type: raise, lab: Anthropic, amount: 950B}\n"

RUN = "#   talentsim compare scenarios/brief_2026.yaml scenarios/whatif/{file}"

WHATIFS = [
    dict(
        file="openai_star_pay.yaml",
        name="whatif_openai_star_pay",
        header="""\
# talentsim what-if whatif_openai_star_pay: OpenAI answers Anthropic's raise
# with +30% pay for its stars.
#
# = brief_2026.yaml with ONE change: a `comp` event on 2026-06-01 multiplies
# OpenAI's star-tier pay by 1.3 (the first weekly step after the brief's
# news is 2026-05-21..05-27; 06-01 falls in the next, 05-28..06-03).
# Everything else, the questions included, is a copy of brief_2026.yaml
# made by make_whatifs.py (`diff` the two files to see the change).
#
# Sizes: OpenAI's star pay is $3M (FACTS L4, above L7) x1.12 after its March
# raise (L12) = $3.36M; the brief's Anthropic raise lifts Anthropic's $2.8M to
# x1.42 = $3.98M. x1.3 puts OpenAI at $4.37M, back ~10% above Anthropic. 30%
# is judgment: of the order of the 20%+ raises that won Microsoft AI its
# DeepMind hires (L9), short of Meta's "several times" offers (L7). Stars
# only: the press stories (L7, L9) are about the few dozen people per lab
# whom rivals name. A counter-move to the flow of C2 (8.2 OpenAI -> Anthropic
# moves per move back).
#
# Run:
""" + RUN + "\n#\n",
        description="""\
description: >-
  What-if on brief_2026: OpenAI raises star-tier pay by 30% on 2026-06-01, right
  after Anthropic's "$950B" raise, to stop the flow of its stars to Anthropic.
  Otherwise identical to brief_2026. Market parameters are calibrated to FACTS C1 and C2.
""",
        inserts=[(LAST_EVENT_LINE, """\
  # ---- what-if (the one change from brief_2026): OpenAI's counter-offer to Anthropic's raise.
  # judgment: x1.3 on stars only (L9: 20%+ raises win stars; L7); $3.36M -> $4.37M vs Anthropic's $3.98M
  - {date: 2026-06-01, type: comp, lab: OpenAI, factor: 1.3, tiers: [star]}
""")],
    ),
    dict(
        file="meta_raid.yaml",
        name="whatif_meta_raid",
        header="""\
# talentsim what-if whatif_meta_raid: a Meta-style raid on the frontier labs'
# top researchers in July 2026.
#
# = brief_2026.yaml with ONE change: a `poach` event by Meta on 2026-07-01
# (step 2026-06-25..07-01). Everything else, the questions included, is a
# copy of brief_2026.yaml made by make_whatifs.py (`diff` the two files).
#
# Model (MODEL.md 5): the `count` highest-reputation researchers of the
# listed tiers and source labs are all on the market that step, and Meta's
# pay in their choice is multiplied by `offer_factor`. They still choose
# freely among all open labs, so a raid also shuffles some targets between
# the rivals it raids, and most stay put.
#
# Sizes (FACTS L7, Meta Superintelligence Labs, Jun-Oct 2025):
# - count 50: L7 reports 11 named hires at launch (7 of the first 10 from
#   OpenAI) and > 20 OpenAI staff hired over 2025, but also refusals (0 of
#   > 12 approached at Thinking Machines accepted at first): Meta approached
#   several times as many as it hired. In trial runs of this file about 1 in
#   6 targets accepts (~8.7 star hires for Meta in the raid's week, against
#   ~0.1 without it; ~20 of the 50 targets leave their lab, most of the rest
#   to other rivals), the order of L7's launch cohort; with count 20 Meta
#   lands only ~3. The model splits Meta's gain about evenly between the
#   three sources (~30% from OpenAI), not L7's 7 in 10: the ranking is by
#   reputation alone and knows nothing of OpenAI's particular exposure.
# - offer_factor 3: L7's offers run from "$2M+/yr common" to "up to $300M
#   over 4 years" ($75M/yr) for a few. Meta's star pay in the market table
#   is already $6M (2x OpenAI's, from L7), so x3 = $18M/yr, ~5x OpenAI's
#   post-raise $3.36M: "several times market pay", between L7's typical and
#   top offers (judgment).
# - tiers [senior, star]: L7's "top researchers"; the ranking is by
#   reputation, so in practice all 50 targets are stars (the best seniors
#   rank below the median star).
# - from [OpenAI, Anthropic, Google DeepMind]: OpenAI is L7's main source (7
#   of the first 10); the other two frontier labs hold the rest of the
#   market's top stars and are the destinations in the brief's questions.
#   Left out: xAI, Microsoft AI, Mistral and the outside pool (few stars),
#   Thinking Machines and SSI (L7: 0 of > 12 at Thinking Machines accepted).
#   The brief's named stars (Izmailov, Madry, Karpathy; at Anthropic by July)
#   are among the highest-reputation researchers, so they are always targeted.
# - Meta's attrition 1.3 (baseline, L8: several MSL hires back at OpenAI
#   within a month) applies to the raid's hires as to everyone at Meta.
#
# Run:
""" + RUN + "\n#\n",
        description="""\
description: >-
  What-if on brief_2026: on 2026-07-01 Meta puts the 50 highest-reputation
  researchers of OpenAI, Anthropic and Google DeepMind on the market with
  offers at 3x its own (already top) pay, after FACTS L7. Otherwise identical
  to brief_2026. Market parameters are calibrated to FACTS C1 and C2.
""",
        inserts=[(LAST_EVENT_LINE, """\
  # ---- what-if (the one change from brief_2026): a Meta-style raid (L7; sizes in the header)
  - {date: 2026-07-01, type: poach, lab: Meta, count: 50, offer_factor: 3, tiers: [senior, star], from: [OpenAI, Anthropic, Google DeepMind]}
""")],
    ),
    dict(
        file="star_leaves_anthropic.yaml",
        name="whatif_star_leaves_anthropic",
        header="""\
# talentsim what-if whatif_star_leaves_anthropic: Anthropic's headline star
# leaves a year after joining.
#
# = brief_2026.yaml with ONE change: Andrej Karpathy, who joins Anthropic on
# 2026-05-19 (step 2026-05-14..05-20), moves to the Outside pool on
# 2027-05-18, exactly 52 weekly steps later (step 2027-05-13..05-19).
# Everything else, the questions included, is a copy of brief_2026.yaml made
# by make_whatifs.py (`diff` the two files to see the change).
#
# Destination (judgment): the Outside pool, i.e. a start-up of his own again,
# the place the brief says he came from (his record is of leaving labs for
# his own projects), rather than a rival lab; a move to a rival would mix
# this what-if with a second one (that rival's gain).
# Plausibility: C1 gives Anthropic the best two-year retention of hires (80%),
# i.e. one hire in five gone within two years, so a one-year departure is
# ordinary; L8 shows high-profile hires leaving within weeks. What the model
# carries from it: Anthropic's star power and star mass drop by his
# reputation (200, ~12% of Anthropic's star mass at the time), so its
# star_magnet pull (M2) and its share weaken. He started nowhere in the brief,
# so he has no network ties and no followers (MODEL.md 3): the follow and
# peer effects of a departing star (M1, M3, M4) do not apply to him here.
# The market may also move him again afterwards, as in the brief.
#
# Run:
""" + RUN + "\n#\n",
        description="""\
description: >-
  What-if on brief_2026: Andrej Karpathy leaves Anthropic for a start-up of his
  own (the Outside pool) on 2027-05-18, a year after joining. Otherwise
  identical to brief_2026. Market parameters are calibrated to FACTS C1 and C2.
""",
        inserts=[(LAST_EVENT_LINE, """\
  # ---- what-if (the one change from brief_2026): Karpathy leaves a year after joining (C1, L8;
  # judgment: to his own start-up again, the outside pool)
  - {date: 2027-05-18, type: move, researcher: Andrej Karpathy, lab: Outside}
""")],
    ),
    dict(
        file="openai_spinout.yaml",
        name="whatif_openai_spinout",
        header="""\
# talentsim what-if whatif_openai_spinout: departing OpenAI researchers found
# a new lab in September 2026.
#
# = brief_2026.yaml with ONE change, in three parts: a new lab `OpenAI
# Spinout` (declared closed, empty), three named HYPOTHETICAL founders who
# start at OpenAI (Spinout Founder A, B, C: placeholders, not real people),
# and a `found` event on 2026-09-01 (step 2026-08-27..09-02) that opens the
# lab and moves them in. Everything else, the questions included, is a copy
# of brief_2026.yaml made by make_whatifs.py (`diff` the two files).
#
# FACTS: L11 (Thinking Machines, about two-thirds of early staff ex-OpenAI;
# SSI, $2B at $32B), L3 (their sizes: ~30-100 and ~24 staff). The lab's
# parameters copy the two existing spin-outs in the market table (judgment
# comments on each line). The founders are OpenAI's, so the spin-out draws
# OpenAI colleagues through the network (peer_magnet, follow_prob: the L11
# pattern) more than the rest of the market; the results' `flows` show how
# much of its staff comes from OpenAI. NB in trial runs (40 replicates) it
# fills its 60 places within about a year, but only ~1 hire in 6 comes from
# OpenAI, far from L11's two-thirds: with the network parameters (judgment;
# calibration fitted C1/C2, not the network) the pull of departing founders
# on their colleagues is weak. (Trial figures from before the calibration.)
# That is a finding about the model, left visible here, not tuned away.
#
# NB the population differs from the brief's: OpenAI starts with 2 more
# stars and 1 more senior (the founders), and the network ties are drawn
# over a larger population. `compare` keys researchers by name and labs by
# name (the new lab is last, so the others keep their indices), but common
# random numbers are less tight than in the single-event what-ifs.
#
# Run:
""" + RUN + "\n#\n",
        description="""\
description: >-
  What-if on brief_2026: three hypothetical OpenAI researchers (two stars, one
  senior) found "OpenAI Spinout" on 2026-09-01, after Thinking Machines and SSI
  (FACTS L11). Otherwise identical to brief_2026, except that the founders add
  three researchers to OpenAI's starting population. Market parameters are
  calibrated to FACTS C1 and C2.
""",
        inserts=[
            (LAST_LAB_LINE, """\
  # ---- what-if (part 1 of the one change from brief_2026): the spin-out, closed until founded
  - name: OpenAI Spinout
    # no headcount: it starts empty; the founders arrive with the `found` event
    # judgment: hiring ceiling ~ research staff of Thinking Machines (~60) and SSI (~20) one to
    # two years after founding (L3). The logit ignores lab size, so without a ceiling a new lab
    # would hire as fast as OpenAI (see Thinking Machines' capacity above)
    capacity: 60
    comp: {junior: 600K, senior: "$1.2M", star: 3M}   # judgment: as Thinking Machines and SSI: start-up equity at a high valuation (L11: SSI at $32B), ~OpenAI's levels
    funding: 0           # no raise event, so F(0) does not matter
    prestige: 0.7        # judgment: as Thinking Machines and SSI: founded by known ex-OpenAI researchers, no results yet
    mission: 0.7         # judgment: spin-outs state the purpose their founders missed at the parent; between Thinking Machines (0.6) and SSI (0.9), above OpenAI (0.5)
    openness: 0.5        # judgment: between Thinking Machines (0.6, publishes) and SSI (0.05), above OpenAI (0.2)
    open: false          # in no one's choice set until the `found` event
"""),
            (LAST_NAMED_LINE, """\
  # ---- what-if (part 2): the spin-out's founders, HYPOTHETICAL placeholders (not real people),
  # at OpenAI from the start. Reputation is judgment: a founder others follow is near the top of
  # the star range (median 25, 99th percentile ~100); the senior is at the top of the senior range
  # (median 4, 99th percentile ~13)
  - {name: Spinout Founder A, tier: star, lab: OpenAI, reputation: 80}     # judgment: ~97th percentile of stars
  - {name: Spinout Founder B, tier: star, lab: OpenAI, reputation: 50}     # judgment: ~87th percentile of stars
  - {name: Spinout Founder C, tier: senior, lab: OpenAI, reputation: 12}   # judgment: ~99th percentile of seniors
"""),
            (LAST_EVENT_LINE, """\
  # ---- what-if (part 3): the founding (L11: Thinking Machines, SSI); day approximate
  - {date: 2026-09-01, type: found, lab: OpenAI Spinout, founders: [Spinout Founder A, Spinout Founder B, Spinout Founder C]}
"""),
        ],
    ),
]


def make(brief: str, w: dict) -> str:
    cut = brief.index(SHARED)
    text = w["header"] + brief[cut:]
    # name and description: replace the lines from `name:` up to `start:`
    a = text.index("\nname: brief_2026\n") + 1
    b = text.index("\nstart: ", a) + 1
    text = text[:a] + f"name: {w['name']}\n" + w["description"] + text[b:]
    for anchor, insert in w["inserts"]:
        assert text.count(anchor) == 1, f"{w['file']}: anchor not unique: {anchor!r}"
        i = text.index(anchor) + len(anchor)
        text = text[:i] + insert + text[i:]
    return text


def main() -> None:
    brief = BRIEF.read_text()
    for w in WHATIFS:
        w["header"] = w["header"].replace("{file}", w["file"])
        (HERE / w["file"]).write_text(make(brief, w))
        print("wrote", HERE / w["file"])


if __name__ == "__main__":
    main()
