#!/usr/bin/env python3
"""Sorts the `deps` lists of BUILD files the way buildifier does.

Order: local labels (":x") first, then labels of this workspace ("//a:b"),
then external ones ("@r//a:b"); each group lexicographically; duplicates
removed. Only lists made of string literals alone are touched (a list with a
comment, a variable or a `+` is left as written).

  ops/sort_build_deps.py            rewrite every BUILD file under the tree
  ops/sort_build_deps.py --check    list unsorted files, exit 1 if any
  ops/sort_build_deps.py FILE...    only these files
"""
import os
import re
import sys

_LIST = re.compile(r'(\bdeps = \[)([^\[\]]*)(\])')
_LITERAL = re.compile(r'\s*"([^"\\]*)"\s*,?\s*')


def _key(label):
    return (0 if label.startswith(":") else 1 if label.startswith("//") else 2, label)


def _sorted_list(match):
    head, body, tail = match.groups()
    labels = []
    rest = body
    while rest.strip():
        m = _LITERAL.match(rest)
        if not m:
            return match.group(0)  # not a plain list of strings: leave it
        labels.append(m.group(1))
        rest = rest[m.end():]
    if not labels:
        return match.group(0)
    ordered = sorted(set(labels), key=_key)
    if "\n" not in body:
        return head + ", ".join('"%s"' % l for l in ordered) + tail
    indent = re.search(r"\n([ \t]*)\S", body).group(1)
    closing = re.search(r"\n([ \t]*)$", body)
    closing = closing.group(1) if closing else ""
    return head + "\n" + "".join('%s"%s",\n' % (indent, l) for l in ordered) + closing + tail


def sort_text(text):
    return _LIST.sub(_sorted_list, text)


def build_files(root):
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if not d.startswith((".", "bazel-")) and d != "node_modules"]
        for f in filenames:
            if f in ("BUILD", "BUILD.bazel"):
                yield os.path.join(dirpath, f)


def main(argv):
    check = "--check" in argv
    files = [a for a in argv if a != "--check"]
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    unsorted = []
    for path in files or build_files(root):
        with open(path, encoding="utf-8") as f:
            text = f.read()
        new = sort_text(text)
        if new != text:
            unsorted.append(os.path.relpath(path, root))
            if not check:
                with open(path, "w", encoding="utf-8") as f:
                    f.write(new)
    for path in unsorted:
        print(("unsorted: " if check else "sorted: ") + path)
    return 1 if check and unsorted else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
