"""Mutation testing of the reference solutions against their checks (``make mutants``).

Every solution block (the lines between ``### BEGIN SOLUTION`` and ``### END SOLUTION`` in
``solutions/NN_*.ipynb``) is mutated, one small change at a time, by an AST mutator:

* ``op``        arithmetic operators (``+``/``-``, ``*``/``/``, ``**``/``*``, ``//``/``/``), ``and``/``or``, unary minus dropped
* ``cmp``       comparisons: boundary (``<``/``<=``, ``>``/``>=``) and negation (``==``/``!=``, ``is``/``is not``)
* ``const``     numbers (``n`` -> ``n + 1``, ``n - 1``; ``f`` -> ``0``, ``2 f``), ``True``/``False``
* ``range``     off by one: ``range(n)`` -> ``range(n + 1)``, ``range(n - 1)``
* ``drop``      a statement dropped (replaced by ``pass``), a ``with`` block's context dropped
* ``swap``      the first two positional arguments of a call swapped, the operands of ``-``, ``/``, ``@``, ``**``
* ``call``      a one-argument call dropped (``np.abs(x)`` -> ``x``), a keyword argument dropped
* ``cast``      a dtype cast dropped (``.to(...)``, ``.astype(...)``, ``.double()``, ``.float()``), or the
                returned value cast to the other float width (float32 <-> float64)
* ``inplace``   ``t.op(...)`` -> ``t.op_(...)`` where PyTorch has the in-place twin; ``.clone()``/``.copy()``/``.detach()`` dropped
* ``rng``       ``generator=...`` dropped (the global generator is used), a seed argument dropped

The notebook's other code cells run once (without the check cells); then, for every mutant, a forked
child redefines the mutated cell and runs the exercise's check cell. A mutant is *killed* when the
check fails (or the definition raises, or the child runs past the time limit), and *survives* when
the check passes. Survivors must be killed by a stronger check, or listed as equivalent with the
reason in ``tests/mutants.json``, which ``tests/unit/test_mutants.py`` compares against.

    python -m relucourse.tooling.mutants                 # every chapter, a table of kill rates
    python -m relucourse.tooling.mutants --chapters 1 2  # some chapters
    python -m relucourse.tooling.mutants --exercise 2.1 --survivors   # list what survives
    python -m relucourse.tooling.mutants --chapters 1 2 --write       # update tests/mutants.json's counts
"""

from __future__ import annotations

import argparse
import ast
import copy
import io
import json
import os
import re
import select
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SOLUTIONS = ROOT / "solutions"
EQUIVALENTS = ROOT / "tests" / "mutants.json"
BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"
CHECK_CALL = re.compile(r"""check\(\s*["'](\d+\.\d+)["']""")
_SINGLE_THREAD = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1",
                  "RELUCOURSE_STRICT": "1", "MPLBACKEND": "Agg", "RELUCOURSE_THREADS": "1"}

#: Tensor methods whose in-place twin (name + "_") the ``inplace`` mutation uses.
_INPLACE = {"clamp", "add", "sub", "mul", "div", "abs", "exp", "neg", "sigmoid", "tanh", "relu", "pow",
            "log1p", "log", "sqrt", "masked_fill", "sign", "square",
            "normal", "uniform", "t", "clamp_min", "clamp_max"}
_MODULES = {"torch", "np", "numpy", "F", "nn", "math", "random"}
_CASTS = {"to", "astype", "double", "float", "half", "type"}
_COPIES = {"clone", "copy", "detach"}
_RNG_CALLS = {"manual_seed", "default_rng", "Generator", "seed"}


# --------------------------------------------------------------------------------------------
# Mutants
# --------------------------------------------------------------------------------------------

@dataclass
class Mutant:
    exercise: str
    kind: str
    line: int             # line in the cell
    col: int
    before: str
    after: str
    source: str           # the whole mutated cell
    id: str = ""
    cell: int = -1        # the notebook cell it replaces

    def __post_init__(self):
        self.id = f"{self.kind} L{self.line}.{self.col}: {self.before} -> {self.after}"


def _solution_lines(source: str) -> set[int]:
    lines, inside = set(), False
    for n, line in enumerate(source.splitlines(), start=1):
        if line.strip() == BEGIN:
            inside = True
        elif line.strip() == END:
            inside = False
        elif inside:
            lines.add(n)
    return lines


