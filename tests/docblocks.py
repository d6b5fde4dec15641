"""The code blocks of the Markdown docs that the docs test runs, with the marks that say how.

Every fenced block whose info string is `sh` or `python` runs (tests/test_docs.py). What it may
run instead of its long parts is written in the page, in HTML comments on the lines right above
the block's opening fence (GitHub shows nothing of them):

    <!-- docs-test: replace "OLD" "NEW" -->   run the block with OLD replaced by NEW (which
                                              must occur)
    <!-- docs-test: background URL -->        start the block, wait until URL answers; it is stopped
                                              when the page's last block has run
    <!-- docs-test: skip REASON -->           never run (a full training, an install): rare

Several marks may stand above one block. NEW, URL and the blocks themselves may use $DOCS_MODELS
(a tiny ensemble trained once per test session) and $DOCS_PORT (a free port for the page).
"""
import re
import shlex
from dataclasses import dataclass, field

RUN_LANGUAGES = ("sh", "python")
MARK = re.compile(r"^ {0,3}<!--\s*docs-test:\s*(?P<body>.*?)\s*-->\s*$")
FENCE = re.compile(r"^(?P<indent>\s*)(?P<fence>`{3,}|~{3,})\s*(?P<info>[^`\s]*)")


class MarkError(ValueError):
    """A docs-test mark that cannot be read, or that does not fit its block."""


@dataclass
class Block:
    """One fenced block: its page, the line of its opening fence, language and code as written."""
    page: str
    line: int
    language: str
    code: str
    replacements: list = field(default_factory=list)   # (old, new) pairs, in order
    background: str = None                              # URL to wait for
    skip: str = None                                    # the reason

    @property
    def runs(self):
        return self.language in RUN_LANGUAGES and self.skip is None

    def where(self):
        return f"{self.page}:{self.line}"

    def code_to_run(self):
        """The code with its replacements made; a replacement whose text is absent is an error."""
        code = self.code
        for old, new in self.replacements:
            if old not in code:
                raise MarkError(f"{self.where()}: replace: {old!r} does not occur in the block")
            code = code.replace(old, new)
        return code


def _apply_mark(block, body):
    kind, _, rest = body.partition(" ")
    if kind == "skip":
        if not rest.strip():
            raise MarkError(f"{block.where()}: skip needs a reason")
        block.skip = rest.strip()
    elif kind == "replace":
        words = shlex.split(rest)
        if len(words) != 2:
            raise MarkError(f"{block.where()}: replace takes two quoted strings (got {rest!r})")
        block.replacements.append(tuple(words))
    elif kind == "background":
        if not rest.strip():
            raise MarkError(f"{block.where()}: background needs the URL to wait for")
        block.background = rest.strip()
    else:
        raise MarkError(f"{block.where()}: unknown docs-test mark {kind!r} "
                        f"(known: replace, background, skip)")


def _closing(lines, start, fence, indent):
    """Index of the line that closes the fence opened on line `start`."""
    for index in range(start + 1, len(lines)):
        stripped = lines[index].strip()
        if stripped.startswith(fence[0] * len(fence)) and not stripped.strip(fence[0]):
            return index
    raise MarkError(f"line {start + 1}: code block never closed")


def _dedent(line, indent):
    return line[len(indent):] if line.startswith(indent) else line.lstrip()


def read_blocks(text, page):
    """Every fenced block of the Markdown `text` with its marks, in page order."""
    lines = text.splitlines()
    blocks, marks, index = [], [], 0
    while index < len(lines):
        line = lines[index]
        mark, fence = MARK.match(line), FENCE.match(line)
        if mark:
            marks.append(mark.group("body"))
        elif fence:
            end = _closing(lines, index, fence.group("fence"), fence.group("indent"))
            code = "\n".join(_dedent(body, fence.group("indent"))
                             for body in lines[index + 1:end]) + "\n"
            block = Block(page, index + 1, fence.group("info").lower(), code)
            for body in marks:
                _apply_mark(block, body)
            if marks and block.language not in RUN_LANGUAGES:
                kind = block.language or "plain"
                raise MarkError(f"{block.where()}: docs-test marks above a {kind} block, "
                                f"which never runs")
            blocks.append(block)
            marks, index = [], end
        elif line.strip() and marks:
            raise MarkError(f"{page}:{index + 1}: a docs-test mark must stand right above a "
                            f"code block")
        index += 1
    if marks:
        raise MarkError(f"{page}: a docs-test mark at the end of the page, above no block")
    return blocks
