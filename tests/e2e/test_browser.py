"""The built book in a real browser: headless Chromium, driven by Playwright, over 127.0.0.1.

Every page of the TOC is opened once at 1200 px (the narrowest desktop width the course writes
for) and checked: no console error, no failed or off-line request, MathJax typeset every formula,
no code or output box scrolls sideways, every image loaded (with alt text that says something).
Then the same page, in the same tab, is audited with axe-core (WCAG 2.0 and 2.1, levels A and AA)
and photographed at 1280 px and at 390 px (a phone), once the page has settled (web fonts loaded,
MathJax done, no CSS transition running, navigation drawers closed), into ``_build/screens/`` for a
person to look at (the first screen, as JPEG). A serious or critical axe violation fails the test;
the summary line (pages, rules, violations by impact) and every minor or moderate violation are
printed at the end of the run (and written to ``_build/screens/report.json``).
Search for "relu" must find pages, with readable snippets (no raw TeX).

axe-core is the copy that the PyPI package ``axe-playwright-python`` ships (``axe.min.js``): no
download at run time.

Chromium is Debian's package (``apt-get install chromium``; ``.ci/run`` installs it in CI), found
on PATH or through $CHROMIUM; Playwright for Python comes from requirements.txt and drives it
without downloading a browser. Under CI (CI=true) a missing browser is a failure; on a learner's
machine the test is skipped with one line saying how to enable it.

The book is built once for this file and tests/e2e/test_book.py, whichever asks first
(tests/e2e/built_book.py), and rebuilt only when a source is newer than the last good build.
"""

from __future__ import annotations

import functools
import http.server
import json
import math
import os
import re
import shutil
import threading
import time
from collections import deque

import pytest

import built_book
from built_book import toc_pages
from conftest import ROOT
from relucourse.tooling.release import LINE_LIMIT

HTML = ROOT / "_build" / "html"
SCREENS = ROOT / "_build" / "screens"
WIDTHS = {"check": 1200, "wide": 1280, "phone": 390}
HOW_TO_ENABLE = ("browser test skipped: Chromium not found. To enable it: "
                 "sudo apt-get install chromium (or set CHROMIUM=/path/to/chrome), "
                 "then `make test` again")


PAGES = toc_pages()


def chromium_path() -> str | None:
    for candidate in (os.environ.get("CHROMIUM"), "chromium", "chromium-browser",
                      "google-chrome", "google-chrome-stable"):
        if candidate and (found := shutil.which(candidate)):
            return found
    return None


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def ensure_built() -> None:
    """The book of the current sources, built once (tests/e2e/built_book.py)."""
    built = built_book.build()
    assert built.ok, built.log


_SAID: set[str] = set()


def _say_once(config, line: str) -> None:
    """One line on the terminal, even under -q and output capture."""
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    capture = config.pluginmanager.get_plugin("capturemanager")
    if reporter is None or line in _SAID:
        return
    _SAID.add(line)
    if capture is not None:
        with capture.global_and_fixture_disabled():
            reporter.write_line(line, yellow=True, bold=True)
    else:
        reporter.write_line(line, yellow=True, bold=True)


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def browser(request):
    path = chromium_path()
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        sync_playwright = None
    if path is None or sync_playwright is None:
        missing = "Chromium" if path is None else "playwright (pip install -r requirements.txt)"
        if in_ci():
            pytest.fail(f"CI=true but {missing} is missing: the browser test must run in CI "
                        "(.ci/run installs Chromium with apt-get)", pytrace=False)
        _say_once(request.config, HOW_TO_ENABLE)
        pytest.skip(HOW_TO_ENABLE)
    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=path, args=["--disable-gpu"])
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def site(browser):
    """The built book served on 127.0.0.1; yields its base URL."""
    ensure_built()
    handler = functools.partial(_Quiet, directory=str(HTML))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


