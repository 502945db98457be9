#!/usr/bin/env bash
# Two emulated hosts on this machine, for multi-host tests and benchmarks.
# Each host shares with the other only what two real hosts would:
#   - network: its own namespace, the two joined by a veth pair whose addresses
#     exist only inside them;
#   - processes: its own PID namespace (its processes number from 1, and a pid
#     means nothing on the other host) with its own /proc;
#   - storage: its own mount namespace, where DIR/disk is that host's private
#     disk (DIR/diskA or DIR/diskB seen from outside); DIR/shared is the one
#     file system both see (shared storage, for the tests that ask for it);
#   - name: its own UTS namespace (hostname hostA, hostB).
# A host is a process (PID 1 of its namespaces) that commands run from here
# join with nsenter. Between the hosts, as ssh would: each runs a command
# server (socat on port 2222 of its address: the first line received is the
# command, its output goes back on the connection), and the rsh agent mpirun
# uses connects to it. Needs root and socat.
#
#   scripts/emulate-hosts.sh up DIR [RATE]   create them; DIR gets hosts (an mpirun hostfile,
#                                            2 slots each), rsh (the agent), env (names),
#                                            disk (each host's own), shared (both);
#                                            RATE (a tc rate, e.g. 1gbit): tbf on both veth ends
#   scripts/emulate-hosts.sh rate DIR RATE   change the limit ('unlimited' removes it)
#   scripts/emulate-hosts.sh run DIR A|B CMD...   run CMD on host A or B (hostname hostA/hostB)
#   scripts/emulate-hosts.sh pid DIR A|B PID      PID (as seen here) as host A or B numbers it
#   scripts/emulate-hosts.sh mpirun-args DIR      the mpirun options for these hosts, one per line
#                                                 (no binding, yield when idle: the hosts share cores)
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
  mkdir -p "$dir/disk" "$dir/diskA" "$dir/diskB" "$dir/shared"
  cat >"$dir/session" <<'SESSION'
#!/bin/sh
# One connection to a host's command server: the first line is the command.
read -r cmd
exec /bin/sh -c "$cmd"
SESSION
  chmod +x "$dir/session"
  # Each host: PID 1 of new PID, mount and UTS namespaces inside its network
  # namespace, its own /proc, DIR/disk bound to its own folder, and its
  # command server.
  for side in A B; do
    ns=$NS_A; ip=$IP_A
    [[ $side == B ]] && { ns=$NS_B; ip=$IP_B; }
    ip netns exec "$ns" unshare --pid --fork --mount --uts --propagation private /bin/sh -c \
      "mount -t proc proc /proc && hostname host$side && mount --bind '$dir/disk$side' '$dir/disk' &&
       socat -t 86400 TCP-LISTEN:2222,bind=$ip,reuseaddr,fork EXEC:'$dir/session',stderr &
       echo ready >'$dir/.up$side'; wait" </dev/null >/dev/null 2>&1 &
    echo "UNSHARE_$side=$!" >>"$dir/env"
  done
  for side in A B; do
    for _ in $(seq 100); do [[ -f "$dir/.up$side" ]] && break; sleep 0.05; done
    [[ -f "$dir/.up$side" ]] || { echo "emulate-hosts: host$side did not start" >&2; exit 1; }
    # shellcheck disable=SC1091
    source "$dir/env"
    u=UNSHARE_$side
    init=$(pgrep -P "${!u}" | head -1)
    echo "INIT_$side=$init" >>"$dir/env"
  done
  for side in A B; do  # the command servers listen
    ip=$IP_A; [[ $side == B ]] && ip=$IP_B
    for _ in $(seq 100); do
      "$0" run "$dir" "$side" bash -c "exec 3<>/dev/tcp/$ip/2222" 2>/dev/null && break
      sleep 0.05
    done
  done
  cat >"$dir/rsh" <<RSH
#!/bin/bash
# rsh agent for mpirun (plm_rsh_agent): [options] HOST COMMAND... The command
# goes to HOST's command server, as ssh would send it to sshd.
while [[ "\$1" == -* ]]; do shift; done
host=\$1; shift
exec socat -t 86400 - TCP:\$host:2222 <<<"\$*"
RSH
  chmod +x "$dir/rsh"
  [[ $# -ge 3 ]] && set_rate "$3"
  echo "emulate-hosts: hostA $IP_A ($NS_A), hostB $IP_B ($NS_B)${3:+, $3 each way}"
  ;;
rate) load; set_rate "${3:?RATE missing}" ;;
run)
  load
  side=${3:?A or B}; shift 3
  if [[ $side == A ]]; then init=$INIT_A; else init=$INIT_B; fi
  exec nsenter -t "$init" --net --pid --mount --uts -- "$@"
  ;;
pid)
  # The last NSpid field of /proc/PID/status is the pid in the innermost namespace.
  load
  awk '/^NSpid:/ { print $NF }' "/proc/${4:?PID missing}/status"
  ;;
mpirun-args)
  load
  # The hosts share this machine's cores, which each host's daemon believes its
  # own: binding would pin every host's first rank to core 0 (two ranks on one
  # core, each step twice as long), and ranks spinning in MPI would starve the
  # kernel's network processing (4 ms, a scheduler tick, per small message).
  printf '%s\n' --bind-to none --mca mpi_yield_when_idle 1 \
    --mca plm_rsh_agent "$dir/rsh" --mca plm_rsh_no_tree_spawn 1 \
    --mca oob_tcp_if_include "$NET" --mca btl_tcp_if_include "$NET" --mca btl tcp,self,vader
  ;;
down)
  if [[ -f "$dir/env" ]]; then
    load
    # PID 1 of a namespace takes every process of it along.
    [[ -n "${INIT_A:-}" ]] && kill -KILL "$INIT_A" 2>/dev/null || true
    [[ -n "${INIT_B:-}" ]] && kill -KILL "$INIT_B" 2>/dev/null || true
    ip netns pids "$NS_A" 2>/dev/null | xargs -r kill -KILL 2>/dev/null || true
    ip netns pids "$NS_B" 2>/dev/null | xargs -r kill -KILL 2>/dev/null || true
    ip netns del "$NS_A" 2>/dev/null || true
    ip netns del "$NS_B" 2>/dev/null || true
    rm -f "$dir/env" "$dir/.upA" "$dir/.upB"
  fi
  ;;
*) echo "emulate-hosts: unknown command $cmd" >&2; exit 2 ;;
esac
