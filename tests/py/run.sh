#!/usr/bin/env bash
# Runs the Python end-to-end tests against the hafiz binary in $HAFIZ_BIN
# (default: target/debug/hafiz). Extra arguments go to pytest.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
if [[ -x "$root/.venv/bin/python" ]]; then
  python="$root/.venv/bin/python"
  export PATH="$root/.venv/bin:$PATH"
else
  python="$(command -v python3)"
fi
cd "$root"
exec "$python" -m pytest tests/py -q -p no:cacheprovider "$@"