MATH_DONE = """async () => {
  if (!document.querySelector('span.math, div.math')) return 'no maths';
  const t0 = Date.now();
  while (!(window.MathJax && MathJax.startup && MathJax.startup.promise)) {
    if (Date.now() - t0 > 20000) return 'MathJax did not load';
    await new Promise(r => setTimeout(r, 50));
  }
  await MathJax.startup.promise;
  return 'typeset';
}"""

IMAGES_DONE = """async () => {
  const imgs = [...document.querySelectorAll('article img')];
  imgs.forEach(i => { i.loading = 'eager'; });
  await Promise.all(imgs.map(i => i.complete ? null :
    new Promise(r => { i.addEventListener('load', r); i.addEventListener('error', r); })));
}"""

INSPECT = r"""() => {
  const main = document.querySelector('article') || document.body;
  const short = s => s.replace(/\s+/g, ' ').trim().slice(0, 90);
  const r = {};
  // maths: every formula became a MathJax container, no error node, no TeX delimiters left
  r.untypeset = [...main.querySelectorAll('span.math, div.math')]
    .filter(m => !m.querySelector('mjx-container')).map(m => short(m.textContent));
  r.math_errors = [...main.querySelectorAll('mjx-merror, [data-mjx-error]')]
    .map(m => short(m.getAttribute('data-mjx-error') || m.textContent));
  // an undefined macro is not an error node: MathJax prints its name as red text
  r.math_errors.push(...[...main.querySelectorAll(
      'mjx-assistive-mml mtext[mathcolor="red"], mjx-assistive-mml merror')]
    .map(t => 'undefined macro or error: ' + short(t.textContent)));
  r.math_errors.push(...[...main.querySelectorAll('mjx-mtext[style*="color: red"]')]
    .filter(t => !t.closest('mjx-container').querySelector('mjx-assistive-mml'))
    .map(t => 'red text in a formula (undefined macro?)'));
  const walker = document.createTreeWalker(main, NodeFilter.SHOW_TEXT, {acceptNode: n =>
    n.parentElement.closest('pre, code, mjx-container, script, style, .onlyprint')
      ? NodeFilter.FILTER_REJECT : NodeFilter.FILTER_ACCEPT});
  r.raw_tex = [];
  for (let n; (n = walker.nextNode());) {
    if (/\$\$|\\\(|\\\)|\\\[|\\\]|\\(frac|mathrm|sigma|max|left|right)\b/.test(n.textContent))
      r.raw_tex.push(short(n.textContent));
  }
  // boxes that scroll sideways (their last characters are out of sight)
  r.scrolling = [...main.querySelectorAll('pre, div.cell_output, div.cell_output div.output')]
    .filter(b => b.scrollWidth > b.clientWidth + 1)
    .map(b => `${b.scrollWidth - b.clientWidth}px too wide: ` + short(
      [...b.textContent.split('\n')].reduce((a, l) => l.length > a.length ? l : a, '')));
  // images
  const imgs = [...main.querySelectorAll('img')];
  r.images = imgs.length;
  r.broken_images = imgs.filter(i => !(i.complete && i.naturalWidth > 0))
    .map(i => i.getAttribute('src'));
  r.no_alt = imgs.filter(i => { const a = (i.getAttribute('alt') || '').trim();
      return !a || /\.(png|jpe?g|svg|gif)$/i.test(a) || (a.includes('/') && !a.includes(' ')); })
    .map(i => i.getAttribute('src'));
  r.alts = imgs.map(i => [(i.getAttribute('src') || '').slice(0, 80), (i.getAttribute('alt') || '').trim()]);
  return r;
}"""

CLIPPED_MATHS = """() => [...document.querySelectorAll('article span.math, article div.math')]
  .map(m => m.tagName === 'DIV' ? (m.querySelector('mjx-container') || m) : m)
  .filter(m => m.scrollWidth > m.clientWidth + 1
               && !['auto', 'scroll'].includes(getComputedStyle(m).overflowX))
  .map(m => m.textContent.replace(/\\s+/g, ' ').trim().slice(0, 60))"""

