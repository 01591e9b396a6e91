"""Executable documentation: every fenced code block of the hand-written pages is checked.

The pages are ``README.md`` and every ``docs/**/*.md`` (the claim pages are generated at build
time and hold no code blocks; a test on the built site makes sure of it). Each block is checked
by the rule of its language tag (``tests/docs_blocks.py``); a block with no tag or an unknown
tag fails, naming the page and line.

``python``
    Runs on its own: exec'd in a fresh namespace with the repository root as working directory;
    it must not raise, and it must not print (show results with asserts, or in a ``pycon``
    block). A top-level bare expression with a comment on its line (``f(224)  # 112``) is a
    result nobody checks and fails too.
``pycon``
    ``>>>`` / ``...`` examples with their expected output, run by the standard library's doctest
    in a fresh namespace per block: exact output; ``ELLIPSIS`` is enabled only for an example
    whose expected output itself contains ``...``. Text outside the examples fails.
``bash`` / ``sh``
    Commands shown to the reader, checked without running them: each command line (``\\``
    continuations joined, comments and blank lines ignored), after optional ``VAR=value``
    assignments, must start with a known runner: ``bash <script> [args]`` (the script exists;
    paths given to ``scripts/test.sh``/``scripts/main.sh`` exist, ``--options`` of other scripts
    appear in the script), ``layercheck <args>`` or ``python -m layercheck <args>`` (accepted by
    ``layercheck.cli.build_parser()``; skipped while the package is not on this branch),
    ``.venv/bin/mkdocs serve|build [options]``, or ``python -m <module>`` (importable).
``console``
    ``$ command`` lines followed by their expected output. Only cheap commands are allowed
    (``layercheck list``, ``layercheck show``, ``layercheck --help``, ``python -m kernels.gpu``);
    each is run and its stdout compared exactly (trailing whitespace ignored).
``json`` / ``yaml``
    Must parse; a YAML mapping with ``id``, ``statement`` and ``verdict`` is a ledger record and
    must pass the ledger's own validation (``theory.ledger._check``).
``text``
    An illustration (a diagram), never output: it fails when only blank lines separate it from
    the code block before it (that would be unchecked output; use ``pycon`` or ``console``) or
    when it holds a ``>>>`` or ``$`` prompt.

``test_site_code_blocks_are_checked`` builds the site (once per session, shared with the browser
test) and requires every ``<pre>`` code block of every page to be a block checked here, from that
page's source: a code block emitted by the page generator, or one on a page not scanned, fails.
The API reference (``api/<module>.html``, rendered from docstrings) has two kinds of block, with
rules of their own:

* docstring examples (``>>>``): every example in the docstrings of every public module runs
  under doctest (``test_docstring_examples``), and each example shown on the module's page must
  be one of them, with the same expected output;
* signatures (``div.doc-signature``): the parameter names shown must be those of the object
  itself (``inspect.signature``), and a constant's shown value must equal its value.

Not linked to a claim: a failure here is not evidence about any one claim. It still fails the
test run and the verification run (pytest status).
"""

from __future__ import annotations

import ast
import doctest
import importlib
import importlib.util
import inspect
from html.parser import HTMLParser
from pathlib import Path

import pytest

from tests import docs_blocks
from tests.site_build import built_site, html_pages
from theory.ledger import resolve

BLOCKS = docs_blocks.all_blocks()


def test_pages_are_found():
    names = {p.relative_to(docs_blocks.ROOT).as_posix() for p in docs_blocks.pages()}
    assert {"README.md", "docs/helpers.md", "docs/conventions.md", "docs/trust.md"} <= names
    assert sum(b.page == "docs/helpers.md" for b in BLOCKS) >= 9


@pytest.mark.parametrize("block", BLOCKS, ids=[b.id for b in BLOCKS])
def test_code_block(block: docs_blocks.Block):
    docs_blocks.check_block(block)


# ---------------------------------------------------------------- the rules reject what they should


def _block(lang: str, text: str, follows: bool = False) -> docs_blocks.Block:
    return docs_blocks.Block("docs/x.md", 3, lang, text, follows)


