#!/usr/bin/env python3
"""The table of exported symbols in docs/abi.md, kept equal to the map.

  abi_table.py check DOCS_DIR MAP   exit 1 if the table and the map differ
  abi_table.py update DOCS_DIR MAP  rewrite the table

Each row is `symbol | since | documented in`. "since" is the map's version
node without its prefix (MTASTS_1.0 -> 1.0). A row keeps its link; a new
symbol is linked to the docs page that has a heading naming it, else the
first page that names it in backquotes; a symbol no page names is an
error (every public function is documented, docs/README.md).
"""
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from api_baseline import map_nodes  # noqa: E402

ROW = re.compile(r"^\| `(mtasts_\w+)` \| ([0-9.]+) \| (.*) \|$")


def anchor(heading):
    a = heading.strip().lower()
    a = re.sub(r"[^\w\- ]", "", a)
    return a.replace(" ", "-")


def find_doc(docs, sym):
    pages = sorted(f for f in os.listdir(docs) if f.endswith(".md")
                   and f not in ("abi.md", "NEWS.md", "README.md"))
    for page in pages:
        for line in open(os.path.join(docs, page), encoding="utf-8"):
            m = re.match(r"^#+ (.*)$", line)
            if m and f"`{sym}`" in m.group(1):
                return f"[{page}]({page}#{anchor(m.group(1))})"
    for page in pages:
        if f"`{sym}" in open(os.path.join(docs, page), encoding="utf-8").read():
            return f"[{page}]({page})"
    return None


def main(argv):
    if len(argv) != 4 or argv[1] not in ("check", "update"):
        print(__doc__, file=sys.stderr)
        return 2
    mode, docs, map_path = argv[1:]
    abi_md = os.path.join(docs, "abi.md")
    text = open(abi_md, encoding="utf-8").read()
    lines = text.split("\n")
    rows = {m.group(1): m for m in map(ROW.match, lines) if m}
    first = next(i for i, l in enumerate(lines) if ROW.match(l))
    last = max(i for i, l in enumerate(lines) if ROW.match(l))
    nodes = map_nodes(map_path)
    errors, new_rows = [], []
    for sym in sorted(nodes):
        since = re.sub(r"^MTASTS_", "", nodes[sym])
        link = rows[sym].group(3) if sym in rows else find_doc(docs, sym)
        if link is None:
            errors.append(f"{sym}: no page in docs/ documents it")
            link = "(undocumented)"
        new_rows.append(f"| `{sym}` | {since} | {link} |")
    counts = {}
    for sym in nodes:
        counts[nodes[sym]] = counts.get(nodes[sym], 0) + 1
    summary = ", ".join(f"{n} in `{node}`" for node, n in sorted(counts.items()))
    new_lines = lines[:first] + new_rows + lines[last + 1:]
    new_text = "\n".join(new_lines)
    new_text = re.sub(r"^All \d+ symbols are in node `[^`]+`;|^The \d+ symbols:[^;]*;",
                      f"The {len(nodes)} symbols: {summary};", new_text,
                      count=1, flags=re.M)
    if mode == "update":
        if new_text != text:
            open(abi_md, "w", encoding="utf-8").write(new_text)
            print(f"abi_table: rewrote the table of {abi_md}")
    elif new_text != text:
        old = set(lines[first:last + 1])
        for r in new_rows:
            if r not in old:
                errors.append(f"missing or different row: {r}")
        for r in sorted(old - set(new_rows)):
            errors.append(f"row not in the map: {r}")
        if not errors:
            errors.append("the symbol count line differs; run update")
    for e in errors:
        print("FAIL:", e)
    print(f"abi_table: {len(nodes)} symbols in the map, {len(rows)} rows; "
          f"{len(errors)} problems")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