CAPACITY = """() => {
  const pre = document.querySelector('div.cell_input pre');
  if (!pre) return null;
  const cs = getComputedStyle(pre), probe = document.createElement('span');
  probe.textContent = 'x'.repeat(200);
  pre.appendChild(probe);
  const width = probe.getBoundingClientRect().width / 200;
  probe.remove();
  return (pre.clientWidth - parseFloat(cs.paddingLeft) - parseFloat(cs.paddingRight)) / width;
}"""


# axe-core: the WCAG 2.0/2.1 A and AA rules. Only violations come back with every node (passes
# and the rest with one node each, enough to count the rules that ran). No preloading: axe would
# fetch the theme's @import-ed stylesheet again, from a wrong URL (a 404 that is axe's own), for
# rules outside these tags.
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
AXE_OPTIONS = {"runOnly": {"type": "tag", "values": AXE_TAGS}, "resultTypes": ["violations"],
               "preload": False}
# Colour rules run at the wide width only: the theme's colours do not depend on the width, and
# colour contrast is most of axe's time.
COLOUR_RULES = ("color-contrast", "link-in-text-block")
AXE_FAILS = ("serious", "critical")
IMPACTS = ("critical", "serious", "moderate", "minor")


def _axe_script() -> str | None:
    try:
        from axe_playwright_python.base import AXE_SCRIPT
    except ImportError:
        return None
    return AXE_SCRIPT


# Two runs of axe per page and width. The first: every rule but the colour rules, over the whole
# page. The second (wide width only): the colour rules, over the page less its code blocks, plus
# the first code block whole and the first token of each syntax-highlighting class (keyword,
# string, ...) of the others: a token class has one colour on one background, and a chapter's
# code holds thousands of tokens in a few colours. (Excluding each repeated token instead costs
# axe a test of every node against every exclusion: 30 s on chapter 5.)
AXE_RUN = """async ([options, colours]) => {
  const noColour = {...options, rules: Object.fromEntries(%s.map(r => [r, {enabled: false}]))};
  const runs = [await axe.run(document, noColour)];
  if (colours) {
    const blocks = [...document.querySelectorAll('div.highlight pre')];
    const seen = new Set(), firsts = blocks.slice(0, 1);
    blocks.slice(1).forEach(b => b.querySelectorAll('span').forEach(s => {
      if (!seen.has(s.className)) { seen.add(s.className); firsts.push(s); }
    }));
    runs.push(await axe.run({include: [document, ...firsts], exclude: blocks},
      {...options, runOnly: {type: 'rule', values: %s}}));
  }
  const all = key => runs.flatMap(r => r[key]);
  const rules = new Set([...all('passes'), ...all('violations'), ...all('incomplete'),
                         ...all('inapplicable')].map(x => x.id));
  return {version: runs[0].testEngine.version, rules: [...rules].sort(),
          incomplete: all('incomplete').map(x => x.id),
          violations: all('violations').map(v => ({id: v.id, impact: v.impact, help: v.help,
            nodes: v.nodes.map(n => n.target.join(' ')).slice(0, 5), count: v.nodes.length}))};
}""" % (json.dumps(list(COLOUR_RULES)), json.dumps(list(COLOUR_RULES)))


def _children_cpu_seconds() -> float | None:
    """CPU time used so far by this process's descendants (the browser), from /proc (Linux):
    the audit's cost on an idle machine, which wall time on a busy one does not show."""
    try:
        tick = os.sysconf("SC_CLK_TCK")
        parent, cpu = {}, {}
        for entry in os.scandir("/proc"):
            if entry.name.isdigit():
                try:
                    fields = open(f"/proc/{entry.name}/stat").read().rsplit(")", 1)[1].split()
                except OSError:
                    continue
                parent[int(entry.name)] = int(fields[1])
                cpu[int(entry.name)] = (int(fields[11]) + int(fields[12])) / tick
    except (OSError, ValueError, AttributeError):
        return None
    total, todo = 0.0, [os.getpid()]
    while todo:
        me = todo.pop()
        for pid, ppid in parent.items():
            if ppid == me:
                total += cpu[pid]
                todo.append(pid)
    return total