def _seg(node: ast.AST) -> str:
    text = ast.unparse(node) if not isinstance(node, ast.stmt) else ast.unparse(node).splitlines()[0]
    text = " ".join(text.split())
    return text if len(text) <= 70 else text[:67] + "..."


def _num(value) -> ast.expr:
    return ast.Constant(value) if value >= 0 else ast.UnaryOp(ast.USub(), ast.Constant(-value))


_BIN_SWAP = {ast.Add: ast.Sub, ast.Sub: ast.Add, ast.Mult: ast.Div, ast.Div: ast.Mult, ast.Pow: ast.Mult,
             ast.FloorDiv: ast.Div, ast.Mod: ast.FloorDiv, ast.MatMult: ast.Mult}
_CMP_SWAP = {ast.Lt: [ast.LtE], ast.LtE: [ast.Lt], ast.Gt: [ast.GtE], ast.GtE: [ast.Gt],
             ast.Eq: [ast.NotEq], ast.NotEq: [ast.Eq], ast.Is: [ast.IsNot], ast.IsNot: [ast.Is],
             ast.In: [ast.NotIn], ast.NotIn: [ast.In]}


def _alternatives(node: ast.AST, parent: ast.AST | None):
    """(kind, replacement node) pairs for one node; the replacement is built on a copy."""
    out = []
    if isinstance(node, ast.BinOp):
        swap = _BIN_SWAP.get(type(node.op))
        if swap:
            out.append(("op", ast.BinOp(node.left, swap(), node.right)))
        if isinstance(node.op, (ast.Sub, ast.Div, ast.MatMult, ast.Pow)) and ast.dump(node.left) != ast.dump(node.right):
            out.append(("swap", ast.BinOp(node.right, node.op, node.left)))
    elif isinstance(node, ast.AugAssign):
        swap = _BIN_SWAP.get(type(node.op))
        if swap:
            out.append(("op", ast.AugAssign(node.target, swap(), node.value)))
    elif isinstance(node, ast.BoolOp):
        other = ast.Or() if isinstance(node.op, ast.And) else ast.And()
        out.append(("op", ast.BoolOp(other, node.values)))
    elif isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.Not)):
        if not isinstance(node.operand, ast.Constant):
            out.append(("op", node.operand))
    elif isinstance(node, ast.Compare) and len(node.ops) == 1:
        for new in _CMP_SWAP.get(type(node.ops[0]), []):
            out.append(("cmp", ast.Compare(node.left, [new()], node.comparators)))
    elif isinstance(node, ast.Constant) and not isinstance(parent, ast.Expr):
        v = node.value
        negated = isinstance(parent, ast.UnaryOp) and isinstance(parent.op, ast.USub)
        if isinstance(v, bool):
            out.append(("const", ast.Constant(not v)))
        elif isinstance(v, int) and not negated:
            out += [("const", _num(v + 1)), ("const", _num(v - 1))]
        elif isinstance(v, float) and not negated:
            out += [("const", ast.Constant(0.0 if v != 0 else 1.0)), ("const", ast.Constant(2 * v if v else -1.0))]
    elif isinstance(node, ast.Call):
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
        if name == "range" and len(node.args) == 1:
            for op in (ast.Add(), ast.Sub()):
                out.append(("range", ast.Call(func, [ast.BinOp(node.args[0], op, ast.Constant(1))], node.keywords)))
        if len(node.args) >= 2 and ast.dump(node.args[0]) != ast.dump(node.args[1]):
            args = [node.args[1], node.args[0], *node.args[2:]]
            out.append(("swap", ast.Call(func, args, node.keywords)))
        if isinstance(func, ast.Attribute):
            if func.attr in _CASTS:
                out.append(("cast", func.value))
            elif func.attr in _COPIES and not node.args:
                out.append(("inplace", func.value))
            elif func.attr in _INPLACE and not (isinstance(func.value, ast.Name) and func.value.id in _MODULES):
                out.append(("inplace", ast.Call(ast.Attribute(func.value, func.attr + "_"), node.args,
                                                node.keywords)))
        if name in _RNG_CALLS and node.args:
            out.append(("rng", ast.Call(func, [], node.keywords)))
        if len(node.args) == 1 and not node.keywords and name not in _CASTS | _COPIES | {"range"} \
                and not isinstance(node.args[0], ast.Starred) and name and not name[0].isupper():
            out.append(("call", node.args[0]))
        for k, kw in enumerate(node.keywords):
            kind = "rng" if kw.arg == "generator" else "cast" if kw.arg == "dtype" else "call"
            out.append((kind, ast.Call(func, node.args, node.keywords[:k] + node.keywords[k + 1:])))
    elif isinstance(node, ast.Return) and node.value is not None:
        cast = ast.Call(ast.Name("__mutant_cast__"), [node.value], [])
        out.append(("cast", ast.Return(cast)))
    return out


