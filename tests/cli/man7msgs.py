#!/usr/bin/env python3
"""tests/cli/man7msgs.py PAGE SRCDIR: every message libpafka(7) quotes is one the shim prints.

PAGE is man/libpafka.7.in: each line after a line `.\\" msg` is a quoted message, its variable parts in
italics (\\fI...\\fR). SRCDIR is src/: the C string literals of its files (adjacent literals joined, as the
compiler does; src/cli left out, it is the pafka command's). A message matches a format string when both
are equal once each italic part and each conversion specification (%s, %llu, %.*s, ...) is one wildcard
and the shim's prefixes ("pafka[PID]: fatal: " on the page, "pafka: " in a format) are dropped. Prints
each message that matches nothing and exits 1; exits 1 too when the page quotes fewer than MIN messages
(so a broken extraction cannot pass). Owns: nothing. May call: the Python standard library.
"""
import os
import re
import sys

MIN = 20
WILD = "\0"
SPEC = re.compile(r"%[-+ #0]*(\*|\d+)?(\.(\*|\d+))?(hh|h|ll|l|L|z|j|t)?[diouxXeEfgGcsp]")
ESCAPES = {r"\-": "-", r"\e": "\\", r"\&": "", r"\(lq": '"', r"\(rq": '"', r"\(aq": "'", r"\(dq": '"'}


def collapse(s):
    return re.sub(WILD + "+", WILD, s)


def page_messages(path):
    lines = open(path, encoding="utf-8").read().split("\n")
    out = []
    for i, line in enumerate(lines):
        if line.strip() == '.\\" msg':
            if i + 1 >= len(lines) or lines[i + 1].startswith("."):
                sys.exit(f"{path}:{i + 1}: a '.\\\" msg' line must be followed by the message's text line")
            out.append((i + 2, lines[i + 1]))
    return out


def normalize_page(text):
    s = re.sub(r"\\fI.*?(\\f[RPB]|$)", WILD, text)  # an italic part: a variable
    s = re.sub(r"\\f[BRPI]", "", s)
    for esc, ch in ESCAPES.items():
        s = s.replace(esc, ch)
    if "\\" in s.replace(WILD, ""):
        raise ValueError(f"an escape this checker does not know in: {text}")
    s = re.sub(r"^pafka\[" + WILD + r"\]: ((fatal|error|warning|debug): )?", "", s)
    return collapse(s)


def c_literals(text):
    """The string literals of C source text, adjacent ones joined (comments and whitespace between)."""
    out, cur, i, n = [], None, 0, len(text)
    while i < n:
        c = text[i]
        if text.startswith("/*", i):
            j = text.find("*/", i + 2)
            i = n if j < 0 else j + 2
        elif text.startswith("//", i):
            j = text.find("\n", i)
            i = n if j < 0 else j + 1
        elif c == '"':
            j, buf = i + 1, []
            while j < n and text[j] != '"':
                if text[j] == "\\" and j + 1 < n:
                    buf.append({"n": "\n", "t": "\t", "\\": "\\", '"': '"', "'": "'"}.get(text[j + 1], text[j + 1]))
                    j += 2
                else:
                    buf.append(text[j])
                    j += 1
            cur = (cur or "") + "".join(buf)
            i = j + 1
        elif c == "'":  # a character constant, so '"' does not open a string
            j = i + 1
            while j < n and text[j] != "'":
                j += 2 if text[j] == "\\" else 1
            if cur is not None:
                out.append(cur)
                cur = None
            i = j + 1
        elif c.isspace():
            i += 1
        else:
            if cur is not None:
                out.append(cur)
                cur = None
            i += 1
    if cur is not None:
        out.append(cur)
    return out


def normalize_format(fmt):
    s = SPEC.sub(WILD, fmt).replace("%%", "%")
    if s.startswith("pafka: "):
        s = s[len("pafka: "):]
    return collapse(s)


def main():
    page, srcdir = sys.argv[1], sys.argv[2]
    formats = set()
    for root, dirs, files in os.walk(srcdir):
        dirs[:] = [d for d in dirs if os.path.join(root, d) != os.path.join(srcdir, "cli")]
        for f in files:
            if f.endswith((".c", ".h")):
                with open(os.path.join(root, f), encoding="utf-8") as fh:
                    formats.update(normalize_format(s) for s in c_literals(fh.read()))
    msgs = page_messages(page)
    bad = 0
    for line, text in msgs:
        if normalize_page(text) not in formats:
            print(f"{page}:{line}: no format string in {srcdir} prints this message: {text}")
            bad += 1
    if len(msgs) < MIN:
        print(f"{page}: only {len(msgs)} quoted messages found, expected at least {MIN}")
        bad += 1
    print(f"{len(msgs)} quoted messages, {bad} problems")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
