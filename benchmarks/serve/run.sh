#!/usr/bin/env bash
# Serving benchmark: `autoglm serve` with dynamic batching, without it
# (serve.max_batch=1), and the PyTorch reference server
# (benchmarks/reference/serve_reference.py), each under the closed-loop load
# generator (serve_load_gen) at 1, 8 and 64 clients, plus one client sending
# one short text (the p99 < 10 ms target). Servers start on port 0 and are
# stopped with SIGTERM after their cells. Writes OUT/serve.csv (one row per
# cell and round), OUT/serve.jsonl (the load generator's lines), OUT/serve.md
# and OUT/serve.png (medians over rounds, min-max).
#
#   benchmarks/serve/run.sh [options]
#     --checkpoint DIR    checkpoint or run directory (default: train one, 2 epochs
#                         of configs/r8_gat.yaml on data/r8, into a temp dir)
#     --train-set K=V     extra --set for that training (repeatable; e.g. a
#                         smaller model for a quick run)
#     --texts FILE        one text per line (default: the first --num-texts test
#                         documents of data/r8/corpus.clean.txt)
#     --num-texts N       300
#     --short-text TEXT   the short-text case (default: the first test document
#                         of data/r8 with 8 to 12 tokens)
#     --servers LIST      "autoglm-batched autoglm-nobatch reference"
#     --clients LIST      "1 8 64"
#     --duration-s S      10 (measured seconds per cell); --warmup-s S: 2
#     --rounds R          1 (each cell R times; the report gives medians, min-max)
#     --ref-threads N     1 (torch threads of the reference)
#     --autoglm-set K=V   extra --set for both autoglm servers (repeatable)
#     --build DIR         build tree with benchmarks/serve_load_gen (default: build)
#     --autoglm BIN       default: build/launch/autoglm
#     --out DIR           default: benchmarks/serve/results
#
# Both autoglm servers run with serve.cache_entries=0: the texts repeat, and the
# result cache would otherwise answer them without the model. Figures are only
# meaningful on a quiet machine: the load average is recorded with each server.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"

checkpoint="" texts="" num_texts=300 short_text=""
servers="autoglm-batched autoglm-nobatch reference"
clients="1 8 64" duration=10 warmup=2 rounds=1 ref_threads=1
build="$root/build" autoglm="" out="$here/results"
autoglm_sets=() train_sets=()
py=/usr/bin/python3  # Debian's python3-torch, python3-numpy, python3-matplotlib

die() { echo "run.sh: $*" >&2; exit 1; }
need_arg() { [[ $# -ge 2 ]] || die "$1 needs a value"; }
while [[ $# -gt 0 ]]; do
  case "$1" in
    --checkpoint) need_arg "$@"; checkpoint="$2"; shift 2 ;;
    --texts) need_arg "$@"; texts="$2"; shift 2 ;;
    --num-texts) need_arg "$@"; num_texts="$2"; shift 2 ;;
    --short-text) need_arg "$@"; short_text="$2"; shift 2 ;;
    --servers) need_arg "$@"; servers="$2"; shift 2 ;;
    --clients) need_arg "$@"; clients="$2"; shift 2 ;;
    --duration-s) need_arg "$@"; duration="$2"; shift 2 ;;
    --warmup-s) need_arg "$@"; warmup="$2"; shift 2 ;;
    --rounds) need_arg "$@"; rounds="$2"; shift 2 ;;
    --ref-threads) need_arg "$@"; ref_threads="$2"; shift 2 ;;
    --autoglm-set) need_arg "$@"; autoglm_sets+=(--set "$2"); shift 2 ;;
    --train-set) need_arg "$@"; train_sets+=(--set "$2"); shift 2 ;;
    --build) need_arg "$@"; build="$2"; shift 2 ;;
    --autoglm) need_arg "$@"; autoglm="$2"; shift 2 ;;
    --out) need_arg "$@"; out="$2"; shift 2 ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown option '$1' (--help lists them)" ;;
  esac
done
[[ "$rounds" =~ ^[1-9][0-9]*$ ]] || die "--rounds must be a positive integer, got '$rounds'"
autoglm="${autoglm:-$build/launch/autoglm}"
load_gen="$build/benchmarks/serve_load_gen"
reference="$root/benchmarks/reference/serve_reference.py"

for s in $servers; do
  case "$s" in autoglm-batched|autoglm-nobatch|reference) ;; *) die "unknown server '$s' in --servers" ;; esac
done
[[ -x "$load_gen" ]] || die "missing $load_gen: cmake --build $build --target serve_load_gen"
wants_autoglm=0
[[ " $servers " == *" autoglm-"* ]] && wants_autoglm=1
if [[ $wants_autoglm == 1 || -z "$checkpoint" ]]; then
  [[ -x "$autoglm" ]] || die "missing $autoglm (--autoglm BIN or --build DIR)"
