"""Fenced code blocks of the hand-written pages, and the rule that checks each by its language.

Used by ``tests/test_docs_examples.py`` (the rules are documented there and on the site's
"How the checker is checked" page). A rule returns nothing when the block passes and raises
``BlockError`` (whose message names the file and line) when it does not; a rule that cannot run
yet (the ``layercheck`` command is missing) calls ``pytest.skip`` with the reason.
"""

from __future__ import annotations

import ast
import contextlib
import doctest
import importlib
import importlib.util
import io
import json
import os
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]

# "README.md" and every Markdown page written by hand under docs/ (the claim pages are generated
# at build time by scripts/gen_pages.py and never exist in docs/; vendored assets hold no pages)
HAND_WRITTEN = ("README.md", "docs")

_FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})(?P<info>.*)$")
_ENV_ASSIGN = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")

# `layercheck` subcommands cheap enough to run in a console block (they read the ledger only)
CHEAP_CONSOLE = (
    ("layercheck", "list"),
    ("layercheck", "show"),
    ("layercheck", "--help"),
    ("python", "-m", "kernels.gpu"),
)


class BlockError(AssertionError):
    """A block breaks its rule (the message names the page and line)."""


@dataclass(frozen=True)
class Block:
    """One fenced code block: its page (relative to the repo root), the line of its opening
    fence (1-based), its language tag ('' when none), its text (fence indentation removed) and
    whether only blank lines separate it from the previous fenced block on the page."""

    page: str
    line: int
    lang: str
    text: str
    follows_block: bool

    @property
    def where(self) -> str:
        return f"{self.page}:{self.line}"

    @property
    def id(self) -> str:
        return f"{self.page}:{self.line}-{self.lang or 'untagged'}"


def pages() -> list[Path]:
    """The hand-written Markdown pages, README first."""
    found = [ROOT / "README.md"]
    found += sorted(p for p in (ROOT / "docs").rglob("*.md") if "assets" not in p.parts)
    return found


def parse_blocks(path: Path) -> list[Block]:
    """Every fenced block of one Markdown page (``` or ~~~, at any indentation)."""
    lines = path.read_text(encoding="utf-8").splitlines()
    rel = path.relative_to(ROOT).as_posix()
    blocks: list[Block] = []
    i = 0
    last_end = None  # index of the closing fence of the previous block
    while i < len(lines):
        m = _FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        indent, fence, info = m["indent"], m["fence"], m["info"].strip()
        lang = info.split()[0].lstrip(".{").rstrip("}") if info else ""
        body: list[str] = []
        j = i + 1
        while j < len(lines):
            close = lines[j].strip()
            if close.startswith(fence) and set(close) == {fence[0]}:
                break
            body.append(lines[j][len(indent) :] if lines[j].startswith(indent) else lines[j])
            j += 1
        follows = last_end is not None and all(not s.strip() for s in lines[last_end + 1 : i])
        text = "\n".join(body) + "\n" if body else ""
        blocks.append(Block(rel, i + 1, lang, text, follows))
        last_end = j
        i = j + 1
    return blocks


def all_blocks() -> list[Block]:
    """The fenced blocks of every hand-written page, in page order."""
    return [b for p in pages() for b in parse_blocks(p)]


@contextlib.contextmanager
def _in_root():
    old = os.getcwd()
    os.chdir(ROOT)
    try:
        yield
    finally:
        os.chdir(old)


# ---------------------------------------------------------------- python


def check_python(block: Block) -> None:
    """Run on its own in a fresh namespace; must not raise and must not print. A top-level bare
    expression with a comment on its line (``f(x)  # 112``) shows a result nobody checks."""
    try:
        tree = ast.parse(block.text)
    except SyntaxError as e:
        raise BlockError(f"{block.where}: python block does not parse: {e}") from e
    src = block.text.splitlines()
    for node in tree.body:
        if isinstance(node, ast.Expr) and not isinstance(node.value, ast.Constant):
            line = src[node.end_lineno - 1]
            if "#" in line[node.end_col_offset :]:
                raise BlockError(
                    f"{block.where}: line {block.line + node.lineno} shows a result in a comment "
                    "that nobody checks; use an assert or a pycon block"
                )
    out, err = io.StringIO(), io.StringIO()
    namespace = {"__name__": "__docs__"}
    with _in_root(), contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            exec(compile(block.text, block.where, "exec"), namespace)
        except Exception as e:
            raise BlockError(f"{block.where}: python block raised {type(e).__name__}: {e}") from e
    if out.getvalue():
        raise BlockError(
            f"{block.where}: python block printed {out.getvalue()[:200]!r}; "
            "use asserts, or a pycon block to show output"
        )


