"""Sphinx extension: how the course book looks and behaves in a reader's browser.

* MathJax is served from the book itself instead of a CDN, so the maths renders offline too
  (a laptop without network, a headless browser in CI). MathJax 3 comes from the PyPI package
  ``django-static-mathjax`` (plain static files; Django is not needed): only the combined TeX
  script and its web fonts are copied into ``_static/mathjax``.
* Solution pages (``solutions/*``) read as solutions: a banner at the top says that these are
  worked answers, links back to the exercise page, and the grading markers
  ``### BEGIN SOLUTION`` / ``### END SOLUTION`` are removed from the rendered code. Nothing is
  configured per notebook, so every new chapter gets the same treatment.
* The reference list labels entries the way the text cites them ("Bengio et al., 1994"), not
  with alpha labels ("BSF94"): a pybtex label style registered here.
* An accessible reference list: docutils marks each bibliography entry with the DPUB-ARIA role
  ``doc-biblioentry`` inside a ``role="list"`` container. That role is deprecated (ARIA 1.2), and
  a list must contain list items: axe-core reports both (a critical violation). Each entry is a
  ``listitem`` here, so a screen reader announces "list, 58 items" and reads them in order.
* A clean console: script tags that an extension adds twice (sphinx-thebe's configuration,
  which declares ``const THEBE_JS_URL``) are emitted once, and the theme gets a valid default
  colour mode.
* The course as a download: ``relu-course.zip`` at the top of the built site, made from the
  repository's tracked files (``git archive``; outside a git checkout, from the folder itself
  minus what git would ignore). The "Get the course" page links it.
"""

from __future__ import annotations

import codecs
import importlib.util
import re
import shutil
import subprocess
import zipfile
from pathlib import Path

from docutils import nodes
from sphinx import addnodes

SCRIPT = "tex-mml-chtml.js"
FONTS = Path("output/chtml/fonts/woff-v2")
ARCHIVE = "relu-course.zip"
ARCHIVE_PREFIX = "relu-course/"
MARKERS = ("### BEGIN SOLUTION", "### END SOLUTION")
# outside git: what the archive leaves out (the same things .gitignore lists)
SKIP_PARTS = {".git", ".venv", "_build", "__pycache__", ".ipynb_checkpoints", ".pytest_cache"}


# --------------------------------------------------------------------------- MathJax, offline

def mathjax_source() -> Path:
    spec = importlib.util.find_spec("mathjax")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("MathJax not found: install django-static-mathjax (see requirements.txt)")
    return Path(next(iter(spec.submodule_search_locations))) / "static" / "mathjax" / "es5"


def _configure(app, config) -> None:
    config.mathjax_path = f"mathjax/{SCRIPT}"  # relative paths are served from _static/
    # pydata-sphinx-theme logs "Got invalid theme mode" when no default mode is set
    config.html_context = {"default_mode": "light", **(config.html_context or {})}
    config.bibtex_default_style = "course"


def _copy_mathjax(app, exception) -> None:
    if exception is not None or app.builder.format != "html":
        return
    # Sphinx copies _static only when some page is rewritten: a change to the course's CSS or
    # JavaScript alone would otherwise never reach the built book.
    for src in sorted((Path(app.srcdir) / "_static").rglob("*")):
        dest = Path(app.outdir) / "_static" / src.relative_to(Path(app.srcdir) / "_static")
        if src.is_file() and (not dest.exists() or dest.read_bytes() != src.read_bytes()):
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src, dest)
    src, dest = mathjax_source(), Path(app.outdir) / "_static" / "mathjax"
    (dest / FONTS).mkdir(parents=True, exist_ok=True)
    shutil.copyfile(src / SCRIPT, dest / SCRIPT)
    shutil.copytree(src / FONTS, dest / FONTS, dirs_exist_ok=True)


# --------------------------------------------------------------------------- solution pages

def strip_markers(code: str) -> str:
    """The code without the grader's ``### BEGIN/END SOLUTION`` lines."""
    return "\n".join(line for line in code.split("\n") if line.strip() not in MARKERS)


def _partner(docname: str, folder: str) -> str:
    return f"{folder}/{docname.split('/', 1)[1]}"


def _doc_link(docname: str, target: str, text: str) -> addnodes.pending_xref:
    ref = addnodes.pending_xref("", refdomain="std", reftype="doc", reftarget=f"/{target}",
                                refexplicit=True, refwarn=True, refdoc=docname)
    ref += nodes.inline(text, text)
    return ref


def solution_banner(docname: str, env) -> nodes.admonition:
    exercise = _partner(docname, "exercises")
    number = re.match(r"(\d+)", docname.split("/", 1)[1])
    label = f"Exercises {int(number.group(1))}" if number else "the exercises"
    banner = nodes.admonition(classes=["important", "solution-banner"])
    banner += nodes.title(text="Worked solutions: try the exercises first")
    para = nodes.paragraph()
    para += nodes.Text("This page shows complete answers. You learn far more by writing your own "
                       "first: open ")
    if exercise in env.found_docs:
        para += _doc_link(docname, exercise, label)
    else:
        para += nodes.Text(label)
    para += nodes.Text(", run each check cell until it passes, and come back here to compare "
                       "your approach or when you are stuck.")
    banner += para
    return banner


