#!/usr/bin/env bash
# One benchmark the README lists, run by its own script end to end (the PyTorch
# reference included where it has one) at a tiny size: R8 as bundled (data/r8),
# a small model (16-d, 2 heads of 8, documents cut to 48 words, 80 % of the
# training split held out for validation), one epoch or a few steps, one round,
# one seed. Fails when the script exits non-zero or does not print or write its
# figures (the table lines and CSV rows checked below); the figures themselves
# are not judged. Output goes to BUILD_DIR/bench_smoke/CASE (kept for a look,
# replaced on the next run); nothing outside data/r8 is read.
#   bench_smoke_test.sh CASE BUILD_DIR SOURCE_DIR
# CASE: throughput blas collective dp_accuracy dp_overlap ddp_throughput
#       slow_network (root; skipped otherwise) layouts_table layouts_bubble
#       layouts_accuracy resume_rss early_exit serve serve_wrk quality
set -euo pipefail
case_=$1
if [[ $case_ == slow_network && $(id -u) -ne 0 ]]; then
  echo "bench_smoke (slow_network): needs root (netns, tc); skipped"
  exit 77
fi
build=$(cd "$2" && pwd)
src=$(cd "$3" && pwd)
work="$build/bench_smoke/$case_"
out="$work/out"
rm -rf "$work"
mkdir -p "$out"
cd "$src"
# The scripts' own knobs: where the binaries and results are, no rebuild, temp files here.
export BUILD_DIR="$build" OUT_DIR="$out" NO_BUILD=1 TMPDIR="$work"
autoglm="$build/launch/autoglm"

fail() { echo "bench_smoke ($case_): $*" >&2; exit 1; }
# run CMD...: the benchmark, its output in $work/log (shown), non-zero exit fails.
run() {
  echo "bench_smoke ($case_): $*"
  local rc=0
  "$@" >"$work/log" 2>&1 || rc=$?
  cat "$work/log"
  ((rc == 0)) || fail "the benchmark exited with status $rc"
}
# expect FILE N ERE: exactly N lines of FILE match ERE.
expect() {
  [[ -f "$1" ]] || fail "$1 was not written"
  local n
  n=$(grep -cE -- "$3" "$1" || true)
  ((n == $2)) || fail "$(basename "$1"): $n lines match '$3', expected $2"
}
num='[0-9]+(\.[0-9]+)?'

# The tiny size, as --set overrides of configs/r8_gat.yaml, and as a config file.
small=(data.cache_dir="$work/cache" data.val_fraction=0.8 graph.max_doc_len=48 model.embed_init=random vocab.vectors=
       model.embed_dim=16 model.heads=2 model.head_dim=8 model.head_hidden=16 train.epochs=1)
sets=()
for kv in "${small[@]}"; do sets+=(--set "$kv"); done
config="$work/r8_smoke.yaml"
"$autoglm" config show configs/r8_gat.yaml "${sets[@]}" --set data.dir="$src/data/r8" \
  --set run.out_dir="$work/runs" --set train.progress=off >"$config"
# The layout benchmarks' own model (6 blocks of 8 heads), narrowed.
narrow=(--set graph.max_doc_len=48 --set model.embed_dim=32 --set model.head_dim=4 --set model.head_hidden=32)