@pytest.mark.parametrize(
    ("lang", "text", "message"),
    [
        ("", "x = 1\n", "no language tag"),
        ("pyhton", "x = 1\n", "unknown language"),
        ("python", "print(1)\n", "printed"),
        ("python", "sympy.Symbol('x')\n", "NameError"),
        ("python", "abs(-2)  # 2\n", "nobody checks"),
        ("pycon", ">>> 1 + 1\n3\n", "differs"),
        ("pycon", ">>> 1 + 1\n2\n\nsome prose\n", "outside"),
        ("pycon", ">>> print('a b c')\na ... c\n", None),  # ELLIPSIS where the output says ...
        ("pycon", ">>> print('abc')\nabc\n>>> print('a b c')\na b c\n", None),
        ("bash", "rm -rf build\n", "known runner"),
        ("bash", "bash scripts/nope.sh\n", "no script"),
        ("bash", "bash scripts/bench.sh --fast\n", "no option"),
        ("bash", "bash scripts/test.sh tests/test_nope.py\n", "does not exist"),
        ("bash", "python -m no_such_module_here\n", "no module"),
        ("bash", "X=1 bash scripts/test.sh \\\n  tests/test_linear.py  # one file\n", None),
        ("console", "$ bash scripts/main.sh\n", "not a cheap command"),
        ("json", "{'a': 1}\n", "does not parse"),
        ("yaml", "a: [1\n", "does not parse"),
        ("yaml", "id: d000.conv.x\nstatement: s\nverdict: holds\n", "ledger record is invalid"),
        ("console", "$ python -m kernels.gpu\nnot what it prints\n", "but the page shows"),
        ("text", "a -> b\n", None),
        ("text", ">>> 1\n", "prompt"),
    ],
)
def test_rules_reject(lang, text, message):
    block = _block(lang, text)
    if message is None:
        docs_blocks.check_block(block)
        return
    with pytest.raises(docs_blocks.BlockError, match=message) as info:
        docs_blocks.check_block(block)
    assert "docs/x.md:" in str(info.value)  # names the page and line


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("layercheck list --verdict refuted", None),
        ("python -m layercheck show d000.conv.output-size --format json", None),
        ("layercheck frobnicate", "refuses"),
    ],
)
def test_layercheck_commands_are_checked_by_its_parser(line, message):
    block = _block("bash", line + "\n")  # skips while the layercheck package is missing
    if message is None:
        docs_blocks.check_block(block)
    else:
        with pytest.raises(docs_blocks.BlockError, match=message):
            docs_blocks.check_block(block)


def test_a_real_ledger_record_passes_and_a_broken_one_fails():
    import yaml

    record = yaml.safe_load((docs_blocks.ROOT / "theory/claims/conv.yaml").read_text())
    record = record[0] if isinstance(record, list) else record
    docs_blocks.check_block(_block("yaml", yaml.safe_dump(record)))
    with pytest.raises(docs_blocks.BlockError, match="ledger record is invalid"):
        docs_blocks.check_block(_block("yaml", yaml.safe_dump({**record, "verdict": "maybe"})))


def test_ellipsis_only_where_the_output_writes_it():
    with pytest.raises(docs_blocks.BlockError, match="differs"):
        docs_blocks.check_block(_block("pycon", ">>> list(range(3))\n[0, 1, 2, 3]\n"))
    docs_blocks.check_block(_block("pycon", ">>> list(range(30))\n[0, 1, ..., 29]\n"))


def test_text_right_after_a_block_is_refused():
    with pytest.raises(docs_blocks.BlockError, match="looks like its output"):
        docs_blocks.check_block(_block("text", "112\n", follows=True))


def test_parse_blocks_lines_and_tags(tmp_path, monkeypatch):
    page = tmp_path / "p.md"
    page.write_text(
        "# t\n\n```python\nx = 1\n```\n\n```\nraw\n```\n\n"
        "- item\n\n    ~~~yaml\n    a: 1\n    ~~~\n"
    )
    monkeypatch.setattr(docs_blocks, "ROOT", tmp_path)
    blocks = docs_blocks.parse_blocks(page)
    assert [(b.line, b.lang, b.text, b.follows_block) for b in blocks] == [
        (3, "python", "x = 1\n", False),
        (7, "", "raw\n", True),
        (13, "yaml", "a: 1\n", False),
    ]


