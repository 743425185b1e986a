#!/usr/bin/env bash
# Every Catch2 test name must be one ctest entry that runs it: ctest splits a name
# at ';' into two entries that match nothing, and Catch2 reads a name starting
# with '-' as an option. Either way the test would not run (--warn NoTests then
# fails it, far from the cause); this names the culprit instead.
# Usage: bash test_test_names.sh [path-to-cmop-binary]   (the binary is not used)
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
src=${CMOP_SOURCE_DIR:-$(cd "$here/../.." && pwd)}
python3 - "$src/test" <<'PY'
import glob, re, sys
bad = []
for path in sorted(glob.glob(sys.argv[1] + "/**/*.cpp", recursive=True)):
    text = open(path, encoding="utf-8", errors="replace").read()
    for m in re.finditer(r'TEST_CASE\(\s*((?:"(?:[^"\\]|\\.)*"\s*)+)', text):
        name = "".join(re.findall(r'"((?:[^"\\]|\\.)*)"', m.group(1)))
        if ";" in name or name.startswith("-"):
            line = text.count("\n", 0, m.start()) + 1
            bad.append("%s:%d: %s" % (path, line, name))
for b in bad:
    print("FAIL: a test name with ';' or a leading '-': " + b, file=sys.stderr)
if bad:
    sys.exit(1)
print("every test name is one ctest entry")
PY
