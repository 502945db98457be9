#!/usr/bin/env bash
# Two emulated hosts on this machine, for multi-host tests and benchmarks:
# network namespaces joined by a veth pair whose addresses exist only inside
# them, each host with its own hostname (a UTS namespace per command), and an
# rsh agent that lets mpirun start ranks on the other host. Needs root.
#
#   scripts/emulate-hosts.sh up DIR [RATE]   create them; DIR gets hosts (an mpirun hostfile,
#                                            2 slots each), rsh (the agent), env (names);
#                                            RATE (a tc rate, e.g. 1gbit): tbf on both veth ends
#   scripts/emulate-hosts.sh rate DIR RATE   change the limit ('unlimited' removes it)
#   scripts/emulate-hosts.sh run DIR A|B CMD...   run CMD on host A or B (hostname hostA/hostB)
#   scripts/emulate-hosts.sh mpirun-args DIR      the mpirun options for these hosts, one per line
#                                                 (with --hostfile DIR/hosts beside them)
#   scripts/emulate-hosts.sh down DIR        remove them (also safe when half made)
set -euo pipefail
cmd=${1:?usage: emulate-hosts.sh up|rate|run|mpirun-args|down DIR ...}
dir=${2:?DIR missing}

load() {
  [[ -f "$dir/env" ]] || { echo "emulate-hosts: $dir/env missing (run 'up' first)" >&2; exit 1; }
  # shellcheck disable=SC1091
  source "$dir/env"
}

set_rate() {  # RATE on both ends; 'unlimited' clears
  local rate=$1
  for side in A B; do
    local ns dev
    if [[ $side == A ]]; then ns=$NS_A; dev=$DEV_A; else ns=$NS_B; dev=$DEV_B; fi
    ip netns exec "$ns" tc qdisc del dev "$dev" root 2>/dev/null || true
    if [[ "$rate" != unlimited ]]; then
      # The bucket holds at least rate/HZ (HZ 250 taken as the worst case) and
      # more than one GSO packet (64 KiB): 256 KiB at least.
      local burst
      burst=$(awk -v r="$rate" 'BEGIN { n = r + 0; u = tolower(substr(r, length(n "") + 1));
        m = (u == "bit") ? 1 : (u == "kbit") ? 1e3 : (u == "mbit") ? 1e6 : (u == "gbit") ? 1e9 : 1e12;
        b = n * m / 8 / 250; if (b < 262144) b = 262144; printf "%.0f", b }')
      ip netns exec "$ns" tc qdisc add dev "$dev" root tbf rate "$rate" burst "$burst" latency 100ms
    fi
  done
}

case "$cmd" in
up)
  [[ $(id -u) -eq 0 ]] || { echo "emulate-hosts: needs root" >&2; exit 77; }
  mkdir -p "$dir"
  tag=$(( $$ % 250 ))
  NS_A="aglA$$"; NS_B="aglB$$"; DEV_A="aglva$$"; DEV_B="aglvb$$"
  IP_A="10.231.$tag.1"; IP_B="10.231.$tag.2"; NET="10.231.$tag.0/24"
  printf 'NS_A=%s\nNS_B=%s\nDEV_A=%s\nDEV_B=%s\nIP_A=%s\nIP_B=%s\nNET=%s\n' \
    "$NS_A" "$NS_B" "$DEV_A" "$DEV_B" "$IP_A" "$IP_B" "$NET" >"$dir/env"
  ip netns add "$NS_A"
  ip netns add "$NS_B"
  ip link add "$DEV_A" type veth peer name "$DEV_B"
  ip link set "$DEV_A" netns "$NS_A"
  ip link set "$DEV_B" netns "$NS_B"
  ip -n "$NS_A" addr add "$IP_A/24" dev "$DEV_A"
  ip -n "$NS_B" addr add "$IP_B/24" dev "$DEV_B"
  for ns in "$NS_A" "$NS_B"; do ip -n "$ns" link set lo up; done
  ip -n "$NS_A" link set "$DEV_A" up
  ip -n "$NS_B" link set "$DEV_B" up
  printf '%s slots=2\n%s slots=2\n' "$IP_A" "$IP_B" >"$dir/hosts"
  cat >"$dir/rsh" <<RSH
#!/bin/bash
# rsh agent for mpirun (plm_rsh_agent): [options] HOST COMMAND...
while [[ "\$1" == -* ]]; do shift; done
host=\$1; shift
case "\$host" in
  $IP_A) ns=$NS_A; name=hostA ;;
  $IP_B) ns=$NS_B; name=hostB ;;
  *) echo "rsh: unknown host \$host" >&2; exit 255 ;;
esac
exec ip netns exec "\$ns" unshare --uts /bin/sh -c "hostname \$name; \$*"
RSH
  chmod +x "$dir/rsh"
  [[ $# -ge 3 ]] && set_rate "$3"
  echo "emulate-hosts: hostA $IP_A ($NS_A), hostB $IP_B ($NS_B)${3:+, $3 each way}"
  ;;
rate) load; set_rate "${3:?RATE missing}" ;;
run)
  load
  side=${3:?A or B}; shift 3
  if [[ $side == A ]]; then ns=$NS_A; name=hostA; else ns=$NS_B; name=hostB; fi
  exec ip netns exec "$ns" unshare --uts /bin/bash -c 'hostname "$0"; exec "$@"' "$name" "$@"
  ;;
mpirun-args)
  load
  printf '%s\n' --mca plm_rsh_agent "$dir/rsh" --mca plm_rsh_no_tree_spawn 1 \
    --mca oob_tcp_if_include "$NET" --mca btl_tcp_if_include "$NET" --mca btl tcp,self,vader
  ;;
down)
  if [[ -f "$dir/env" ]]; then
    load
    ip netns pids "$NS_A" 2>/dev/null | xargs -r kill -KILL 2>/dev/null || true
    ip netns pids "$NS_B" 2>/dev/null | xargs -r kill -KILL 2>/dev/null || true
    ip netns del "$NS_A" 2>/dev/null || true
    ip netns del "$NS_B" 2>/dev/null || true
    rm -f "$dir/env"
  fi
  ;;
*) echo "emulate-hosts: unknown command $cmd" >&2; exit 2 ;;
esac