def _axe(page, script: str, colours: bool) -> dict:
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        page.evaluate(script)
    return page.evaluate(AXE_RUN, [AXE_OPTIONS, colours])


# A reader's browser shows a page once it has settled; a screenshot must wait for the same:
# web fonts, MathJax, no CSS transition or animation running (the drawers slide when the
# viewport narrows), navigation drawers closed, scrolled to the top left.
SETTLE = """async () => {
  document.querySelectorAll('dialog[open]').forEach(d => d.close());
  document.querySelectorAll('input.sidebar-toggle[type=checkbox]:checked, '
    + '#pst-primary-sidebar-checkbox:checked, #pst-secondary-sidebar-checkbox:checked')
    .forEach(c => { c.checked = false; });
  await document.fonts.ready;
  if (window.MathJax && MathJax.startup && MathJax.startup.promise) await MathJax.startup.promise;
  const frame = () => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)));
  await frame();  // a resize starts its transitions on the next style update
  const t0 = Date.now();
  let running = [];
  for (;;) {
    running = document.getAnimations().filter(a => a.playState === 'running'
      && a.effect && a.effect.getTiming().iterations !== Infinity);
    if (!running.length || Date.now() - t0 > 5000) break;
    await Promise.race([Promise.all(running.map(a => a.finished.catch(() => null))),
                        new Promise(r => setTimeout(r, 1000))]);
    await frame();
  }
  // the theme makes a code box that scrolls focusable (and one that fits not), 300 ms after a
  // resize: a keyboard user meets the settled state
  const scrolls = e => e.scrollWidth > e.clientWidth || e.scrollHeight > e.clientHeight;
  const t1 = Date.now();
  while ([...document.querySelectorAll('pre, .cell_output > .output')]
           .some(e => scrolls(e) !== (e.tabIndex === 0)) && Date.now() - t1 < 3000)
    await new Promise(r => setTimeout(r, 50));
  window.scrollTo(0, 0);
  await frame();
  const doc = document.documentElement;
  return {still_running: running.map(a => (a.transitionProperty || a.animationName || 'animation')
            + ' on ' + (a.effect.target ? a.effect.target.className : '?')),
          sideways: Math.max(0, doc.scrollWidth - doc.clientWidth),
          open_drawers: document.querySelectorAll('dialog[open]').length};
}"""


def _slug(page: str) -> str:
    return page.replace("/", "__")


AHEAD = 2  # pages loading at once: the browser fetches and typesets while we inspect another


def _open(context, url):
    """Start loading a page, recording console errors and failed or off-line requests."""
    page = context.new_page()
    found = {"console": [], "requests": []}
    page.on("console", lambda m: m.type == "error" and found["console"].append(m.text))
    page.on("pageerror", lambda e: found["console"].append(f"uncaught: {e}"))
    page.on("requestfailed", lambda q: found["requests"].append(f"{q.url} ({q.failure})"))
    page.on("response", lambda r: r.status >= 400 and found["requests"].append(
        f"{r.url} (HTTP {r.status})"))

    def offline(route):  # the book must work without a network
        found["requests"].append(f"{route.request.url} (leaves 127.0.0.1)")
        route.abort()
    page.route(re.compile(r"^(?!http://127\.0\.0\.1[:/]|data:|blob:).*"), offline)
    page.goto(url, wait_until="commit")
    return page, found


