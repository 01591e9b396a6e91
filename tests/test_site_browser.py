"""The built site in a real browser: Debian's Chromium, headless, driven by Playwright.

The site is built once per session (``tests/site_build.py``, shared with the documentation
test), served by ``http.server`` on 127.0.0.1 (port 0) and visited by one browser for the
module: every page at 1280x900 and at 390x844 (a phone), several pages at a time in one
context per viewport. One survey collects everything; the tests below judge it:

- every page loads with no console error, no page error, no failed or 4xx/5xx request and no
  request leaving 127.0.0.1 (the site must work offline; such requests are aborted and listed);
- math is rendered: every ``.arithmatex`` element holds KaTeX output, no ``.katex-error``, and
  no raw ``\\(``, ``\\[`` or ``$...$`` TeX is left in the visible text (outside code);
- nothing is wider than the viewport: ``scrollWidth <= innerWidth`` and no visible element's
  right edge beyond the viewport unless it is inside a horizontal scroll container that itself
  fits (KaTeX's hidden MathML copy and its clipped stretchy SVGs are not visible content);
- search finds a claim by its id and a helper by its name, served and from ``file://``;
- search-result snippets show no raw TeX.

Skipped, with the reason, only when ``/usr/bin/chromium`` is missing (the test command,
``scripts/test.sh``, installs it first through ``scripts/ensure_chromium.sh`` where it can).
"""

from __future__ import annotations

import asyncio
import functools
import json
import os
import re
import threading
import time
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.site_build import built_site, html_pages, once

CHROMIUM = Path("/usr/bin/chromium")
pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason="/usr/bin/chromium is missing (install it: bash scripts/ensure_chromium.sh)",
)

VIEWPORTS = {"desktop": (1280, 900), "mobile": (390, 844)}
PARALLEL = 4  # pages open at once in one context
TIMEOUT_S = 60  # for one page visit or one search, whatever the page's scripts do
RAW_TEX = re.compile(r"\\\(|\\\)|\\\[|\\\]|\$[^$\n]+\$")
SEARCHES = [
    # (query, page the result must link to, anchor it must carry or None)
    ("d000.conv.output-size", "claims/conv.html", "d000-conv-output-size"),
    ("pool_output_size", "claims/pooling.html", None),
]

_PAGE_JS = r"""
() => {
  const vw = window.innerWidth;
  const desc = (el) => {
    let s = el.tagName.toLowerCase();
    if (el.id) s += '#' + el.id;
    const c = [...el.classList].slice(0, 2);
    if (c.length) s += '.' + c.join('.');
    return s;
  };
  const path = (el) => {
    const parts = [];
    for (let e = el, i = 0; e && e !== document.body && i < 4; e = e.parentElement, i++)
      parts.unshift(desc(e));
    return parts.join(' > ');
  };
  const scrollCache = new Map();
  const scrolls = (a) => {
    if (!scrollCache.has(a)) {
      const ox = getComputedStyle(a).overflowX;
      scrollCache.set(a, (ox === 'auto' || ox === 'scroll')
        && a.getBoundingClientRect().right <= vw + 0.5);
    }
    return scrollCache.get(a);
  };
  const bad = new Set();
  const offenders = [];
  for (const el of document.body.getElementsByTagName('*')) {
    const r = el.getBoundingClientRect();
    if (r.right <= vw + 0.5 || (r.width === 0 && r.height === 0)) continue;
    if (!el.checkVisibility({opacityProperty: true, visibilityProperty: true})) continue;
    // KaTeX's own hidden parts: the MathML copy for screen readers (clipped to 1 px) and the
    // stretchy SVGs it draws wide and clips (.hide-tail, overflow hidden) to the formula
    if (el.closest('.katex-mathml, .katex .hide-tail')) continue;
    let inside = false;
    for (let a = el.parentElement; a && a !== document.documentElement; a = a.parentElement)
      if (scrolls(a)) { inside = true; break; }
    if (inside) continue;
    bad.add(el);
    if (el.parentElement && bad.has(el.parentElement)) continue;  // report the outermost
    offenders.push({selector: path(el), width: Math.round(r.width), right: Math.round(r.right)});
  }
  // the visible text outside code and outside KaTeX's output
  const parts = [];
  const seen = new Map();
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let n = walker.nextNode(); n; n = walker.nextNode()) {
    const p = n.parentElement;
    if (!seen.has(p)) seen.set(p, !p.closest('pre, code, script, style, .katex')
      && p.checkVisibility({opacityProperty: true, visibilityProperty: true}));
    if (seen.get(p)) parts.push(n.data);
  }
  const text = parts.join('\n');
  const math = [...document.querySelectorAll('.arithmatex')];
  return {
    scrollWidth: document.documentElement.scrollWidth, innerWidth: vw, offenders,
    arithmatex: math.length,
    unrendered: math.filter((m) => !m.querySelector('.katex'))
      .map((m) => m.innerText.slice(0, 60)),
    katex: document.querySelectorAll('.katex').length,
    katexErrors: [...document.querySelectorAll('.katex-error')]
      .map((e) => e.innerText.slice(0, 60)),
    text,
  };
}
"""


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format, *args):
        pass


