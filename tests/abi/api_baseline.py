#!/usr/bin/env python3
"""The public API of mtasts.h as a stable text, and a comparison with a
baseline (docs/abi.md, "Checking the ABI").

  api_baseline.py dump HEADER MAP            print the API description
  api_baseline.py check BASELINE HEADER MAP  compare; exit 1 on a break

The description has one line per item, sorted:
  fn NAME@NODE: RETURN(PARAM TYPES)     an MTASTS_API function and its
                                        version node in the map
  fntype NAME: RETURN(PARAM TYPES)      a callback typedef
  enum TYPE.NAME = VALUE                every enumerator
  struct TYPE.N: MEMBER TYPE            public struct members, in order
  const NAME = VALUE                    numeric #defines (sizes, flags)
  opaque NAME                           typedef struct x x; (no layout)

Parameter names are dropped: renaming a parameter is not a break. A
changed or removed line is a break; a new line is an addition, allowed
unless it went into a version node of the baseline: a released node never
grows (docs/abi.md).
Macros that are versions (MTASTS_VERSION_*) are not part of the ABI.
libabigail's abidiff checks the same library from its DWARF; this check
exists because it reads the header itself, the contract bindings read,
and does not depend on how a compiler describes types.
"""
import re
import sys

NOT_ABI = re.compile(r"^MTASTS_(VERSION_|MTASTS_H$|API$|DEPRECATED$)")
TYPE_WORDS = {"const", "volatile", "unsigned", "signed", "char", "short",
              "int", "long", "float", "double", "void", "_Bool", "bool",
              "struct", "enum", "restrict"}


def strip_comments(text):
    text = re.sub(r"/\*.*?\*/", " ", text, flags=re.S)
    return re.sub(r"//[^\n]*", " ", text)


def norm(s):
    s = re.sub(r"\s+", " ", s).strip()
    s = re.sub(r"\s*\*\s*", "*", s)
    s = re.sub(r"\*(?=[A-Za-z_])", "* ", s)
    s = re.sub(r"\s*([(),\[\]])\s*", r"\1", s)
    return s


def param_type(p):
    """The type of one parameter declaration, without its name."""
    p = norm(p)
    if p in ("void", "..."):
        return p
    m = re.match(r"^(.*?)([A-Za-z_][A-Za-z0-9_]*)(\[[^\]]*\])?$", p)
    if not m:
        raise ValueError(f"cannot read parameter '{p}'")
    head, name, array = m.group(1), m.group(2), m.group(3)
    words = re.findall(r"[A-Za-z_][A-Za-z0-9_]*", head)
    if name in TYPE_WORDS or not words or (
            words and all(w in ("const", "volatile") for w in words)):
        raise ValueError(f"parameter without a name: '{p}'")
    return norm(head + (array or ""))


def split_params(s):
    out, depth, cur = [], 0, ""
    for ch in s:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            out.append(cur)
            cur = ""
        else:
            cur += ch
    if cur.strip():
        out.append(cur)
    return out


def signature(decl):
    """'ret name(params)' -> (name, 'ret(types)')"""
    decl = norm(decl)
    m = re.match(r"^(.*?)([A-Za-z_][A-Za-z0-9_]*)\((.*)\)$", decl)
    if not m:
        raise ValueError(f"cannot read declaration '{decl}'")
    ret, name, params = m.groups()
    ret = re.sub(r"\bMTASTS_DEPRECATED\([^)]*\)", "", ret)
    types = ",".join(param_type(p) for p in split_params(params))
    return name, f"{norm(ret)}({types})"


def map_nodes(path):
    """symbol -> version node, from lib/libmtasts.map"""
    text = strip_comments(open(path, encoding="utf-8").read())
    nodes = {}
    for node, body in re.findall(r"(MTASTS_[A-Z0-9_.]+)\s*\{(.*?)\}", text,
                                 flags=re.S):
        glob = re.search(r"global:(.*?)(local:|$)", body, flags=re.S)
        for sym in re.findall(r"([A-Za-z_]\w*)\s*;", glob.group(1) if glob
                              else ""):
            nodes[sym] = node
    return nodes