def _statement_alternatives(body: list[ast.stmt], lines: set[int]):
    """Dropped statements (only in bodies of two or more), with-blocks whose context is dropped."""
    for k, stmt in enumerate(body):
        if stmt.lineno not in lines:
            continue
        if len(body) > 1 and not isinstance(stmt, (ast.FunctionDef, ast.Import, ast.ImportFrom)):
            yield k, "drop", [ast.Pass()]
        if isinstance(stmt, ast.With):
            yield k, "drop", stmt.body


def mutants_of(source: str, exercise: str) -> list[Mutant]:
    """Every mutant of the solution lines of one cell, in a fixed order (ids are unique)."""
    lines = _solution_lines(source)
    tree = ast.parse(source)
    original = ast.unparse(tree)
    found: dict[str, Mutant] = {}

    def add(kind, line, col, before, after, new_tree):
        ast.fix_missing_locations(new_tree)
        try:
            text = ast.unparse(new_tree)
        except Exception:  # an operator that unparse cannot render
            return
        if text == original:
            return
        m = Mutant(exercise, kind, line, col, before, after, text)
        if m.id not in found:
            found[m.id] = m

    nodes = list(ast.walk(tree))
    parents = {}
    for node in nodes:
        for child in ast.iter_child_nodes(node):
            parents[id(child)] = node
    for index, node in enumerate(nodes):
        # expressions and statements on solution lines
        if getattr(node, "lineno", None) in lines:
            for kind, replacement in _alternatives(node, parents.get(id(node))):
                new_tree = copy.deepcopy(tree)
                target = list(ast.walk(new_tree))[index]
                new = copy.deepcopy(replacement)
                # rebuild the replacement from the copied tree's children where possible
                if not _replace(new_tree, target, new):
                    continue
                add(kind, node.lineno, node.col_offset, _seg(node), _seg(new), new_tree)
        # statement lists
        for fname in ("body", "orelse", "finalbody"):
            body = getattr(node, fname, None)
            if not isinstance(body, list) or not body or not isinstance(body[0], ast.stmt):
                continue
            for k, kind, replacement in _statement_alternatives(body, lines):
                new_tree = copy.deepcopy(tree)
                target = list(ast.walk(new_tree))[index]
                new_body = getattr(target, fname)
                new_body[k:k + 1] = copy.deepcopy(replacement)
                after = "pass" if isinstance(replacement[0], ast.Pass) else "its body without the `with`"
                add(kind, body[k].lineno, body[k].col_offset, _seg(body[k]), after, new_tree)
    return list(found.values())


def _replace(tree: ast.AST, target: ast.AST, new: ast.AST) -> bool:
    for node in ast.walk(tree):
        for fname, value in ast.iter_fields(node):
            if value is target:
                setattr(node, fname, new)
                return True
            if isinstance(value, list):
                for i, item in enumerate(value):
                    if item is target:
                        value[i] = new
                        return True
    return False


# --------------------------------------------------------------------------------------------
# The notebooks
# --------------------------------------------------------------------------------------------

@dataclass
class Exercise:
    id: str
    notebook: Path
    solution_cells: list[int]          # indices of cells holding this exercise's solution blocks
    check_cell: int
    mutants: list[Mutant] = field(default_factory=list)


def exercises_of(notebook: Path) -> tuple[list[str], list[Exercise]]:
    """The notebook's code cells (sources) and its exercises with their mutants."""
    import nbformat

    nb = nbformat.read(notebook, as_version=4)
    sources = [c.source if c.cell_type == "code" else None for c in nb.cells]
    out, pending = [], []
    for i, src in enumerate(sources):
        if src is None:
            continue
        if BEGIN in src:
            pending.append(i)
        ids = CHECK_CALL.findall(src)
        if ids and pending:
            ex = Exercise(ids[0], notebook, pending, i)
            for j in pending:
                for m in mutants_of(sources[j], ids[0]):
                    m.cell = j
                    if len(pending) > 1:
                        m.id = f"cell {pending.index(j) + 1} " + m.id
                    ex.mutants.append(m)
            out.append(ex)
            pending = []
    return sources, out