case $case_ in
  throughput)
    run benchmarks/throughput.sh --config "$config" --threads 1 --warmup-steps 1 --steps 3 --repeats 1 \
      --embedding-updates dense,lazy
    expect "$work/log" 1 "^autoglm +1 +$num "
    expect "$work/log" 1 "^autoglm-lazy +1 +$num "
    expect "$work/log" 1 "^pytorch-reference +1 +$num "
    expect "$work/log" 2 "^ratio autoglm(-lazy)? / pytorch-reference \(medians\): $num"x
    expect "$out/throughput.csv" 3 "^(autoglm|autoglm-lazy|pytorch-reference),1,$num,3,"
    ;;
  blas)
    run benchmarks/blas.sh --repeats 1 --steps 3 --config "$config" --threads 1 --warmup-steps 1
    expect "$work/log" 1 "^run 1 reference: $num graphs/s"
    expect "$work/log" 1 "^run 1 openblas: $num graphs/s"
    expect "$work/log" 1 "^openblas / reference: $num"x
    ;;
  collective)
    run benchmarks/collective/run.sh "$build" "$out" --min-bytes 4 --max-bytes 1048576 --trials 1
    for np in 2 4; do expect "$out/allreduce_np$np.csv" 10 "^$np,[0-9]+,$num,$num,"; done
    expect "$work/log" 1 "^plot: $out/allreduce.png"
    ;;
  dp_accuracy)
    run benchmarks/dp_bench.sh accuracy --ranks 2 -- "${sets[@]}"
    expect "$out/accuracy.csv" 3 "^(none|onebit|topk),2,$num,[0-9]+,$num,"
    expect "$work/log" 3 "^(none|onebit|topk) +$num +[-+]$num$"
    ;;
  dp_overlap)
    run benchmarks/dp_bench.sh overlap --ranks 2 --steps 2 --rounds 1 -- "${sets[@]}"
    expect "$out/overlap.csv" 5 "^(none|fp16|bf16|onebit|topk),2,$num,$num,$num,"
    expect "$work/log" 5 "^(none|fp16|bf16|onebit|topk) +$num +$num +$num "
    ;;
  ddp_throughput)
    run benchmarks/ddp_throughput.sh --config "$config" --warmup-steps 1 --steps 2 --repeats 1 --no-build --max-load 0 \
      --embedding-updates dense,lazy
    expect "$out/ddp_throughput.csv" 3 "^(autoglm|autoglm-lazy|pytorch-ddp-gloo),1,$num,$num,2,"
    expect "$work/log" 2 "^ratio autoglm(-lazy)? / pytorch-ddp-gloo \(medians\): $num"x
    ;;
  slow_network)
    run benchmarks/slow_network.sh --config "$config" --rates 1gbit,unlimited --warmup-steps 1 --steps 2 --rounds 1 \
      --no-build --max-load 0
    expect "$work/log" 8 "^(1gbit|unlimited) +(none|fp16|onebit|topk) +$num +$num"x
    expect "$work/log" 1 "^compute-only +none \(off\) +$num "
    expect "$out/slow_network.csv" 9 "^1,(1gbit|unlimited|compute-only),[a-z0-9]+,(overlap|off),$num,"
    ;;
  layouts_table)
    run env DATA_DIR=data/r8 benchmarks/layouts/run.sh table --ranks 4 --rounds 1 --steps 2 -- "${narrow[@]}"
    expect "$out/table-np4.csv" 6 "^\"\([124],[124],[124]\)\",$num,$num,"
    expect "$work/log" 6 "^\| \([124],[124],[124]\) \| $num "
    ;;
  layouts_bubble)
    run env DATA_DIR=data/r8 benchmarks/layouts/run.sh bubble --ranks 2 --micro 4 --rounds 1 --steps 2 -- "${narrow[@]}"
    expect "$out/bubble-np2.csv" 3 "^(gpipe|1f1b|zb-h1),2,4,$num $num,$num,"
    ;;
  layouts_accuracy)
    run benchmarks/layouts/accuracy.sh --seeds 1 -- "${sets[@]}"
    expect "$out/accuracy.csv" 4 "^\"\((2,1,1|2,2,1|1,2,2|2,1,2)\)\",[12],[12],[12],1,$num,[0-9]+,$num$"
    expect "$out/accuracy.md" 4 "^\| \([12],[12],[12]\) \| 1 \| $num "
    ;;
  resume_rss)
    run env DATA_DIR=data/r8 benchmarks/layouts/resume_rss.sh --layout 1,2,1 --steps 1 --rounds 1 -- "${narrow[@]}"
    expect "$out/results.jsonl" 2 "\"mode\":\"(train|resume)\""
    expect "$work/log" 1 "^layout \(1,2,1\): .* training step $num MiB, resume $num MiB, resume/train $num$"
    ;;
  early_exit)
    run env AUTOGLM="$autoglm" benchmarks/early_exit/run.sh --datasets r8 --seeds 1 --thresholds 1.0,0.5 -- "${sets[@]}"
    expect "$out/early_exit.csv" 1 "^r8,1,plain,1.0,$num,,,,$num$"
    expect "$out/early_exit.csv" 2 "^r8,1,exit,(1.0|0.5),$num,$num,$num,$num,$num$"
    expect "$out/early_exit.md" 2 "^\| (1.00|0.50) \| $num "
    ;;
  serve|serve_wrk)
    train=()
    for kv in "${small[@]:1}"; do train+=(--train-set "$kv"); done  # the script trains into its own temp dir
    if [[ $case_ == serve ]]; then
      run benchmarks/serve/run.sh "${train[@]}" --build "$build" --out "$out" --num-texts 20 --clients "1 4" \
        --duration-s 1 --warmup-s 0.2
      expect "$out/serve.csv" 9 "^1,(autoglm-batched|autoglm-nobatch|reference),(docs|short),[14],1,[0-9]+,[0-9]+,$num,$num,"
      expect "$work/log" 1 "^== reference vs autoglm predict on the texts: [0-9]+ of 20 labels agree"
    else
      run benchmarks/serve/wrk.sh "${train[@]}" --build "$build" --duration-s 1 --connections 4 --idle 100 \
        --probes 3 --num-texts 10
      expect "$work/log" 1 "^== result: wrk 4 connections: $num requests/s, p50 "
      expect "$work/log" 3 "^== result: .*/healthz with 100 idle connections held .*: median $num ms"
    fi
    ;;
  quality)
    rows=r8_cooccurrence,r8_wordnet,r8_dp2_onebit,r8_corpus_gcn,r8_ensemble
    run env AUTOGLM="$autoglm" benchmarks/quality.sh --seeds 1 --rows "$rows" -- "${sets[@]}"
    expect "$out/quality.csv" 5 "^(${rows//,/|}),[a-z]+,r8,1,$num,[0-9]+,$num$"
    expect "$out/quality.md" 5 "^\| (${rows//,/|}) \| [a-z]+ \| r8 \| 1 \| $num "
    ;;
  sparse_table)
    run benchmarks/sparse_table/run.sh --config "$config" --rows 10000,20000 --modes dense,sparse,lazy --dim 16 \
      --warmup-steps 1 --steps 2 --rounds 1
    expect "$out/table_step.csv" 6 "^(10000|20000),(dense|sparse|lazy),[0-9]+,$num,$num,$num,1$"
    ;;
  *) fail "unknown case" ;;
esac
echo "bench_smoke ($case_): ran and printed its figures"