fi
autoglm_help="$([[ -x "$autoglm" ]] && "$autoglm" --help 2>&1 || true)"
if [[ $wants_autoglm == 1 ]] && ! grep -qE '^[[:space:]]+serve([[:space:]]|$)' <<< "$autoglm_help"; then
  die "$autoglm has no 'serve' subcommand (its --help lists no 'serve'); build one that has it, or run only the reference: --servers reference"
fi
[[ -x "$py" ]] || die "$py not found (the report and the reference server use Debian's python3)"
if [[ " $servers " == *" reference "* ]]; then
  "$py" -c 'import torch, numpy, yaml' 2>/dev/null ||
    die "$py lacks torch/numpy/yaml: apt-get install -y python3-torch python3-numpy python3-yaml"
fi

tmp="$(mktemp -d)"
server_pid=""
cleanup() {
  if [[ -n "$server_pid" ]] && kill -0 "$server_pid" 2>/dev/null; then kill -TERM "$server_pid" 2>/dev/null || true; fi
  rm -rf "$tmp"
}
trap cleanup EXIT

# --- inputs --------------------------------------------------------------------
if [[ -z "$checkpoint" ]]; then
  echo "== training a checkpoint (2 epochs of configs/r8_gat.yaml${train_sets[*]:+ ${train_sets[*]}}) into $tmp/run"
  (cd "$root" && "$autoglm" train configs/r8_gat.yaml --set train.epochs=2 --set run.out_dir="$tmp/run" \
      --set data.cache_dir="$tmp/cache" "${train_sets[@]}") > "$tmp/train.log" 2>&1 || { tail -20 "$tmp/train.log" >&2; die "training failed"; }
  grep -i "test accuracy" "$tmp/train.log" | tail -1 || true
  checkpoint="$tmp/run/checkpoints/best"
fi
[[ -d "$checkpoint" ]] || die "--checkpoint $checkpoint: not a directory"

# The first N test documents of data/r8 with MIN to MAX words (one awk: no
# pipeline for SIGPIPE to end early under pipefail).
r8_test_docs() {  # N MIN MAX
  awk -v n="$1" -v lo="$2" -v hi="$3" '
    NR == FNR { split_of[FNR] = $2; next }
    split_of[FNR] == "test" && NF >= lo && NF <= hi { print; if (++k >= n) exit }' FS='\t' \
    "$root/data/r8/labels.txt" FS=' ' "$root/data/r8/corpus.clean.txt"
}
if [[ -z "$texts" ]]; then
  texts="$tmp/texts.txt"
  r8_test_docs "$num_texts" 1 1000000 > "$texts"
  texts_desc="the first $(wc -l < "$texts") test documents of data/r8/corpus.clean.txt"
else
  texts_desc="$(wc -l < "$texts") lines of $texts"
fi
[[ -s "$texts" ]] || die "--texts $texts: missing or empty"
[[ -n "$short_text" ]] || short_text="$(r8_test_docs 1 8 12)"
printf '%s\n' "$short_text" > "$tmp/short.txt"
echo "== texts: $texts ($(wc -l < "$texts") lines, $(wc -w < "$texts") words); short text ($(wc -w < "$tmp/short.txt") words): $short_text"

mkdir -p "$out"
csv="$out/serve.csv" jsonl="$out/serve.jsonl"
echo "round,server,case,clients,texts_per_request,requests,errors,seconds,requests_per_s,p50_ms,p90_ms,p99_ms,max_ms,mean_ms,loadavg" > "$csv"
: > "$jsonl"

# --- servers ---------------------------------------------------------------------
url=""
start_server() {  # $1: server name; sets server_pid and url
  local name="$1" log="$tmp/$1.out"
  : > "$log"  # before the server's shell opens it: awk below must find it, and no earlier line
  case "$name" in
    autoglm-batched) "$autoglm" serve --checkpoint "$checkpoint" --set serve.port=0 --set serve.cache_entries=0 \
                       "${autoglm_sets[@]}" > "$log" 2> "$tmp/$name.err" & ;;
    autoglm-nobatch) "$autoglm" serve --checkpoint "$checkpoint" --set serve.port=0 --set serve.cache_entries=0 \
                       --set serve.max_batch=1 "${autoglm_sets[@]}" > "$log" 2> "$tmp/$name.err" & ;;
    reference) "$py" "$reference" --checkpoint "$checkpoint" --port 0 --threads "$ref_threads" \
                 > "$log" 2> "$tmp/$name.err" & ;;
  esac
  server_pid=$!
  local i
  for ((i = 0; i < 600; i++)); do  # 60 s
    url="$(awk '$1 == "serving" && $2 == "on" && $3 ~ /^http:\/\// { print $3; exit }' "$log")"
    [[ -n "$url" ]] && return 0
    kill -0 "$server_pid" 2>/dev/null || { cat "$tmp/$name.err" >&2; die "$name exited before listening"; }
    sleep 0.1
  done
  cat "$tmp/$name.err" >&2
  die "$name printed no 'serving on http://HOST:PORT' line within 60 s"
}