@pytest.fixture(scope="module")
def visits(browser, site):
    """Open every page once; collect what the checks need; audit it; save the screenshots."""
    SCREENS.mkdir(parents=True, exist_ok=True)
    for old in [*SCREENS.glob("*.png"), *SCREENS.glob("*.jpg")]:
        old.unlink()
    axe_script = _axe_script()
    if axe_script is None and in_ci():
        pytest.fail("CI=true but axe-playwright-python is missing (pip install -r requirements.txt)",
                    pytrace=False)
    context = browser.new_context(viewport={"width": WIDTHS["check"], "height": 900})
    results, capacity = {}, {}
    started = time.monotonic()
    axe_seconds, axe_cpu = 0.0, (0.0 if _children_cpu_seconds() is not None else None)
    queue, upcoming = deque(), iter(PAGES)

    def top_up():
        while len(queue) < AHEAD and (name := next(upcoming, None)) is not None:
            queue.append((name, *_open(context, f"{site}/{name}.html")))

    top_up()
    while queue:
        page_name, page, found = queue.popleft()
        top_up()
        # the tab in front: Chromium throttles animation frames in background tabs (a page opened
        # ahead comes to the front), and the settling below and each screenshot wait for frames:
        # about 5 s per page otherwise
        page.bring_to_front()
        t0 = time.monotonic()
        page.wait_for_load_state("load")
        math_state = page.evaluate(MATH_DONE)
        page.evaluate(IMAGES_DONE)
        info = page.evaluate(INSPECT)
        info.update(found, math_state=math_state, axe={}, settled={})
        t1 = time.monotonic()
        if page_name.startswith("chapters/") and not capacity:
            capacity[WIDTHS["check"]] = page.evaluate(CAPACITY)
            page.set_viewport_size({"width": WIDTHS["wide"], "height": 900})
            capacity[WIDTHS["wide"]] = page.evaluate(CAPACITY)
        for label in ("wide", "phone"):
            width = WIDTHS[label]
            page.set_viewport_size({"width": width, "height": 900})
            if label == "phone":
                info["clipped_maths"] = page.evaluate(CLIPPED_MATHS)
            info["settled"][width] = page.evaluate(SETTLE)
            page.screenshot(path=str(SCREENS / f"{_slug(page_name)}-{width}.jpg"),
                            type="jpeg", quality=80)  # the first screen: full pages cost ~6 s each
            if axe_script is not None:
                ta, ca = time.monotonic(), _children_cpu_seconds()
                info["axe"][width] = _axe(page, axe_script, colours=label == "wide")
                axe_seconds += time.monotonic() - ta
                if ca is not None and axe_cpu is not None:
                    axe_cpu += _children_cpu_seconds() - ca
        info["seconds"] = [round(t1 - t0, 2), round(time.monotonic() - t1, 2)]
        results[page_name] = info
        page.close()
    context.close()
    summary = {"seconds": round(time.monotonic() - started, 1), "axe_seconds": round(axe_seconds, 1),
               "axe_cpu_seconds": None if axe_cpu is None else round(axe_cpu, 1),
               "capacity": capacity, "pages": results}
    summary["axe_summary"] = axe_summary(summary) if axe_script is not None else None
    (SCREENS / "report.json").write_text(json.dumps(summary, indent=1))
    return summary


def axe_summary(visits) -> dict:
    """Pages, rules, violations by impact (each rule counted once per page and width)."""
    pages = visits["pages"]
    audits = [(name, width, audit) for name, info in pages.items()
              for width, audit in info["axe"].items()]
    rules = sorted({r for _, _, audit in audits for r in audit["rules"]})
    by_impact = {impact: 0 for impact in IMPACTS}
    listed = []
    for name, width, audit in audits:
        for v in audit["violations"]:
            by_impact[v["impact"] or "minor"] += 1
            listed.append(f"{v['impact']}: {v['id']} ({v['count']} nodes) on {name} at {width} px: "
                          f"{v['help']}; e.g. {', '.join(v['nodes'][:2])}")
    versions = sorted({audit["version"] for _, _, audit in audits})
    widths = sorted({int(w) for _, w, _ in audits})
    line = (f"axe-core {', '.join(versions)} (WCAG 2.0/2.1 A+AA): {len(pages)} pages at "
            f"{' and '.join(f'{w}' for w in widths)} px (colour rules at {max(widths)} px), "
            f"{len(rules)} rules checked, {visits['axe_seconds']:.0f} s"
            + (f" ({visits['axe_cpu_seconds']:.0f} s of browser CPU, the next page's loading "
               "included)"
               if visits.get("axe_cpu_seconds") is not None else "")
            + "; violations (rule x page x width) by impact: "
            + ", ".join(f"{k} {n}" for k, n in by_impact.items()))
    return {"line": line, "rules": rules, "by_impact": by_impact, "listed": listed}