# ---------------------------------------------------------------- the built site


class _PreText(HTMLParser):
    """The text of every <pre> element (its text nodes concatenated, entities resolved), with
    the id of the last heading before it and whether it is a mkdocstrings signature."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.blocks: list[str] = []
        self.where: list[tuple[str, bool]] = []  # (last heading id, is a signature)
        self._depth = 0
        self._heading = ""
        self._signature = False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag in ("h1", "h2", "h3", "h4", "h5", "h6") and attrs.get("id"):
            self._heading = attrs["id"]
        if tag == "div" and "doc-signature" in (attrs.get("class") or "").split():
            self._signature = True
        if tag == "pre":
            if self._depth == 0:
                self.blocks.append("")
                self.where.append((self._heading, self._signature))
                self._signature = False
            self._depth += 1

    def handle_endtag(self, tag):
        if tag == "pre" and self._depth:
            self._depth -= 1

    def handle_data(self, data):
        if self._depth:
            self.blocks[-1] += data


def _public_modules() -> list[str]:
    spec = importlib.util.spec_from_file_location(
        "gen_api", Path(__file__).resolve().parents[1] / "scripts" / "gen_api.py"
    )
    gen_api = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gen_api)
    return gen_api.public_modules()


MODULES = _public_modules()


def _doctests(module: str) -> list[doctest.DocTest]:
    finder = doctest.DocTestFinder(exclude_empty=True)
    found = finder.find(importlib.import_module(module), module)
    return [t for t in found if t.examples and t.name.startswith(module)]


def _flags(example: doctest.Example) -> int:
    return doctest.ELLIPSIS if "..." in example.want else 0


@pytest.mark.parametrize("module", [m for m in MODULES if _doctests(m)])
def test_docstring_examples(module: str):
    """Every ``>>>`` example in the module's docstrings gives its shown output (the API
    reference shows them)."""
    runner = doctest.DocTestRunner(optionflags=0)
    for test in _doctests(module):
        for example in test.examples:
            example.options = {doctest.ELLIPSIS: True} if _flags(example) else {}
        result = runner.run(test, out=lambda s: None)
        assert result.failed == 0, f"{test.name}: {result.failed} of {result.attempted} failed"


def _shown_examples_are_run(module: str, text: str) -> str | None:
    """``None`` when every example of ``text`` is an example of ``module``'s docstrings
    (same source, same output); else why not."""
    shown = doctest.DocTestParser().get_examples(text)
    if not shown:
        return "no >>> examples"
    known = {(e.source, e.want) for t in _doctests(module) for e in t.examples}
    for e in shown:
        if (e.source, e.want) not in known:
            return f"example not in {module}'s docstrings: {e.source.strip()[:60]!r}"
    return None


def _signature_matches(dotted: str, text: str) -> str | None:
    """``None`` when the signature block ``text`` shown under the heading ``dotted`` names the
    object's own parameters (or its value, for a constant); else why not."""
    try:
        obj = resolve(dotted)
    except (ValueError, ImportError) as e:
        return f"heading {dotted!r} names no object: {e}"
    name = dotted.rsplit(".", 1)[1]
    body = " ".join(text.split())
    if body.startswith(f"{name}("):
        try:
            node = ast.parse(f"def {body}: pass").body[0]
        except SyntaxError as e:
            return f"signature does not parse: {e}"
        args = node.args
        order = (*args.posonlyargs, *args.args, args.vararg, *args.kwonlyargs, args.kwarg)
        shown = [a.arg for a in order if a is not None]
        real = list(inspect.signature(obj).parameters)
        drop = {"self", "cls"}
        if [a for a in shown if a not in drop] != [a for a in real if a not in drop]:
            return f"parameters shown {shown}, real {real}"
        return None
    try:
        node = ast.parse(body).body[0]
    except SyntaxError as e:
        return f"does not parse: {e}"
    if not isinstance(node, ast.Assign | ast.AnnAssign):
        return "neither a call signature nor an assignment"
    target = node.targets[0] if isinstance(node, ast.Assign) else node.target
    if not isinstance(target, ast.Name) or target.id != name:
        return f"assigns {ast.unparse(target)!r}, not {name!r}"
    if node.value is not None and not any(isinstance(n, ast.Name) for n in ast.walk(node.value)):
        try:
            value = eval(compile(ast.Expression(node.value), "<signature>", "eval"), {})
        except Exception as e:  # an expression we cannot evaluate alone: only the name is checked
            return None if "..." in body else f"value does not evaluate: {e}"
        if value != obj:
            return f"shown value {value!r}, real {obj!r}"
    return None