stop_server() {  # $1: name. SIGTERM, then up to 30 s for it to exit
  local name="$1" i rc=0
  kill -TERM "$server_pid"
  for ((i = 0; i < 300; i++)); do
    kill -0 "$server_pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$server_pid" 2>/dev/null; then
    kill -KILL "$server_pid" 2>/dev/null || true
    echo "   WARNING: $name did not exit within 30 s of SIGTERM (killed)" >&2
  fi
  wait "$server_pid" || rc=$?
  [[ $rc == 0 ]] || { echo "   WARNING: $name exited with status $rc after SIGTERM; its stderr:" >&2; tail -5 "$tmp/$name.err" >&2; }
  server_pid=""
}

cell() {  # round server case clients textsfile
  local r="$1" name="$2" case_="$3" c="$4" file="$5" line load
  load="$(cut -d' ' -f1 /proc/loadavg)"
  line="$("$load_gen" --url "$url" --clients "$c" --duration-s "$duration" --warmup-s "$warmup" --texts "$file" \
          2> "$tmp/lg.err")" || true
  [[ -s "$tmp/lg.err" ]] && sed 's/^/   /' "$tmp/lg.err" >&2
  [[ -n "$line" ]] || die "load generator printed nothing for $name $case_ c=$c"
  echo "$line" | sed "s/^{/{\"round\":$r,\"server\":\"$name\",\"case\":\"$case_\",\"loadavg\":$load,/" >> "$jsonl"
  "$py" - "$line" "$r" "$name" "$case_" "$load" >> "$csv" <<'PY'
import json, sys
j = json.loads(sys.argv[1])
v = lambda k: "" if j[k] is None else str(j[k])
print(",".join([sys.argv[2], sys.argv[3], sys.argv[4], v("clients"), v("texts_per_request"), v("requests"),
                v("errors"), v("seconds"), v("requests_per_s"), v("p50_ms"), v("p90_ms"), v("p99_ms"),
                v("max_ms"), v("mean_ms"), sys.argv[5]]))
PY
  echo "   $name $case_ clients=$c: $line"
}

for ((r = 1; r <= rounds; r++)); do
  for name in $servers; do
    echo "== round $r/$rounds: $name, $(date -u +%FT%TZ), load average $(cut -d' ' -f1-3 /proc/loadavg)"
    start_server "$name"
    echo "   $url (pid $server_pid)"
    for c in $clients; do cell "$r" "$name" docs "$c" "$texts"; done
    cell "$r" "$name" short 1 "$tmp/short.txt"
    stop_server "$name"
  done
done

# --- the reference classifies as autoglm predict does? -----------------------------
agreement=""
if [[ " $servers " == *" reference "* && -x "$autoglm" ]]; then
  if "$autoglm" predict --checkpoint "$checkpoint" < "$texts" > "$tmp/predict.tsv" 2>/dev/null &&
     "$py" "$reference" --checkpoint "$checkpoint" --check "$texts" > "$tmp/check.tsv" 2>/dev/null; then
    agreement="$(paste "$tmp/predict.tsv" "$tmp/check.tsv" | awk -F'\t' '
      { n++; if ($1 == $3) a++; d = $2 - $4; if (d < 0) d = -d; if (d > m) m = d }
      END { printf "%d of %d labels agree; largest probability difference %.4f", a, n, m }')"
  else
    agreement="not measured (autoglm predict or the reference --check failed)"
  fi
  echo "== reference vs autoglm predict on the texts: $agreement"
elif [[ " $servers " == *" reference "* ]]; then
  echo "== reference vs autoglm predict: not checked ($autoglm missing; --autoglm BIN)"
fi

# --- report ---------------------------------------------------------------------
meta="$(printf '%s\n' \
  "date=$(date -u +%FT%TZ)" \
  "commit=$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)$(git -C "$root" diff --quiet 2>/dev/null || echo ' (work tree modified)')" \
  "machine=$(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2 / 1048576}' /proc/meminfo)" \
  "checkpoint=$checkpoint" \
  "texts=$texts_desc ($(wc -w < "$texts") words)" \
  "short_text=$short_text" \
  "duration=${duration} s measured after ${warmup} s warm-up per cell, $rounds round(s)" \
  "autoglm=$([[ $wants_autoglm == 1 ]] && echo "$autoglm serve --set serve.cache_entries=0 ${autoglm_sets[*]:-}")" \
  "reference=torch threads $ref_threads" \
  "agreement=$agreement")"