def _page(visits, name):
    return visits["pages"][name]


@pytest.mark.parametrize("name", PAGES)
def test_console_is_clean_and_every_request_succeeds(visits, name):
    info = _page(visits, name)
    assert not info["console"], f"console errors on {name}: {info['console']}"
    assert not info["requests"], f"failed requests on {name}: {info['requests']}"


@pytest.mark.parametrize("name", PAGES)
def test_mathjax_typeset_all_maths(visits, name):
    info = _page(visits, name)
    assert info["math_state"] in ("typeset", "no maths"), info["math_state"]
    assert not info["math_errors"], f"MathJax errors on {name}: {info['math_errors']}"
    assert not info["untypeset"], f"maths left as TeX on {name}: {info['untypeset']}"
    assert not info["raw_tex"], f"raw TeX in the text of {name}: {info['raw_tex']}"


@pytest.mark.parametrize("name", PAGES)
def test_maths_too_wide_for_a_phone_scrolls_instead_of_being_cut(visits, name):
    info = _page(visits, name)
    assert not info["clipped_maths"], f"maths cut off at 390 px on {name}: {info['clipped_maths']}"


@pytest.mark.parametrize("name", PAGES)
def test_no_code_or_output_box_scrolls_sideways_at_1200px(visits, name):
    info = _page(visits, name)
    assert not info["scrolling"], f"boxes cut off at 1200 px on {name}: {info['scrolling']}"


@pytest.mark.parametrize("name", PAGES)
def test_every_image_loads(visits, name):
    info = _page(visits, name)
    assert not info["broken_images"], f"images that did not load on {name}: {info['broken_images']}"


# A text alternative says what the figure shows (its finding), not only what is plotted: that
# takes a sentence or two. A short label ("Figure 3", "loss curves") or a file name is not one.
ALT_MIN_CHARS, ALT_MIN_WORDS = 80, 12


@pytest.mark.parametrize("name", PAGES)
def test_figures_have_alt_text_that_says_what_they_show(visits, name):
    """Alt text comes from the cell metadata {"mystnb": {"image": {"alt": ...}}}, or from the
    ``alt`` of relucourse.plots.show_panels / responsive for a figure in two layouts."""
    info = _page(visits, name)
    assert not info["no_alt"], f"figures without alt text on {name}: {info['no_alt']}"
    short = [f"{src}: {alt!r}" for src, alt in info["alts"]
             if len(alt) < ALT_MIN_CHARS or len(alt.split()) < ALT_MIN_WORDS]
    assert not short, (f"alt text too short to say what the figure shows on {name} (at least "
                       f"{ALT_MIN_CHARS} characters and {ALT_MIN_WORDS} words): {short}")


@pytest.mark.parametrize("name", PAGES)
def test_no_serious_or_critical_accessibility_violation(visits, name):
    """axe-core, WCAG 2.0/2.1 A and AA, at 1280 and 390 px."""
    info = _page(visits, name)
    if not info["axe"]:
        pytest.skip("axe-playwright-python is not installed (pip install -r requirements.txt)")
    bad = [f"{v['impact']} {v['id']} at {width} px ({v['count']} nodes, e.g. {v['nodes'][:3]}): "
           f"{v['help']}" for width, audit in info["axe"].items() for v in audit["violations"]
           if v["impact"] in AXE_FAILS]
    assert not bad, f"accessibility violations on {name}:\n" + "\n".join(bad)