def _is_local(url: str) -> bool:
    parts = urlsplit(url)
    if parts.scheme in ("http", "https", "ws", "wss"):
        return parts.hostname == "127.0.0.1"
    return True  # file:, data:, blob:, about:


async def _visit(context, url: str) -> dict[str, dict]:
    """Load one page once and measure it at every viewport (the page is resized from the
    first viewport to the next: the same layout rules apply, and the page's math is rendered
    only once); return ``{viewport: {problems, data}}``."""
    problems: list[str] = []
    page = await context.new_page()
    page.on("console", lambda m: m.type == "error" and problems.append(f"console: {m.text}"))
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    page.on("crash", lambda *_: problems.append("the page crashed"))
    page.on(
        "requestfailed",
        lambda r: _is_local(r.url) and problems.append(f"request failed: {r.url} {r.failure}"),
    )
    page.on("response", lambda r: r.status >= 400 and problems.append(f"HTTP {r.status}: {r.url}"))
    data: dict[str, dict | None] = dict.fromkeys(VIEWPORTS)

    async def run():
        await page.goto(url, wait_until="load")
        try:  # KaTeX renders when material's document$ fires; give it a moment
            await page.wait_for_function(
                "() => [...document.querySelectorAll('.arithmatex')]"
                ".every((m) => m.querySelector('.katex'))",
                timeout=5000,
            )
        except Exception:
            pass  # judged by the math test
        for name, (w, h) in VIEWPORTS.items():
            await page.set_viewport_size({"width": w, "height": h})
            await page.evaluate("() => new Promise((r) => requestAnimationFrame(() => r()))")
            data[name] = await page.evaluate(_PAGE_JS)

    try:  # evaluate has no timeout of its own: a page stuck in a script loop would hang here
        await asyncio.wait_for(run(), TIMEOUT_S)
    except TimeoutError:
        problems.append(f"no answer within {TIMEOUT_S} s (a script loop?)")
    except Exception as e:
        problems.append(f"could not load: {e}")
    finally:
        await _close(page)
    return {name: {"problems": problems, "data": d} for name, d in data.items()}


async def _close(page) -> None:
    try:
        await asyncio.wait_for(page.close(), 10)
    except Exception:
        pass  # a crashed or stuck page: the browser is closed at the end anyway


async def _search(context, index_url: str, query: str) -> dict:
    """Type the query into the search box; return the results' links and texts (or the error:
    a crashed or hung page is a failed search, not a failed survey)."""
    page = await context.new_page()
    crashed: list[str] = []
    page.on("crash", lambda *_: crashed.append("the page crashed"))
    result = {"meta": "", "hrefs": [], "snippets": [], "error": None}

    async def run():
        await page.goto(index_url, wait_until="load")
        await page.focus("input.md-search__input")
        await page.keyboard.type(query)
        try:
            await page.wait_for_selector(".md-search-result__item", timeout=20000)
        except Exception:
            pass  # no result: judged by the test
        result.update(
            await page.evaluate(
                """() => ({
                  meta: document.querySelector('.md-search-result__meta')?.innerText ?? '',
                  hrefs: [...document.querySelectorAll('.md-search-result__item a')]
                    .map((a) => a.getAttribute('href')),
                  snippets: [...document.querySelectorAll('.md-search-result__item')]
                    .map((i) => i.innerText),
                })"""
            )
        )

    try:  # evaluate has no timeout of its own: a page stuck in a script loop would hang here
        await asyncio.wait_for(run(), TIMEOUT_S)
    except TimeoutError:
        result["error"] = f"no answer within {TIMEOUT_S} s (a script loop?)"
    except Exception as e:
        result["error"] = "; ".join([*crashed, f"{type(e).__name__}: {e}"])[:500]
    finally:
        await _close(page)
    return result