def _normalize(text: str) -> str:
    return "\n".join(line.rstrip() for line in text.strip("\n").splitlines()).strip("\n")


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    return built_site(tmp_path_factory)


def test_site_code_blocks_are_checked(site: Path):
    sources: dict[str, set[str]] = {}
    for b in BLOCKS:
        if b.page.startswith("docs/"):
            html = Path(b.page).relative_to("docs").with_suffix(".html").as_posix()
            sources.setdefault(html, set()).add(_normalize(b.text))
    unchecked, seen = [], 0
    for page in html_pages(site):
        rel = page.relative_to(site).as_posix()
        parser = _PreText()
        parser.feed(page.read_text(encoding="utf-8"))
        for text, (heading, signature) in zip(parser.blocks, parser.where, strict=True):
            seen += 1
            first = (_normalize(text).splitlines()[:1] or [""])[0][:80]
            if rel.startswith("api/") and rel != "api/index.html":
                module = rel.removeprefix("api/").removesuffix(".html")
                why = (
                    _signature_matches(heading, text)
                    if signature
                    else _shown_examples_are_run(module, text)
                )
                if why:
                    unchecked.append(f"{rel}: {first!r}: {why}")
            elif _normalize(text) not in sources.get(rel, set()):
                unchecked.append(f"{rel}: {first!r}")
    assert seen >= sum(len(v) for v in sources.values()) > 0  # the scan sees the blocks
    assert not unchecked, "code blocks on the site that no rule checks:\n" + "\n".join(unchecked)


def test_api_rules_fail_on_wrong_signatures_values_and_examples():
    real = (
        "conv_output_size("
        + ", ".join(inspect.signature(resolve("theory.conv.conv_output_size")).parameters)
        + ")"
    )
    assert _signature_matches("theory.conv.conv_output_size", real) is None
    wrong = _signature_matches("theory.conv.conv_output_size", "conv_output_size(size, k)")
    assert wrong.startswith("parameters shown ['size', 'k']")
    assert _signature_matches("theory.conv.MAX_STACK", "MAX_STACK = 10 ** 4") is None
    assert "shown value 1000" in _signature_matches("theory.conv.MAX_STACK", "MAX_STACK = 10**3")
    assert "names no object" in _signature_matches("theory.conv.nope", "nope()")
    ok = ">>> conv_params(64, 128, 3)\n73856\n"
    assert _shown_examples_are_run("theory.conv", ok) is None
    bad = ok.replace("73856", "73857")
    assert "example not in theory.conv's docstrings" in _shown_examples_are_run("theory.conv", bad)


def test_ci_runs_exactly_the_readme_test_command():
    """CI must test what a new user runs: ``.ci/run`` does nothing but the README's test
    command (anything the tests need, like Chromium, belongs in that command)."""
    root = Path(__file__).resolve().parents[1]
    quick = root.joinpath("README.md").read_text().split("## Quick start", 1)[1]
    block = quick.split("```bash\n", 1)[1].split("```", 1)[0]
    test_cmd = next(
        line.split("#")[0].strip() for line in block.splitlines() if "test" in line.split("#")[0]
    )
    assert test_cmd == "bash scripts/test.sh"
    lines = [
        line.strip()
        for line in root.joinpath(".ci/run").read_text().splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
    assert lines == ["set -euo pipefail", 'cd "$(dirname "$0")/.."', f"exec {test_cmd}"]