# ---------------------------------------------------------------- pycon


def check_pycon(block: Block) -> None:
    """Check with doctest in a fresh namespace: exact output; ELLIPSIS only for an example
    whose expected output itself contains '...'. Text outside the examples is refused."""
    parser = doctest.DocTestParser()
    parts = parser.parse(block.text, block.where)
    examples = [p for p in parts if isinstance(p, doctest.Example)]
    stray = [p for p in parts if isinstance(p, str) and p.strip()]
    if not examples:
        raise BlockError(f"{block.where}: pycon block has no '>>>' example")
    if stray:
        raise BlockError(f"{block.where}: pycon block has text outside its examples: {stray[0]!r}")
    for ex in examples:
        if "..." in ex.want:
            ex.options[doctest.ELLIPSIS] = True
    test = doctest.DocTest(examples, {"__name__": "__docs__"}, block.where, block.page, 0, None)
    runner = doctest.DocTestRunner(verbose=False)
    report = io.StringIO()
    with _in_root():
        result = runner.run(test, out=report.write, clear_globs=True)
    if result.failed:
        text = report.getvalue().replace(f'File "{block.page}", line ', "block line ")
        raise BlockError(f"{block.where}: pycon block differs from what Python prints:\n{text}")


# ---------------------------------------------------------------- bash / sh


def _command_lines(block: Block) -> list[tuple[int, str]]:
    """(page line, command) for each command: continuations joined, comments/blanks dropped."""
    out: list[tuple[int, str]] = []
    pending, start = "", 0
    for k, raw in enumerate(block.text.splitlines()):
        if not pending:
            start = block.line + 1 + k
        if raw.rstrip().endswith("\\"):
            pending += raw.rstrip()[:-1] + " "
            continue
        line = (pending + raw).strip()
        pending = ""
        if line and not line.startswith("#"):
            out.append((start, line))
    if pending.strip():
        out.append((start, pending.strip()))
    return out


def layercheck_parser():
    """The CLI's argparse parser, or ``pytest.skip`` when the package is not here yet."""
    if importlib.util.find_spec("layercheck") is None:
        pytest.skip("the layercheck package (the lead's, issue 17) is not on this branch yet")
    cli = importlib.import_module("layercheck.cli")
    return cli.build_parser()


def _check_layercheck_args(where: str, args: list[str]) -> None:
    parser = layercheck_parser()
    sink = io.StringIO()
    with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
        try:
            parser.parse_args(args)
        except SystemExit as e:
            if e.code not in (0, None):  # --help exits 0
                raise BlockError(
                    f"{where}: layercheck refuses {shlex.join(args)!r}: {sink.getvalue()[-300:]}"
                ) from None


def _check_script_args(where: str, script: str, args: list[str]) -> None:
    if script in ("scripts/test.sh", "scripts/main.sh"):
        # arguments go to pytest: options can't be told apart cheaply, paths must exist
        for a in args:
            if not a.startswith("-") and ("/" in a or a.endswith(".py")):
                if not (ROOT / a.split("::")[0]).exists():
                    raise BlockError(f"{where}: {script} is given a path that does not exist: {a}")
        return
    # an option must appear in the script or in a module it runs with `python -m`
    text = (ROOT / script).read_text(encoding="utf-8")
    for module in re.findall(r"python -m ([\w.]+)", text):
        spec = importlib.util.find_spec(module)
        if spec is not None and spec.origin and spec.origin.endswith(".py"):
            text += Path(spec.origin).read_text(encoding="utf-8")
    for a in args:
        if a.startswith("--") and a.split("=")[0] not in text:
            raise BlockError(f"{where}: {script} knows no option {a}")


def check_shell_command(where: str, line: str) -> None:
    """One command line shown to the reader must start with a known runner (module docstring
    of tests/test_docs_examples.py lists them)."""
    try:
        words = shlex.split(line, comments=True)
    except ValueError as e:
        raise BlockError(f"{where}: cannot split {line!r}: {e}") from e
    while words and _ENV_ASSIGN.match(words[0]):
        words = words[1:]
    if not words:
        raise BlockError(f"{where}: {line!r} runs nothing")
    head, rest = words[0], words[1:]
    if head == "bash" and rest:
        script = rest[0]
        if not (ROOT / script).is_file():
            raise BlockError(f"{where}: no script {script}")
        _check_script_args(where, script, rest[1:])
        return
    if head == "layercheck":
        _check_layercheck_args(where, rest)
        return
    if head == ".venv/bin/mkdocs" and rest[:1] in (["serve"], ["build"]):
        if any(not a.startswith("-") for a in rest[1:]):
            raise BlockError(f"{where}: mkdocs {rest[0]} takes options only: {line!r}")
        return
    if head == "python" and len(rest) >= 2 and rest[0] == "-m":
        module = rest[1]
        if module == "layercheck":
            _check_layercheck_args(where, rest[2:])
            return
        if importlib.util.find_spec(module) is None:
            raise BlockError(f"{where}: no module {module}")
        return
    raise BlockError(f"{where}: {line!r} does not start with a known runner")


