"""Every rule a statement states has a test with a wrong answer that breaks that rule.

Rules are marked in the statements (``<!-- rule: id -->``, see ``rulebook.py``); tests are marked with
``@breaks_rule("N.M", "id")``. Both are read statically. ``COVERED`` is the registry of the chapters
whose statements and tests follow the convention; add a chapter when its exercises have settled.
"""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
RULE = re.compile(r"<!--\s*rule:\s*([a-z0-9][a-z0-9-]*)\s*-->")
EXERCISE_HEADING = re.compile(r"^##\s+Exercise\s+(\d+\.\d+)\b", re.M)

#: chapter -> (solution notebook, the unit tests of its checks)
COVERED = {
    1: ("solutions/01_activation_basics.ipynb", "tests/unit/test_checks_ch01.py"),
    2: ("solutions/02_origin_of_relu.ipynb", "tests/unit/test_checks_ch02.py"),
    3: ("solutions/03_advantages.ipynb", "tests/unit/test_checks_ch03.py"),
    4: ("solutions/04_dying_relu.ipynb", "tests/unit/test_checks_ch04.py"),
    5: ("solutions/05_variants.ipynb", "tests/unit/test_checks_ch05.py"),
    6: ("solutions/06_architectures.ipynb", "tests/unit/test_checks_ch06.py"),
}


def stated_rules(notebook: Path) -> dict[str, list[str]]:
    """{exercise id: [rule ids in the order stated]} from the notebook's markdown cells."""
    rules: dict[str, list[str]] = {}
    current = None
    for cell in json.loads(notebook.read_text())["cells"]:
        if cell["cell_type"] != "markdown":
            continue
        text = "".join(cell["source"])
        heading = EXERCISE_HEADING.search(text)
        if heading:
            current = heading.group(1)
            rules.setdefault(current, [])
        found = RULE.findall(text)
        if found:
            assert current is not None, f"{notebook.name}: a rule marker before the first exercise"
            rules[current] += found
    return rules


def rule_tests(test_file: Path) -> dict[tuple[str, str], list[str]]:
    """{(exercise id, rule id): [test names]} from the @breaks_rule decorators of a test file."""
    tree = ast.parse(test_file.read_text())
    out: dict[tuple[str, str], list[str]] = {}
    for node in tree.body:
        if not isinstance(node, ast.FunctionDef):
            continue
        for deco in node.decorator_list:
            if isinstance(deco, ast.Call) and getattr(deco.func, "id", None) == "breaks_rule":
                ex, *rules = [a.value for a in deco.args]
                assert node.name.startswith("test_"), f"{node.name}: @breaks_rule on a function that is not a test"
                calls = [n for n in ast.walk(node) if isinstance(n, ast.Call)
                         and getattr(n.func, "id", None) in ("rejects", "rejects_in_time")]
                assert calls, f"{node.name}: a rule test must feed a wrong answer to rejects(...)"
                for r in rules:
                    out.setdefault((ex, r), []).append(node.name)
    return out


@pytest.mark.parametrize("chapter", sorted(COVERED))
def test_every_stated_rule_has_a_test_that_breaks_it(chapter):
    notebook, tests = (ROOT / p for p in COVERED[chapter])
    stated = stated_rules(notebook)
    tested = rule_tests(tests)
    assert stated, f"{notebook.name} marks no rules"
    for ex, rules in stated.items():
        assert rules, f"exercise {ex} marks no rules in its statement"
        assert len(rules) == len(set(rules)), f"exercise {ex} marks a rule twice: {rules}"
    missing = [f"{ex} {r}" for ex, rules in stated.items() for r in rules if (ex, r) not in tested]
    assert not missing, f"rules stated in {notebook.name} without a test that breaks them: {missing}"
    unknown = [f"{ex} {r} ({names[0]})" for (ex, r), names in tested.items()
               if r not in stated.get(ex, [])]
    assert not unknown, f"tests that break a rule the statement does not state: {unknown}"


def test_the_convention_is_found():
    """The readers work: a marker is found, and a test file's decorators are read."""
    assert RULE.findall("- it does not modify `x`. <!-- rule: no-inplace -->") == ["no-inplace"]
    assert ("1.1", "no-inplace") in rule_tests(ROOT / COVERED[1][1])


def rule_table() -> list[tuple[str, int, int]]:
    """(exercise, rules stated, rules tested) for the covered chapters (used in reports)."""
    rows = []
    for chapter in sorted(COVERED):
        notebook, tests = (ROOT / p for p in COVERED[chapter])
        tested = rule_tests(tests)
        for ex, rules in stated_rules(notebook).items():
            rows.append((ex, len(rules), sum((ex, r) in tested for r in rules)))
    return rows


if __name__ == "__main__":
    for ex, stated, tested in rule_table():
        print(f"{ex}: {stated} rules stated, {tested} tested")
