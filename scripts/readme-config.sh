#!/usr/bin/env bash
# Copy config/examples/cidlb.toml into the README's configuration reference (between the
# config markers). tests/docs.rs fails when the two differ.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 - <<'PY'
import re
readme = open("README.md").read()
example = open("config/examples/cidlb.toml").read()
block = "<!-- config:start -->\n```toml\n" + example.rstrip("\n") + "\n```\n<!-- config:end -->"
new, n = re.subn(r"<!-- config:start -->.*?<!-- config:end -->", lambda m: block, readme, flags=re.S)
if n != 1:
    raise SystemExit("README.md has no config markers")
open("README.md", "w").write(new)
PY