def check_bash(block: Block) -> None:
    """Static check of every command line of a bash/sh block."""
    commands = _command_lines(block)
    if not commands:
        raise BlockError(f"{block.where}: shell block has no command")
    for line_no, line in commands:
        check_shell_command(f"{block.page}:{line_no}", line)


# ---------------------------------------------------------------- console


def _console_argv(where: str, command: str) -> list[str]:
    words = shlex.split(command)
    if not any(tuple(words[: len(c)]) == c for c in CHEAP_CONSOLE):
        raise BlockError(
            f"{where}: {command!r} is not a cheap command (console blocks may run only "
            + ", ".join(" ".join(c) for c in CHEAP_CONSOLE)
            + "); show it in a bash block instead"
        )
    if words[0] == "layercheck":
        layercheck_parser()  # skips while the package is missing
        return [sys.executable, "-m", "layercheck", *words[1:]]
    return [sys.executable, *words[1:]]


def check_console(block: Block) -> None:
    """Run each `$ command` (cheap ones only) and compare its stdout with the lines after it."""
    runs: list[tuple[int, str, list[str]]] = []
    for k, line in enumerate(block.text.splitlines()):
        if line.startswith("$ "):
            runs.append((block.line + 1 + k, line[2:].strip(), []))
        elif runs:
            runs[-1][2].append(line)
        elif line.strip():
            raise BlockError(f"{block.where}: console block starts with output, not '$ command'")
    if not runs:
        raise BlockError(f"{block.where}: console block has no '$ command' line")
    for line_no, command, expected in runs:
        where = f"{block.page}:{line_no}"
        argv = _console_argv(where, command)
        done = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=120)
        got = [s.rstrip() for s in done.stdout.rstrip("\n").splitlines()]
        want = [s.rstrip() for s in "\n".join(expected).rstrip("\n").splitlines()]
        if got != want:
            raise BlockError(
                f"{where}: `{command}` prints\n"
                + "\n".join(got)
                + "\nbut the page shows\n"
                + "\n".join(want)
            )


# ---------------------------------------------------------------- data


def check_json(block: Block) -> None:
    try:
        json.loads(block.text)
    except ValueError as e:
        raise BlockError(f"{block.where}: json block does not parse: {e}") from e


def check_yaml(block: Block) -> None:
    """Parse; a mapping with id, statement and verdict is a ledger record and must validate."""
    from theory.ledger import _check

    try:
        data = yaml.safe_load(block.text)
    except yaml.YAMLError as e:
        raise BlockError(f"{block.where}: yaml block does not parse: {e}") from e
    records = data if isinstance(data, list) else [data]
    for rec in records:
        if isinstance(rec, dict) and {"id", "statement", "verdict"} <= set(rec):
            topic = str(rec["id"]).split(".")[1] if "." in str(rec["id"]) else ""
            try:
                _check(dict(rec), block.where, topic)
            except Exception as e:
                raise BlockError(f"{block.where}: ledger record is invalid: {e}") from e


def check_text(block: Block) -> None:
    """A text block is an illustration (a diagram), never output: it may not directly follow
    another code block, and it may not hold prompt lines."""
    if block.follows_block:
        raise BlockError(
            f"{block.where}: a text block right after a code block looks like its output, which "
            "nothing checks; use a pycon or console block"
        )
    for k, line in enumerate(block.text.splitlines()):
        if line.lstrip().startswith((">>>", "$ ")):
            raise BlockError(
                f"{block.page}:{block.line + 1 + k}: a text block shows a prompt; "
                "use a pycon or console block"
            )


RULES = {
    "python": check_python,
    "pycon": check_pycon,
    "bash": check_bash,
    "sh": check_bash,
    "console": check_console,
    "json": check_json,
    "yaml": check_yaml,
    "text": check_text,
}


def check_block(block: Block) -> None:
    """Apply the rule of the block's language; no tag or an unknown tag fails."""
    rule = RULES.get(block.lang)
    if rule is None:
        what = f"unknown language {block.lang!r}" if block.lang else "no language tag"
        raise BlockError(
            f"{block.where}: code block with {what}; tag it with one of {sorted(RULES)}"
        )
    rule(block)
