#!/usr/bin/env bash
# Print the path of a Python to build the virtualenvs with: 3.12 (what MWAA runs) if there is
# one that works, else 3.11. pyenv shims can exist without a usable interpreter behind them, so
# each candidate is asked to run.
set -euo pipefail
candidates=(python3.12)
if [ -n "${PYENV_ROOT:-}" ] || [ -d "$HOME/.pyenv" ]; then
  root="${PYENV_ROOT:-$HOME/.pyenv}"
  for p in "$root"/versions/3.12*/bin/python3.12; do candidates+=("$p"); done
fi
candidates+=(python3.11)
[ -n "${PYENV_ROOT:-}" ] && for p in "$PYENV_ROOT"/versions/3.11*/bin/python3.11; do candidates+=("$p"); done
candidates+=(python3)
for c in "${candidates[@]}"; do
  if path=$(command -v "$c" 2>/dev/null) && "$path" -c 'import sys; assert sys.version_info[:2] in ((3, 12), (3, 11))' 2>/dev/null; then
    "$path" -c 'import sys; print(sys.executable)'
    exit 0
  fi
done
echo "find-python: no working Python 3.12 or 3.11 found" >&2
exit 1