async def _survey(site: Path, base: str, rels: list[str]) -> dict:
    from playwright.async_api import async_playwright

    external: list[str] = []

    async def offline(route):
        external.append(route.request.url)
        await route.abort()

    out: dict = {"pages": {}, "search": {}, "external": external, "seconds": {}}
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        try:
            start = time.monotonic()
            w, h = VIEWPORTS["desktop"]
            context = await browser.new_context(viewport={"width": w, "height": h})
            await context.route(lambda url: not _is_local(url), offline)
            gate = asyncio.Semaphore(PARALLEL)

            async def one(rel):
                async with gate:
                    return rel, await _visit(context, base + rel)

            for rel, results in await asyncio.gather(*(one(r) for r in rels)):
                for name, result in results.items():
                    out["pages"][f"{name}|{rel}"] = result
            out["seconds"]["pages"] = round(time.monotonic() - start, 1)
            for query, *_ in SEARCHES:
                out["search"][f"served|{query}"] = await _search(
                    context, base + "index.html", query
                )
            await context.close()
            out["seconds"]["served search"] = round(time.monotonic() - start, 1)
            start = time.monotonic()
            context = await browser.new_context(viewport={"width": 1280, "height": 900})
            await context.route(lambda url: not _is_local(url), offline)
            for query, *_ in SEARCHES:
                out["search"][f"file|{query}"] = await _search(
                    context, (site / "index.html").as_uri(), query
                )
            await context.close()
            out["seconds"]["file search"] = round(time.monotonic() - start, 1)
        finally:
            await browser.close()
    return out


def _pages(survey: dict):
    """((viewport, page), result) for every visit."""
    return [(tuple(key.split("|", 1)), r) for key, r in survey["pages"].items()]


def _run_survey(site: Path) -> dict:
    start = time.monotonic()
    handler = functools.partial(_QuietHandler, directory=str(site))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        rels = [p.relative_to(site).as_posix() for p in html_pages(site)]
        base = f"http://127.0.0.1:{server.server_port}/"
        result = asyncio.run(_survey(site, base, rels))
    finally:
        server.shutdown()
        server.server_close()
    result["rels"] = rels
    result["seconds"]["total"] = round(time.monotonic() - start, 1)
    return result


def _safe_survey(site: Path) -> dict:
    try:
        return _run_survey(site)
    except Exception as e:
        return {"error": f"{type(e).__name__}: {e}"[:2000]}


@pytest.fixture(scope="module")
def survey(tmp_path_factory) -> dict:
    """The survey of the built site, made once per session (xdist workers share it)."""
    site = built_site(tmp_path_factory)
    result = once(tmp_path_factory, "browser-survey", lambda shared: _safe_survey(site))
    if "error" in result:  # recorded, so other xdist workers fail at once instead of retrying
        pytest.fail(f"the browser survey failed: {result['error']}", pytrace=False)
    dump = os.environ.get("LAYERCHECK_SURVEY_DUMP")  # to look at what the browser saw
    if dump:
        Path(dump).write_text(json.dumps(result, indent=1))
    return result


def test_site_has_pages(survey):
    """The survey covers every page a reader reaches from the navigation."""
    from theory.ledger import load_ledger

    topics = {f"claims/{c.topic}.html" for c in load_ledger()}
    wanted = {"index.html", "errata.html", "gpu.html", "report-format.html", "api/index.html"}
    assert wanted | topics <= set(survey["rels"])


def test_pages_load_cleanly_and_offline(survey):
    problems = [
        f"{rel} ({vp}): {msg}"
        for (vp, rel), r in _pages(survey)
        for msg in r["problems"] + ([] if r["data"] else ["no measurements"])
    ]
    problems += [f"request leaving 127.0.0.1 (aborted): {url}" for url in survey["external"]]
    assert not problems, "\n".join(problems)