MPLBACKEND=Agg "$py" - "$csv" "$out/serve.md" "$out/serve.png" "$meta" <<'PY'
import csv, statistics, sys
from collections import defaultdict

csv_path, md_path, png_path, meta = sys.argv[1:5]
meta = dict(line.split("=", 1) for line in meta.splitlines() if "=" in line)
rows = list(csv.DictReader(open(csv_path)))
cells = defaultdict(list)  # (server, case, clients) -> rows
for r in rows:
    cells[(r["server"], r["case"], int(r["clients"]))].append(r)
servers = list(dict.fromkeys(r["server"] for r in rows))
order = [(case, c) for case in ("docs", "short") for c in sorted({k[2] for k in cells if k[1] == case})]

def stat(rs, key):
    vals = [float(r[key]) for r in rs if r[key] != ""]
    if not vals:
        return None
    return statistics.median(vals), min(vals), max(vals)

def fmt(s, digits):
    if s is None:
        return "-"
    med, lo, hi = s
    if lo == hi:
        return f"{med:.{digits}f}"
    return f"{med:.{digits}f} ({lo:.{digits}f}-{hi:.{digits}f})"

lines = ["# Serving benchmark", ""]
lines += [f"- {k}: {meta[k]}" for k in ("date", "commit", "machine", "checkpoint", "texts", "short_text",
                                          "duration", "autoglm", "reference") if meta.get(k)]
if meta.get("agreement"):
    lines.append(f"- reference vs `autoglm predict` on the texts: {meta['agreement']}")
lines += ["", "Medians over rounds, (min-max) when rounds > 1. Latency per request in ms; "
          "`docs`: one R8 test document per request, round-robin; `short`: one short text.", ""]
autoglms = [s for s in servers if s.startswith("autoglm")]
has_ref = "reference" in servers and bool(autoglms)
head = ["case", "clients", "server", "p50 ms", "p99 ms", "requests/s", "errors"]
if has_ref:
    head.append("requests/s vs reference")
lines += ["| " + " | ".join(head) + " |", "|---|---:|---|" + "---:|" * (len(head) - 3)]
for case, c in order:
    ref = stat(cells.get(("reference", case, c), []), "requests_per_s")
    for s in servers:
        rs = cells.get((s, case, c), [])
        if not rs:
            continue
        row = [case, str(c), s, fmt(stat(rs, "p50_ms"), 2), fmt(stat(rs, "p99_ms"), 2),
               fmt(stat(rs, "requests_per_s"), 1), str(sum(int(r["errors"] or 0) for r in rs))]
        if has_ref:
            a = stat(rs, "requests_per_s")
            row.append("" if s == "reference" else (f"{a[0] / ref[0]:.2f}x" if a and ref and ref[0] > 0 else "-"))
        lines.append("| " + " | ".join(row) + " |")
lines += ["", "Short-text latency target, p99 < 10 ms at 1 client (median over rounds):", ""]
for s in servers:
    st = stat(cells.get((s, "short", 1), []), "p99_ms")
    if st:
        lines.append(f"- {s}: p99 {st[0]:.2f} ms: {'met' if st[0] < 10 else 'not met'}")
open(md_path, "w").write("\n".join(lines) + "\n")
print("\n".join(lines))

try:
    import matplotlib.pyplot as plt
except ImportError:
    print("matplotlib missing (apt-get install -y python3-matplotlib): no chart", file=sys.stderr)
    sys.exit(0)
fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
for s in servers:
    cs = sorted(c for (sv, case, c) in cells if sv == s and case == "docs")
    for ax, key in zip(axes, ("requests_per_s", "p99_ms")):
        st = [stat(cells[(s, "docs", c)], key) for c in cs]
        xs = [c for c, v in zip(cs, st) if v]
        med = [v[0] for v in st if v]
        err = [[v[0] - v[1] for v in st if v], [v[2] - v[0] for v in st if v]]
        ax.errorbar(xs, med, yerr=err, marker="o", capsize=3, label=s)
ticks = sorted({c for (sv, case, c) in cells if case == "docs"})
for ax, title in zip(axes, ("throughput (requests/s)", "p99 latency (ms)")):
    ax.set_xscale("log", base=2)
    ax.set_xticks(ticks, [str(t) for t in ticks])
    ax.set_xlabel("concurrent clients (closed loop)")
    ax.set_title(title)
    ax.grid(True, alpha=0.3)
axes[0].set_ylim(bottom=0)
axes[1].set_yscale("log")
axes[0].legend()
fig.suptitle(f"POST /v1/classify, one R8 test document per request ({meta.get('machine', '')})", fontsize=10)
fig.tight_layout()
fig.savefig(png_path, dpi=110)
print(f"chart: {png_path}")
PY
echo "== wrote $csv, $jsonl, $out/serve.md, $out/serve.png"
