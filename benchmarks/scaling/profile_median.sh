# Sourced by the scaling scripts (bash). profile_median OUT LOGDIR AUTOGLM ARGS...:
# `AUTOGLM simulate --profile ARGS --out ...` three times, one after another,
# and OUT the run whose median step is the middle one (a single profile on a
# shared machine can be 20 % off), with the three medians in its first line;
# the three runs and their logs are kept in LOGDIR. Returns 1 on a failed run.
profile_median() {
  local out=$1 logs=$2 autoglm=$3 k keep name
  shift 3
  name="$(basename "$out" .yaml)"
  for k in 1 2 3; do
    OMP_NUM_THREADS=1 "$autoglm" simulate --profile "$@" --out "$logs/$name.$k.yaml" > "$logs/$name.$k.log" 2>&1 ||
      { tail -n 5 "$logs/$name.$k.log" >&2; return 1; }
  done
  keep="$(grep -H "Step: median" "$logs/$name".[123].yaml | sed 's/:.*median / /; s/ ms.*//' | sort -k2 -n |
          sed -n 2p | cut -d' ' -f1)"
  { echo "# The median of three profiles: $(grep -h "Step: median" "$logs/$name".[123].yaml |
                                          sed 's/.*median \([0-9.]*\) ms.*/\1/' | tr '\n' ' ')ms"
    cat "$keep"; } > "$out"
}