def test_math_is_rendered(survey):
    bad, formulas = [], 0
    for (vp, rel), r in _pages(survey):
        d = r["data"]
        if vp != "desktop" or d is None:
            continue
        formulas += d["arithmatex"]
        if d["arithmatex"] and not d["katex"]:
            bad.append(f"{rel}: {d['arithmatex']} formulas, no .katex element")
        bad += [f"{rel}: not rendered: {t!r}" for t in d["unrendered"][:5]]
        bad += [f"{rel}: KaTeX error: {t!r}" for t in d["katexErrors"][:5]]
        for m in list(RAW_TEX.finditer(d["text"]))[:5]:
            context = d["text"][max(0, m.start() - 30) : m.end() + 30].replace("\n", " ")
            bad.append(f"{rel}: raw TeX in the visible text: ...{context}...")
    assert formulas > 100  # the claim pages are full of math: the scan sees it
    assert not bad, "\n".join(bad)


def _overflow(survey, viewport: str) -> list[str]:
    found = []
    for (vp, rel), r in _pages(survey):
        d = r["data"]
        if vp != viewport or d is None:
            continue
        found += [
            f"{rel}: {o['selector']} width {o['width']} px, right edge {o['right']} px"
            for o in d["offenders"]
        ]
        if d["scrollWidth"] > d["innerWidth"]:
            found.append(f"{rel}: page scrollWidth {d['scrollWidth']} > {d['innerWidth']} px")
    return found


@pytest.mark.parametrize("viewport", list(VIEWPORTS))
def test_nothing_wider_than_the_viewport(survey, viewport):
    widths = {
        r["data"]["innerWidth"] for (vp, _), r in _pages(survey) if vp == viewport and r["data"]
    }
    assert widths == {VIEWPORTS[viewport][0]}  # every page was measured at this viewport
    found = _overflow(survey, viewport)
    assert not found, f"wider than the {viewport} viewport:\n" + "\n".join(found)


@pytest.mark.parametrize("where", ["served", "file"])
@pytest.mark.parametrize(("query", "page", "anchor"), SEARCHES)
def test_search_finds(survey, where, query, page, anchor):
    r = survey["search"][f"{where}|{query}"]

    def right(href: str) -> bool:
        parts = urlsplit(href)
        if query in parts.fragment:  # an API-reference anchor named after the helper
            return True
        return parts.path.endswith(page) and (anchor is None or parts.fragment == anchor)

    hits = [h for h in r["hrefs"] if h and right(h)]
    assert r["error"] is None, f"search ({where}) for {query!r} failed: {r['error']}"
    assert hits, f"search ({where}) for {query!r}: {r['meta']!r}, links {r['hrefs'][:10]}"


def test_search_snippets_show_no_raw_tex(survey):
    errors = [r["error"] for r in survey["search"].values() if r["error"]]
    assert not errors, "search failed:\n" + "\n".join(errors)
    snippets = [s for r in survey["search"].values() for s in r["snippets"]]
    assert snippets
    raw = [s[:120] for s in snippets if RAW_TEX.search(s)]
    assert not raw, "raw TeX in search results:\n" + "\n".join(raw)


def test_the_overview_filter_shows_exactly_the_chosen_verdict(tmp_path_factory):
    """Clicking a verdict button on the overview leaves exactly the rows of that verdict, as
    many as the button says; "all" brings every row back."""
    from playwright.sync_api import sync_playwright

    index = built_site(tmp_path_factory) / "index.html"
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        try:
            page = browser.new_page()
            page.goto(index.as_uri(), wait_until="load")
            rows = "#claims-table tbody tr"
            total = page.locator(rows).count()
            buttons = page.locator(".verdict-filter button[data-verdict]")
            assert total > 0 and buttons.count() > 0
            for i in range(buttons.count()):
                button = buttons.nth(i)
                verdict = button.get_attribute("data-verdict")
                shown = int(re.search(r"\((\d+)\)", button.inner_text()).group(1))
                button.click()
                visible = page.locator(f"{rows}:not([hidden])")
                assert visible.count() == shown, verdict
                assert {visible.nth(k).get_attribute("data-verdict") for k in range(shown)} == {
                    verdict
                }
                button.click()  # off again
            assert page.locator(f"{rows}:not([hidden])").count() == total
            buttons.nth(0).click()
            page.locator(".verdict-filter-all").click()
            assert page.locator(f"{rows}:not([hidden])").count() == total
        finally:
            browser.close()