def test_accessibility_summary(visits, record_property):
    """The audit's summary line and its minor and moderate violations, printed after the run."""
    summary = visits["axe_summary"]
    if summary is None:
        pytest.skip("axe-playwright-python is not installed (pip install -r requirements.txt)")
    assert len(summary["rules"]) >= 40, summary["rules"]  # the WCAG A/AA rule set really ran
    assert all(len(info["axe"]) == 2 for info in visits["pages"].values())
    for line in [summary["line"], *summary["listed"]]:
        record_property("course_summary", line)  # the course's pytest plugin prints these


@pytest.mark.parametrize("name", PAGES)
def test_screenshots_are_taken_of_a_settled_page(visits, name):
    """No transition running, no drawer open, no sideways scrolling (a phone would show it)."""
    for width, state in _page(visits, name)["settled"].items():
        assert not state["still_running"], f"{name} at {width} px: {state['still_running']}"
        assert not state["open_drawers"], f"{name} at {width} px: a drawer is open"
        assert state["sideways"] <= 1, f"{name} scrolls {state['sideways']} px sideways at {width} px"


def test_the_measured_code_area_holds_the_line_limit(visits):
    """tests/unit/test_structure.py allows LINE_LIMIT characters: they must fit at 1200 px."""
    capacity = visits["capacity"]
    assert capacity, "no chapter page with a code cell"
    assert math.floor(capacity[WIDTHS["check"]]) >= LINE_LIMIT, capacity


def test_screenshots_of_every_page(visits):
    for name in PAGES:
        for width in (WIDTHS["wide"], WIDTHS["phone"]):
            shot = SCREENS / f"{_slug(name)}-{width}.jpg"
            assert shot.exists() and shot.stat().st_size > 1000, shot


def test_search_finds_relu(browser, site):
    page = browser.new_page(viewport={"width": WIDTHS["check"], "height": 900})
    page.goto(f"{site}/search.html?q=relu", wait_until="load")
    page.wait_for_selector("ul.search li", timeout=30_000)
    page.wait_for_function("() => document.querySelectorAll('ul.search li p.context').length"
                           " || document.querySelector('p.search-summary')", timeout=30_000)
    results = page.locator("ul.search li").count()
    snippets = page.locator("ul.search li p.context").all_inner_texts()
    page.screenshot(path=str(SCREENS / "search-relu-1200.png"))
    page.close()
    assert results >= 3, f"search for 'relu' found {results} pages"
    assert not [s for s in snippets if s.strip().startswith("Contents")], snippets
    # maths reads as text (course.js rewrites TeX), not as its source
    assert not [s for s in snippets if RAW_TEX.search(s)], snippets
    assert any("ReLU(x) = max(0, x)" in s for s in snippets), snippets  # intro's first formula


RAW_TEX = re.compile(r"\\[a-zA-Z]+|\\[()\[\]]|\$\$")


def test_tex_in_search_snippets_becomes_readable_text(browser, site):
    """The converter course.js applies to each formula of a search snippet."""
    page = browser.new_page()
    page.goto(f"{site}/search.html", wait_until="load")
    cases = {r"\(\mathrm{ReLU}(x) = \max(0, x)\)": "ReLU(x) = max(0, x)",
             r"\(\sigma(z) = \frac{1}{1 + e^{-z}}\)": "σ(z) = 1/(1 + e^(-z))",
             r"\(\mathbb{E}[\phi'^2] \le 1/16\)": "E[φ'²] ≤ 1/16",
             r"\(\text{fan}_\text{in}\operatorname{Var}(w) = 1\)": "fan_in Var(w) = 1",
             r"\[\left(\frac{a+b}{2}\right)^{n-1}\]": "((a+b)/2)^(n-1)",
             r"$$\int_0^\infty \sigma(x - t)\,dt$$": "∫_0^∞ σ(x - t) dt",
             r"\begin{aligned} a &= b \\ c &= \sqrt{2/n} \end{aligned}": "a = b ; c = √(2/n)"}
    got = {tex: page.evaluate("t => courseTexToText(t)", tex) for tex in cases}
    page.close()
    assert got == cases
