#!/usr/bin/env python3
"""Count test results in meson testlog.json files.

Usage: testlog-summary.py TESTLOG.json [TESTLOG.json ...]
Prints 'N passed, N failed, N skipped' for all the files together (the
one line CI reads) and exits 1 if a test failed or no test ran at all.
"""
import json
import sys

PASSED = {"OK", "EXPECTEDFAIL"}
SKIPPED = {"SKIP"}

passed = failed = skipped = 0
for path in sys.argv[1:]:
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            result = json.loads(line).get("result")
            if result in PASSED:
                passed += 1
            elif result in SKIPPED:
                skipped += 1
            else:
                failed += 1
print(f"{passed} passed, {failed} failed, {skipped} skipped")
sys.exit(0 if failed == 0 and passed > 0 else 1)