def notebooks(chapters: list[int] | None = None) -> list[Path]:
    found = sorted(SOLUTIONS.glob("[0-9][0-9]_*.ipynb"))
    return [p for p in found if chapters is None or int(p.name[:2]) in chapters]


# --------------------------------------------------------------------------------------------
# Running the mutants
# --------------------------------------------------------------------------------------------

def _cast(value):
    """The float32 <-> float64 flip used by the ``cast`` mutation of a returned value."""
    import numpy as np
    import torch

    if isinstance(value, torch.Tensor) and value.is_floating_point():
        return value.to(torch.float32 if value.dtype == torch.float64 else torch.float64)
    if isinstance(value, np.ndarray) and value.dtype.kind == "f":
        return value.astype(np.float32 if value.dtype == np.float64 else np.float64)
    if isinstance(value, float):
        return float(np.float32(value))
    if isinstance(value, (tuple, list)):
        return type(value)(_cast(v) for v in value)
    if isinstance(value, dict):
        return {k: _cast(v) for k, v in value.items()}
    return value


def _run_child(namespace: dict, cells: list[str], check_source: str) -> int:
    """In the forked child: define the (mutated) cells and run the check cell. Exit code 0 = passed."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.dup2(devnull, 2)
    sys.stdout, sys.stderr = io.StringIO(), io.StringIO()
    try:
        for src in cells:
            exec(compile(src, "<mutant>", "exec"), namespace)
    except BaseException:
        return 3  # the definition itself fails
    try:
        exec(compile(check_source, "<check>", "exec"), namespace)
    except BaseException:
        return 1
    return 0


def run_mutant(namespace: dict, cells: list[str], check_source: str, timeout: float) -> str:
    """'survived', 'killed', 'killed (definition raised)' or 'killed (timeout)'."""
    pid = os.fork()
    if pid == 0:  # the child
        code = 2
        try:
            code = _run_child(namespace, cells, check_source)
        finally:
            os._exit(code)
    deadline = time.monotonic() + timeout
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            code = os.waitstatus_to_exitcode(status)
            return {0: "survived", 3: "killed (definition raised)"}.get(code, "killed")
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            return "killed (timeout)"
        time.sleep(0.01)


def run_notebook(notebook: Path, *, exercise: str | None = None, only: set[str] | None = None,
                 timeout: float = 60.0, progress=None) -> dict[str, dict]:
    """{exercise id: {"generated", "killed", "survived": [ids], "seconds", "outcomes"}} for one notebook.

    ``only``: run just these mutants, named "exercise id + space + mutant id" ("1.5 const L3.12: 0 -> 1").
    """
    import matplotlib
    matplotlib.use("Agg")
    import torch

    torch.set_num_threads(1)
    sources, exercises = exercises_of(notebook)
    check_cells = {ex.check_cell for ex in exercises}
    wanted = [ex for ex in exercises if (exercise is None or ex.id == exercise)
              and (only is None or any(f"{ex.id} {m.id}" in only for m in ex.mutants))]
    last = max((ex.check_cell for ex in wanted), default=-1)  # later cells are not needed
    namespace: dict = {"__name__": "__main__", "__mutant_cast__": _cast}
    cwd = os.getcwd()
    os.chdir(notebook.parent)
    try:
        for i, src in enumerate(sources):
            if src is None or i in check_cells or i > last:
                continue
            code = "\n".join(l for l in src.splitlines() if not l.lstrip().startswith(("%", "!")))
            exec(compile(code, f"{notebook.name}[{i}]", "exec"), namespace)
        results = {}
        for ex in wanted:
            started = time.monotonic()
            survived, killed, outcomes = [], 0, {}
            for m in ex.mutants:
                if only is not None and f"{ex.id} {m.id}" not in only:
                    continue
                cells = [m.source if j == m.cell else sources[j] for j in ex.solution_cells]
                outcome = run_mutant(namespace, cells, sources[ex.check_cell], timeout)
                outcomes[m.id] = outcome
                if outcome == "survived":
                    survived.append(m.id)
                else:
                    killed += 1
                if progress:
                    progress(ex.id, m, outcome)
            results[ex.id] = {"generated": len(ex.mutants) if only is None else len(outcomes),
                              "killed": killed, "survived": survived,
                              "seconds": round(time.monotonic() - started, 1), "outcomes": outcomes}
        return results
    finally:
        os.chdir(cwd)


def load_equivalents(path: Path = EQUIVALENTS) -> dict:
    return json.loads(path.read_text()) if path.exists() else {"chapters": [], "exercises": {}}


# --------------------------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------------------------

def _worker(args) -> int:
    """Run one notebook in this (single-threaded) process and print its results as JSON."""
    only = set(json.loads(args.only)) if args.only else None
    res = run_notebook(Path(args.worker), exercise=args.exercise, only=only, timeout=args.timeout)
    print("RESULT " + json.dumps(res))
    return 0


def run_chapters(chapters: list[int] | None, exercise: str | None = None, only: set[str] | None = None,
                 timeout: float = 60.0, verbose: bool = False) -> dict[str, dict]:
    """Run every notebook in a fresh single-threaded process; {exercise id: result}."""
    env = {**os.environ, **_SINGLE_THREAD}
    results: dict[str, dict] = {}
    chosen = chapters if exercise is None else [int(exercise.split(".")[0])]
    for nb in notebooks(chosen):
        cmd = [sys.executable, "-m", "relucourse.tooling.mutants", "--worker", str(nb), "--timeout", str(timeout)]
        if exercise:
            cmd += ["--exercise", exercise]
        if only is not None:
            cmd += ["--only", json.dumps(sorted(only))]
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, cwd=ROOT)
        line = next((l for l in proc.stdout.splitlines() if l.startswith("RESULT ")), None)
        if line is None:
            raise RuntimeError(f"mutation run of {nb.name} failed:\n{proc.stderr[-3000:]}")
        results.update(json.loads(line[len("RESULT "):]))
    return results


def _key(exercise_id: str) -> tuple[int, ...]:
    return tuple(int(p) for p in exercise_id.split("."))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m relucourse.tooling.mutants", description=__doc__.split("\n\n")[0])
    parser.add_argument("--chapters", type=int, nargs="*", help="chapter numbers (default: all)")
    parser.add_argument("--exercise", help="one exercise id, e.g. 2.1")
    parser.add_argument("--survivors", action="store_true", help="list the surviving mutants")
    parser.add_argument("--list", action="store_true", help="only list the mutants, do not run them")
    parser.add_argument("--write", action="store_true",
                        help="write the counts of the chapters run into tests/mutants.json (keeps reasons)")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds per mutant (default 60)")
    parser.add_argument("--json", help="also write the full results to this file")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--only", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        return _worker(args)
    if args.list:
        for nb in notebooks(args.chapters):
            for ex in exercises_of(nb)[1]:
                if args.exercise and ex.id != args.exercise:
                    continue
                for m in ex.mutants:
                    print(f"{ex.id}  {m.id}")
        return 0
    started = time.monotonic()
    results = run_chapters(args.chapters, args.exercise, timeout=args.timeout)
    known = load_equivalents()
    print(f"{'exercise':<9}{'mutants':>8}{'killed':>8}{'equiv.':>8}{'open':>6}{'kill rate':>11}{'time':>8}")
    status = 0
    for ex_id in sorted(results, key=_key):
        r = results[ex_id]
        equivalent = {e["id"] for e in known.get("exercises", {}).get(ex_id, {}).get("equivalent", [])}
        open_ = [s for s in r["survived"] if s not in equivalent]
        rate = r["killed"] / max(1, r["generated"] - len(set(r["survived"]) & equivalent))
        print(f"{ex_id:<9}{r['generated']:>8}{r['killed']:>8}{len(set(r['survived']) & equivalent):>8}"
              f"{len(open_):>6}{rate:>10.0%}{r['seconds']:>7.0f}s")
        if args.survivors:
            for s in open_:
                print(f"    survives: {s}")
        covered = int(ex_id.split(".")[0]) in known.get("chapters", [])
        if open_ and covered:
            status = 1
    print(f"total time {time.monotonic() - started:.0f} s")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))
    if args.write:
        data = known
        for ex_id, r in results.items():
            entry = data.setdefault("exercises", {}).setdefault(ex_id, {"equivalent": []})
            entry["generated"], entry["killed"] = r["generated"], r["killed"]
            listed = {e["id"] for e in entry["equivalent"]}
            for s in r["survived"]:
                if s not in listed:
                    entry["equivalent"].append({"id": s, "reason": "TODO: kill it or give the reason"})
        data["exercises"] = dict(sorted(data["exercises"].items(), key=lambda kv: _key(kv[0])))
        EQUIVALENTS.write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n")
    return status


if __name__ == "__main__":
    sys.exit(main())
