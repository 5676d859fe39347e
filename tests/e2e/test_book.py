"""The book builds with warnings as errors, contains every page of the TOC, and its HTML has what
the reader needs (solution banners, author-year labels, each script once, the course archive)."""

import re
import zipfile

import pytest

import built_book


def test_book_builds_with_every_page():
    built = built_book.build()  # or the build test_browser.py made of the same sources
    assert built.ok, built.log
    html = built_book.HTML
    for page in built_book.toc_pages():
        assert (html / f"{page}.html").exists(), f"{page}.html was not built"
    intro = (html / "index.html").read_text() if (html / "index.html").exists() else ""
    assert "intro.html" in intro or (html / "intro.html").exists()


HTML = built_book.HTML


def _built(page: str) -> str:
    path = HTML / f"{page}.html"
    if not path.exists():
        pytest.skip("the book is built by test_book_builds_with_every_page")
    return path.read_text()


def _pages(folder: str) -> list[str]:
    return [p for p in built_book.toc_pages() if p.startswith(f"{folder}/")]


def test_solution_pages_read_as_solutions():
    """A banner, a link back to the exercises, and no grading markers on show."""
    for page in _pages("solutions"):
        html = _built(page)
        assert "solution-banner" in html, f"{page}: no banner"
        assert f'href="../exercises/{page.split("/")[1]}.html"' in html, f"{page}: no link back"
        assert "BEGIN SOLUTION" not in html and "END SOLUTION" not in html, page


def test_exercise_pages_link_their_solutions():
    for page in _pages("exercises"):
        html = _built(page)
        assert f'href="../solutions/{page.split("/")[1]}.html"' in html, page
        assert "solution-banner" not in html


def test_reference_labels_are_author_year_like_the_citations():
    html = _built("references")
    labels = re.findall(r'<span class="label"><span class="fn-bracket">\[</span>(.*?)<span', html)
    assert labels, "no labelled references"
    for label in labels:
        assert re.fullmatch(r".+, (\d{4}[a-z]?|n\.d\.)", label), label


def test_every_page_includes_each_script_once():
    for html_file in HTML.glob("**/*.html"):
        if "_static" in html_file.parts:
            continue
        html = html_file.read_text()
        assert html.count("const THEBE_JS_URL") <= 1, html_file
        srcs = re.findall(r'<script[^>]* src="([^"]+)"', html)
        assert len(srcs) == len(set(srcs)), f"{html_file}: a script twice"


def test_the_course_archive_is_downloadable():
    """`make book` writes relu-course.zip (the tracked files); the Get the course page links it."""
    html = _built("get-the-course")
    assert 'href="relu-course.zip"' in html
    with zipfile.ZipFile(HTML / "relu-course.zip") as zf:
        names = set(zf.namelist())
    for needed in ("Makefile", "requirements.txt", "pyproject.toml", "_toc.yml",
                   "chapters/01_activation_basics.ipynb", "relucourse/tooling/release.py"):
        assert f"relu-course/{needed}" in names, needed
    assert not [n for n in names if "/.venv/" in n or "/_build/" in n]


def test_every_myth_links_to_a_real_section():
    """Each row of the myths page links to a section that exists in the built book."""
    html = _built("myths")
    table = html.split("<table", 1)[1].split("</table>", 1)[0]
    rows = re.findall(r"<tr.*?</tr>", table, flags=re.S)[1:]
    assert len(rows) >= 10, "the myths page lists the course's claims"
    for row in rows:
        links = re.findall(r'href="([^"]+)"', row)
        assert links, f"a claim without a link to its evidence: {row[:200]}"
        for link in links:
            page, _, anchor = link.partition("#")
            target = HTML / page
            assert target.exists(), f"{link}: no such page"
            assert anchor and f'id="{anchor}"' in target.read_text(), f"{link}: no such section"


def test_glossary_terms_are_linked_from_the_chapters():
    """Every chapter links at least three glossary terms, and every glossary link resolves."""
    for page in _pages("chapters"):
        html = _built(page)
        links = re.findall(r'href="../glossary.html#(term-[^"]+)"', html)
        assert len(set(links)) >= 3, f"{page}: {sorted(set(links))}"
        glossary = _built("glossary")
        for anchor in links:
            assert f'id="{anchor}"' in glossary, anchor