def describe(path, map_path):
    nodes = map_nodes(map_path)
    raw = open(path, encoding="utf-8").read()
    text = strip_comments(raw)
    items = []
    for name, value in re.findall(
            r"^\s*#\s*define\s+(MTASTS_[A-Z0-9_]+)[ \t]+([^\n]+)", text,
            flags=re.M):
        if NOT_ABI.match(name) or value.strip().startswith("{"):
            continue
        items.append(f"const {name} = {norm(value)}")
    body = re.sub(r"^\s*#(?:[^\n]*\\\n)*[^\n]*", "", text, flags=re.M)
    for decl in re.findall(r"MTASTS_API\s+([^;{]*?\))\s*;", body, flags=re.S):
        name, sig = signature(decl)
        items.append(f"fn {name}@{nodes.get(name, 'NO-NODE')}: {sig}")
    for decl in re.findall(r"\btypedef\s+([^;{]*?\))\s*;", body, flags=re.S):
        name, sig = signature(decl)
        items.append(f"fntype {name}: {sig}")
    for members, tname in re.findall(
            r"typedef\s+enum\s+\w*\s*\{(.*?)\}\s*(\w+)\s*;", body, flags=re.S):
        for member in members.split(","):
            member = norm(member)
            if not member:
                continue
            if "=" not in member:
                raise ValueError(f"enumerator without a value: {tname}.{member}")
            k, v = (x.strip() for x in member.split("=", 1))
            items.append(f"enum {tname}.{k} = {v}")
    for members, tname in re.findall(
            r"typedef\s+struct\s+\w*\s*\{(.*?)\}\s*(\w+)\s*;", body, flags=re.S):
        for i, member in enumerate(m for m in members.split(";") if m.strip()):
            items.append(f"struct {tname}.{i}: {norm(member)}")
    for tname, alias in re.findall(
            r"typedef\s+struct\s+(\w+)\s+(\w+)\s*;", body):
        items.append(f"opaque {alias}")
    if not any(i.startswith("fn ") for i in items):
        raise ValueError("no MTASTS_API function found")
    return sorted(set(items))


def key(item):
    """What identifies an item across versions (its name)."""
    if item.startswith("fn "):
        return item.split("@", 1)[0]
    return item.split(":", 1)[0] if item.startswith(
        ("fntype ", "struct ")) else item.split(" = ", 1)[0]


def check(baseline_path, header, map_path):
    base = [l.rstrip("\n") for l in open(baseline_path, encoding="utf-8")
            if l.strip() and not l.startswith("#")]
    cur = describe(header, map_path)
    released = {re.sub(r"^fn [^@]*@([^:]*):.*", r"\1", i) for i in base
                if i.startswith("fn ")}
    base_by = {key(i): i for i in base}
    cur_by = {key(i): i for i in cur}
    breaks, added = [], []
    for k, item in sorted(base_by.items()):
        if k not in cur_by:
            breaks.append(f"removed: {item}")
        elif cur_by[k] != item:
            breaks.append(f"changed: {item}\n     now: {cur_by[k]}")
    for k, item in sorted(cur_by.items()):
        if k not in base_by:
            node = re.sub(r"^fn [^@]*@([^:]*):.*", r"\1", item)
            if item.startswith("fn ") and (node in released
                                           or node == "NO-NODE"):
                breaks.append(f"added to a released node: {item}")
            else:
                added.append(item)
    for a in added:
        print(f"added (compatible): {a}")
    for b in breaks:
        print(f"INCOMPATIBLE {b}")
    print(f"api: {len(base)} items in the baseline, {len(cur)} now; "
          f"{len(added)} added, {len(breaks)} incompatible")
    return 1 if breaks else 0


def main(argv):
    if len(argv) == 4 and argv[1] == "dump":
        print("# generated by tests/abi/api_baseline.py dump; do not edit")
        print("\n".join(describe(argv[2], argv[3])))
        return 0
    if len(argv) == 5 and argv[1] == "check":
        return check(argv[2], argv[3], argv[4])
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