def _solution_pages(app, doctree) -> None:
    docname = app.env.docname
    if not docname.startswith("solutions/"):
        return
    for block in doctree.findall(nodes.literal_block):
        text = block.astext()
        if not any(m in text for m in MARKERS):
            continue
        clean = strip_markers(text)
        block.rawsource = clean  # Sphinx highlights a block only when rawsource == text
        block.children = []
        block += nodes.Text(clean)
    section = next(iter(doctree.findall(nodes.section)), None)
    if section is None:
        return
    title = next((i for i, c in enumerate(section.children) if isinstance(c, nodes.title)), -1)
    section.insert(title + 1, solution_banner(docname, app.env))


# --------------------------------------------------------------------------- clean console

def _dedupe_scripts(app, pagename, templatename, context, doctree) -> None:
    """Emit each script once (inline ones too), whatever priorities its copies were given."""
    scripts = context.get("script_files")
    if not scripts:
        return
    unique, seen = [], set()
    for script in scripts:
        attributes = getattr(script, "attributes", {})
        key = (str(getattr(script, "filename", script) or ""), tuple(sorted(attributes.items())))
        if key not in seen:
            seen.add(key)
            unique.append(script)
    scripts[:] = unique


# --------------------------------------------------------------------------- accessible references

BIBLIOENTRY = 'role="doc-biblioentry"'


def listitem_citations(body: str) -> str:
    """The page's HTML with each citation of a ``role="list"`` container a ``listitem``."""
    return body.replace(BIBLIOENTRY, 'role="listitem"')


def _accessible_citations(app, pagename, templatename, context, doctree) -> None:
    body = context.get("body")
    if body and BIBLIOENTRY in body:
        context["body"] = listitem_citations(body)


# --------------------------------------------------------------------------- reference labels

def _names(person_list) -> list[str]:
    from pybtex.richtext import Text
    return [Text.from_latex(" ".join(p.prelast_names + p.last_names)).render_as("text")
            for p in person_list]


def author_year_label(entry) -> str:
    """'Nair and Hinton, 2010', 'Bengio et al., 1994': as sphinxcontrib-bibtex cites in the text."""
    persons = entry.persons.get("author") or entry.persons.get("editor") or []
    names = _names(persons)
    if not names:
        who = entry.fields.get("organization") or entry.fields.get("publisher") or entry.key
        names = [codecs.decode(str(who), "ulatex").replace("{", "").replace("}", "")]
    if len(names) == 1:
        who = names[0]
    elif len(names) == 2:
        who = f"{names[0]} and {names[1]}"
    else:
        who = f"{names[0]} et al."
    return f"{who}, {entry.fields.get('year', 'n.d.')}"


def _register_bibtex_style() -> None:
    from pybtex.plugin import register_plugin
    from pybtex.style.formatting.unsrt import Style as Unsrt
    from pybtex.style.labels import BaseLabelStyle

    class AuthorYearLabels(BaseLabelStyle):
        def format_labels(self, sorted_entries):
            labels = [author_year_label(e) for e in sorted_entries]
            counts = {label: labels.count(label) for label in labels}
            seen: dict[str, int] = {}
            for label in labels:
                if counts[label] > 1:  # 'Lu et al., 2020a', 'Lu et al., 2020b'
                    seen[label] = seen.get(label, 0) + 1
                    label = label + "abcdefghijklmnopqrstuvwxyz"[seen[label] - 1]
                yield label

    class CourseStyle(Unsrt):
        default_label_style = "course-author-year"
        default_sorting_style = "author_year_title"

    register_plugin("pybtex.style.labels", "course-author-year", AuthorYearLabels, force=True)
    register_plugin("pybtex.style.formatting", "course", CourseStyle, force=True)


# --------------------------------------------------------------------------- the course as a zip

def _git(root: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(root), *args], check=True, capture_output=True,
                          text=True).stdout.strip()


def make_archive(root: Path, dest: Path) -> Path:
    """Write the course's tracked files (as they are now in the working tree) to ``dest``."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    try:
        inside = _git(root, "rev-parse", "--show-toplevel")
    except (OSError, subprocess.CalledProcessError):
        inside = ""
    if inside and Path(inside).resolve() == root.resolve():
        rev = _git(root, "stash", "create") or "HEAD"  # includes uncommitted edits of tracked files
        _git(root, "archive", "--format=zip", f"--prefix={ARCHIVE_PREFIX}", "-o", str(dest), rev)
        return dest
    with zipfile.ZipFile(dest, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(root.rglob("*")):
            rel = path.relative_to(root)
            if path.is_dir() or SKIP_PARTS & set(rel.parts) or rel.parts[0].endswith(".egg-info"):
                continue
            zf.write(path, ARCHIVE_PREFIX + rel.as_posix())
    return dest


def _archive(app, exception) -> None:
    if exception is not None or app.builder.format != "html":
        return
    make_archive(Path(app.srcdir), Path(app.outdir) / ARCHIVE)


def setup(app):
    _register_bibtex_style()
    app.connect("config-inited", _configure)
    app.connect("doctree-read", _solution_pages)
    # early: a later handler that returns a template name stops the event for the rest
    app.connect("html-page-context", _dedupe_scripts, priority=100)
    app.connect("html-page-context", _accessible_citations, priority=100)
    app.connect("build-finished", _copy_mathjax)
    app.connect("build-finished", _archive)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
