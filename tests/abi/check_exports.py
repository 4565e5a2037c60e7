#!/usr/bin/env python3
"""The exported ABI is exactly the public API (STYLE.md section 8).

Checks that three lists agree:
  1. the functions declared with MTASTS_API in include/mtasts/mtasts.h,
  2. the global names of lib/libmtasts.map,
  3. the defined dynamic symbols of the built libmtasts.so (nm -D),
and that every exported symbol is versioned with a node of the map.
Usage: check_exports.py NM LIBRARY MAP HEADER
"""
import re
import subprocess
import sys


def header_functions(path):
    text = open(path, encoding="utf-8").read()
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    text = re.sub(r"^\s*#(?:[^\n]*\\\n)*[^\n]*", "", text, flags=re.M)
    names = set()
    for decl in re.findall(r"MTASTS_API\s+([^;{]*?)\(", text, flags=re.S):
        m = re.search(r"([A-Za-z_][A-Za-z0-9_]*)\s*$", decl)
        if m:
            names.add(m.group(1))
    return names


def map_symbols(path):
    text = open(path, encoding="utf-8").read()
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    nodes, names = [], set()
    for node, body in re.findall(r"(MTASTS_[0-9.]+)\s*\{(.*?)\}", text, flags=re.S):
        nodes.append(node)
        glob = re.search(r"global:(.*?)(local:|$)", body, flags=re.S)
        if glob:
            for sym in re.findall(r"([A-Za-z_][A-Za-z0-9_]*)\s*;", glob.group(1)):
                names.add(sym)
    return nodes, names


def library_symbols(nm, lib):
    out = subprocess.run([nm, "-D", "--defined-only", lib], check=True,
                         capture_output=True, text=True).stdout
    syms = {}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) < 3:
            continue
        kind, name = parts[1], parts[2]
        if kind == "A":  # the version node itself
            continue
        base, _, version = name.partition("@@")
        if not version:
            base, _, version = name.partition("@")
        syms[base] = (kind, version)
    return syms


def main():
    nm, lib, map_path, header = sys.argv[1:5]
    api = header_functions(header)
    nodes, mapped = map_symbols(map_path)
    exported = library_symbols(nm, lib)
    errors = []
    if not api:
        errors.append("no MTASTS_API declarations found in the header")
    for name in sorted(api - mapped):
        errors.append(f"declared MTASTS_API but not in the map: {name}")
    for name in sorted(mapped - api):
        errors.append(f"in the map but not declared MTASTS_API: {name}")
    for name in sorted(set(exported) - mapped):
        errors.append(f"exported but not in the map: {name}")
    for name in sorted(mapped - set(exported)):
        errors.append(f"in the map but not exported: {name}")
    for name, (kind, version) in sorted(exported.items()):
        if not name.startswith("mtasts_"):
            errors.append(f"exported symbol without the mtasts_ prefix: {name}")
        if kind != "T":
            errors.append(f"exported symbol is not a function ({kind}): {name}")
        if version not in nodes:
            errors.append(f"symbol {name} has version '{version}', not a map node")
    for e in errors:
        print("FAIL:", e)
    print(f"{len(api)} API functions, {len(mapped)} in the map, "
          f"{len(exported)} exported; {len(errors)} problems")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
