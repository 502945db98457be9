#!/usr/bin/env bash
# Size limits of the library code (core/ comm/ parallel/ trainer/ launch/):
# no source file over 500 lines, no function over 80 lines (Universal Ctags
# gives each function's first and last line). Prints every violation and
# exits 1 if there is one. CTest runs it as the test `limits`.
set -euo pipefail
cd "$(dirname "$0")/.."
max_file=${MAX_FILE_LINES:-500}
max_fn=${MAX_FUNCTION_LINES:-80}
command -v ctags >/dev/null || { echo "check-limits: ctags (universal-ctags) is not installed" >&2; exit 2; }
mapfile -t files < <(git ls-files -co --exclude-standard -- core comm parallel trainer launch | grep -E '\.(h|cc)$' || true)
[[ ${#files[@]} -gt 0 ]] || { echo "check-limits: no sources found" >&2; exit 2; }
status=0
wc -l "${files[@]}" | awk -v max="$max_file" '$2 != "total" && $1 > max { printf "%s: %d lines (limit %d)\n", $2, $1, max; bad = 1 } END { exit bad }' || status=1
ctags --languages=C++ --langmap=C++:+.h --c++-kinds=f --fields=+ne --extras=-F -o - "${files[@]}" 2>/dev/null |
  awk -F'\t' -v max="$max_fn" '
    $1 !~ /^__anon/ {
      start = 0; end = 0
      for (i = 4; i <= NF; ++i) {
        if ($i ~ /^line:/) start = substr($i, 6)
        if ($i ~ /^end:/) end = substr($i, 5)
      }
      if (start > 0 && end > 0 && end - start + 1 > max) {
        printf "%s:%d: function %s is %d lines (limit %d)\n", $2, start, $1, end - start + 1, max; bad = 1
      }
    }
    END { exit bad }' || status=1
if (( status == 0 )); then
  echo "check-limits: ${#files[@]} files within $max_file lines, functions within $max_fn lines"
fi
exit $status
