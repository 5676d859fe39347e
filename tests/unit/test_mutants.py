"""Mutation testing: the committed list of equivalent mutants (tests/mutants.json) matches the mutants
the tool generates now, every listed survivor has its reason, and a sample re-run agrees with it.

The full run is `make mutants` (a few minutes); this test re-runs a seeded sample for the covered
chapters: one killed and one listed equivalent mutant per chapter, drawn with a fixed seed (the design exercise 1.7,
which trains networks for each mutant, only in the full run).
"""

from __future__ import annotations

import json
import random

import pytest

from relucourse.tooling import mutants

DATA = json.loads(mutants.EQUIVALENTS.read_text())
SLOW = {"1.7", "4.5", "4.7"}   # `make mutants` only: every mutant trains networks (4.5: 15 runs, 4.7: 10)


def current():
    out = {}
    for nb in mutants.notebooks(DATA["chapters"]):
        for ex in mutants.exercises_of(nb)[1]:
            out[ex.id] = ex
    return out


def test_the_file_lists_every_exercise_of_the_covered_chapters_with_reasons():
    now = current()
    assert DATA["chapters"] and set(now) == {k for k in DATA["exercises"] if int(k.split(".")[0]) in DATA["chapters"]}
    for ex_id, entry in DATA["exercises"].items():
        assert entry["generated"] >= entry["killed"] + len(entry["equivalent"]) > 0, ex_id
        assert entry["generated"] == entry["killed"] + len(entry["equivalent"]), (
            f"{ex_id}: a surviving mutant is neither killed nor listed as equivalent")
        for e in entry["equivalent"]:
            assert len(e["reason"]) > 20 and "TODO" not in e["reason"], (ex_id, e)


def test_the_mutants_are_the_ones_the_file_was_made_from():
    """A changed solution changes its mutants: rerun `make mutants` and review tests/mutants.json."""
    for ex_id, ex in current().items():
        entry = DATA["exercises"][ex_id]
        ids = {m.id for m in ex.mutants}
        assert len(ex.mutants) == entry["generated"], f"{ex_id}: {len(ex.mutants)} mutants now, file says {entry['generated']}"
        stale = [e["id"] for e in entry["equivalent"] if e["id"] not in ids]
        assert not stale, f"{ex_id}: listed equivalents that are no longer generated: {stale}"


@pytest.mark.ci_stage  # about 75 s: `make test-mutants`, which CI runs after `make test`
def test_a_sample_rerun_agrees_with_the_file():
    """Per chapter, one listed equivalent and one killed mutant, drawn with a fixed seed (each
    chapter's notebook runs up to the exercises drawn; `make mutants` runs them all)."""
    rng = random.Random(0)
    now = current()
    equivalent, killed = set(), set()
    for chapter in DATA["chapters"]:
        exs = [ex for ex_id, ex in now.items() if ex_id.split(".")[0] == str(chapter) and ex_id not in SLOW]
        listed = sorted(f"{ex.id} {e['id']}" for ex in exs for e in DATA["exercises"][ex.id]["equivalent"])
        if listed:
            equivalent.add(rng.choice(listed))
        others = sorted(f"{ex.id} {m.id}" for ex in exs for m in ex.mutants
                        if f"{ex.id} {m.id}" not in listed)
        killed.add(rng.choice(others))
    results = mutants.run_chapters(DATA["chapters"], only=equivalent | killed, timeout=30)
    outcome = {f"{ex} {i}": o for ex, r in results.items() for i, o in r["outcomes"].items()}
    assert set(outcome) == equivalent | killed
    wrongly_killed = sorted(k for k in equivalent if outcome[k] != "survived")
    survivors = sorted(k for k in killed if outcome[k] == "survived")
    assert not survivors, f"mutants that the checks no longer kill: {survivors}"
    assert not wrongly_killed, f"listed as equivalent, but now killed (remove them from the file): {wrongly_killed}"


def test_the_mutator_makes_every_kind_of_mutant():
    source = ("def f(x, rng):\n"
              "    ### BEGIN SOLUTION\n"
              "    y = x.clamp(min=0).to(torch.float64)\n"
              "    for i in range(3):\n"
              "        y = y + torch.randn(2, generator=rng) * 0.5\n"
              "    return torch.where(y < 1, y, -y) if y.sum() > 0 else y.clone()\n"
              "    ### END SOLUTION\n")
    kinds = {m.kind for m in mutants.mutants_of(source, "9.9")}
    assert kinds == {"op", "cmp", "const", "range", "drop", "swap", "call", "cast", "inplace", "rng"}
    ids = [m.id for m in mutants.mutants_of(source, "9.9")]
    assert len(ids) == len(set(ids))
    assert "cmp L6.23: y < 1 -> y <= 1" in ids
    assert "rng L5.16: torch.randn(2, generator=rng) -> torch.randn(2)" in ids
    assert "inplace L3.8: x.clamp(min=0) -> x.clamp_(min=0)" in ids
