#!/usr/bin/env bash
# Mutation testing of the pure core (events/ and the pure folds of projections/) with mutmut,
# configured in pyproject.toml [tool.mutmut]: only tests/unit runs, at most 2 workers.
# Prints the counts and the kill rate, lists every mutant not killed, and fails below 90 %.
#
#   scripts/mutation.sh            a fresh run (about half an hour on 2 cores)
#   scripts/mutation.sh --cached   keep earlier verdicts: re-test only new or changed mutants
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -z "${VIRTUAL_ENV:-}" ] && [ -f .venv/bin/activate ]; then
    . .venv/bin/activate
fi

if [ "${1:-}" != "--cached" ]; then
    rm -rf mutants  # mutmut keeps every verdict: a new test would not re-judge a survivor
fi
mutmut run --max-children 2 >/dev/null  # its progress line redraws itself thousands of times
mutmut export-cicd-stats >/dev/null

echo "mutants not killed:"
mutmut results | sed 's/^ */  /'
python - <<'PY'
import json

stats = json.load(open("mutants/mutmut-cicd-stats.json"))
total, killed, timeout = stats["total"], stats["killed"], stats["timeout"]
rate = killed / total if total else 0.0
print(
    f"total {total}, killed {killed}, survived {stats['survived']}, timeouts {timeout}, "
    f"no tests {stats['no_tests']}, suspicious {stats['suspicious']}, "
    f"segfaults {stats['segfault']}, skipped {stats['skipped']}"
)
print(f"kill rate {100 * rate:.1f} % (killed / total; timeouts not counted as killed)")
raise SystemExit(0 if rate >= 0.90 else 1)
PY
