#!/usr/bin/env bash
# Boot N server nodes plus one client VM on one virtio L2 segment and run a test
# script in every VM. See usage() for options.
#
# Topology (every VM is one QEMU process, TCG by default):
#
#   - One L2 segment shared by all VMs: QEMU's "socket" netdev in multicast mode.
#     Every QEMU joins the same UDP multicast group on loopback and sends every
#     frame to it, so every VM receives every frame: the segment is a hub. Each run
#     picks its own UDP port, so concurrent runs cannot hear each other.
#
#   - Addressing (10.0.0.0/24 on eth0 of every VM; set up by qemu/vm-init.sh):
#       client          10.0.0.2        MAC 52:54:00:00:00:02
#       node i (1..N)   10.0.0.(10+i)   MAC 52:54:00:00:00:XX, XX = the decimal
#                                       digits of 10+i (node1 = ..:11, node3 = ..:13),
#                                       valid hex since 10+i <= 90: the MAC's last
#                                       byte reads like the address's last octet
#       VIP             10.0.0.100      MAC 01:00:5e:00:00:64 (multicast MAC)
#     Every node puts the VIP on lo as /32, joins the VIP MAC on eth0
#     (`ip maddr add`) and sets arp_ignore=1/arp_announce=2 so that no node
#     answers ARP for the VIP. The client has a permanent neighbour entry
#     VIP -> 01:00:5e:00:00:64, so each frame it sends to the VIP reaches every
#     node (hub + every node accepts that MAC).
#
#   - Root file system: the host's / read-only over virtio-9p; init is
#     <repo>/qemu/vm-init.sh. The guest mounts tmpfs over /tmp, /run and parts of
#     /var, so everything a VM reads from the host (kernel module, tools, test
#     scripts) must live outside those directories.
#
#   - Results: OUT/<vm>/ (vm = node1..nodeN, client) is writable 9p tag "out",
#     mounted at /out in that VM; OUT/shared/ is writable 9p tag "shared", mounted
#     at /shared in every VM (barriers, data exchanged between VMs). The serial
#     console of each VM goes to OUT/<vm>/console.log, QEMU's own messages to
#     OUT/<vm>/qemu.log.
#
# Exit status: 0 if every VM powered off by itself within --timeout, 124 on
# timeout, 1 if a QEMU could not start or exited with an error, 2 on usage errors.
# Every QEMU this script starts is killed when it exits, whatever the reason.
set -euo pipefail

REPO=$(cd "$(dirname "$(readlink -f "$0")")/.." && pwd)
QEMU=${QEMU:-qemu-system-x86_64}

usage() {
    cat <<EOF
usage: $0 --kernel BZIMAGE --script PATH --out DIR [options]

Boot N server nodes plus one client VM on one virtio L2 segment (a hub); every
VM runs PATH (a POSIX sh test script) and powers off.

required:
  --kernel BZIMAGE   kernel image to boot
  --script PATH      test script every VM runs (role in \$RIG_ROLE); given
                     several times, every VM runs the scripts one after the
                     other in one boot (qemu/vm-init.sh: each with its own
                     /out/<name> and /shared/<name>, and a cleaned-up VM)
  --out DIR          host results directory (created; must be empty or absent)
options:
  --nodes N          number of server nodes (default 3, max 80)
  --client-kernel BZIMAGE
                     kernel image for the client VM (default: --kernel); the
                     debug flavor's nodes use it with the default kernel's
                     client, which runs no module and boots far faster
  --module PATH      dts.ko, insmod'ed on nodes only (default: none)
  --tools DIR        directory containing dtsctl (exported as \$DTSCTL)
  --timeout SEC      hard wall-clock timeout for the whole cluster (default 600)
  --mem MB           memory per VM (default 512)
  --smp N            vCPUs per VM (default 1)
  --kvm              use KVM instead of TCG (opt-in; does not work on every host)
  --machine TYPE     QEMU machine type (default q35)
  --show ROLE        stream that VM's serial console to stdout (client, node1, ...)
  --append EXTRA     extra kernel command line
  --root-cache MODE  9p cache mode for the read-only host root and repository
                     (default loose: each VM keeps what it read in its page
                     cache, so programs and python modules are loaded from the
                     host once, not at every exec; none: every read goes to
                     the host, for a run while the host's files change)
  --node-root DIR    boot every node as a Debian 12 machine from DIR (made by
                     scripts/debian-root.sh image): DIR/vmlinuz with
                     Debian's DIR/initrd.img, root file system LABEL=dts-root
                     on a SATA disk (q35's AHCI) that is a copy-on-write
                     overlay of DIR/disk.img (OUT/<vm>/disk.qcow2), systemd
                     as PID 1; its rig-test.service runs the script
                     (qemu/vm-init.sh's systemd mode). --kernel still boots
                     the client, and --disk cannot be combined with it
  --disk IMG         attach IMG read-only to every node as a virtio disk
                     (/dev/vda in the guest; the benchmark's file set)
  --disk-throttle BPS,IOPS
                     limit each node's reads from --disk to BPS bytes/s and
                     IOPS requests/s (QEMU block throttling), so that a
                     page-cache miss costs what a disk read would
  -h, --help         this text

Exit status: 0 all VMs exited by themselves, 124 timeout, 1 QEMU error, 2 usage.
EOF
}

die() { echo "cluster.sh: error: $*" >&2; exit 2; }
say() { echo "cluster.sh: $*" >&2; }

scripts=()
kernel= client_kernel= script= out= module= tools= nodes=3 timeout=600 mem=512 smp=1 kvm=0 show= append=
# 9p cache mode of the read-only root and repository mounts (--root-cache).
root_cache=loose
disk= disk_throttle= node_root=
# q35, not pc: the pc (i440fx) DSDT computes PCI interrupt routing (_PRT) in an
# AML loop that the KASAN+lockdep kernel under TCG cannot finish within ACPI's
# 30 s loop timeout; the virtio devices then get no IRQ and the boot hangs
# mounting the 9p root. q35's _PRT is a static table.
machine=q35
while [ $# -gt 0 ]; do
    case "$1" in
        --kernel)  kernel=${2:?--kernel needs a value}; shift 2 ;;
        --client-kernel) client_kernel=${2:?--client-kernel needs a value}; shift 2 ;;
        --script)  scripts+=("${2:?--script needs a value}"); shift 2 ;;
        --out)     out=${2:?--out needs a value}; shift 2 ;;
        --module)  module=${2:?--module needs a value}; shift 2 ;;
        --tools)   tools=${2:?--tools needs a value}; shift 2 ;;
        --nodes)   nodes=${2:?--nodes needs a value}; shift 2 ;;
        --timeout) timeout=${2:?--timeout needs a value}; shift 2 ;;
        --mem)     mem=${2:?--mem needs a value}; shift 2 ;;
        --smp)     smp=${2:?--smp needs a value}; shift 2 ;;
        --kvm)     kvm=1; shift ;;
        --machine) machine=${2:?--machine needs a value}; shift 2 ;;
        --show)    show=${2:?--show needs a value}; shift 2 ;;
        --append)  append=${2?--append needs a value}; shift 2 ;;
        --root-cache) root_cache=${2:?--root-cache needs a value}; shift 2 ;;
        --disk)    disk=${2:?--disk needs a value}; shift 2 ;;
        --node-root) node_root=${2:?--node-root needs a value}; shift 2 ;;
        --disk-throttle) disk_throttle=${2:?--disk-throttle needs a value}; shift 2 ;;
        -h|--help) usage; exit 0 ;;
        *) usage >&2; die "unknown argument: $1" ;;
    esac
done

[ -n "$kernel" ] || { usage >&2; die "--kernel is required"; }
[ ${#scripts[@]} -gt 0 ] || { usage >&2; die "--script is required"; }
[ -n "$out" ]    || { usage >&2; die "--out is required"; }
for v in nodes timeout mem smp; do
    [[ ${!v} =~ ^[1-9][0-9]*$ ]] || die "--$v must be a positive integer (got '${!v}')"
done
# node i gets 10.0.0.(10+i) and the VIP is 10.0.0.100: stay below it.
[ "$nodes" -le 80 ] || die "--nodes must be at most 80"
case "$root_cache" in
    none|loose|mmap|readahead) ;;
    *) die "--root-cache must be none, loose, mmap or readahead (got '$root_cache')" ;;
esac
case "$show" in
    ""|client) ;;
    node[1-9]*) [[ ${show#node} =~ ^[0-9]+$ ]] && [ "${show#node}" -le "$nodes" ] \
                    || die "--show $show: no such VM (nodes: node1..node$nodes)" ;;
    *) die "--show must be 'client' or 'node<i>' (got '$show')" ;;
esac

# Paths the guest reads: absolute, no whitespace (they travel on the kernel
# command line). The repository is always visible in the guest at its own
# path (it is also exported as the 9p tag "repo" and mounted over whatever
# the guest covers with tmpfs, so a clone under /tmp or /var/tmp works);
# anything else is read through the read-only 9p root and must not be under a
# directory that the guest covers with tmpfs.
guest_path() { # NAME PATH -> absolute path on stdout
    local name=$1 p
    p=$(readlink -f -- "$2") || die "$name: cannot resolve '$2'"
    [[ $p =~ [[:space:]] ]] && die "$name: path must not contain whitespace: $p"
    case "$p/" in
        "$REPO"/*) printf '%s\n' "$p"; return ;;
    esac
    case "$p/" in
        /tmp/*|/run/*|/var/log/*|/var/lib/*|/var/cache/*|/var/tmp/*|/proc/*|/sys/*|/dev/*)
            die "$name: $p is hidden in the guest (tmpfs/proc/sys/dev there); put it elsewhere, e.g. in the repo or \$HOME/.cache" ;;
    esac
    printf '%s\n' "$p"
}

[ -f "$kernel" ] || die "--kernel: no such file: $kernel"
kernel=$(readlink -f -- "$kernel")
client_kernel=${client_kernel:-$kernel}
[ -f "$client_kernel" ] || die "--client-kernel: no such file: $client_kernel"
client_kernel=$(readlink -f -- "$client_kernel")
for script in "${scripts[@]}"; do
    [ -f "$script" ] || die "--script: no such file: $script"
done
if [ -n "$disk" ]; then
    [ -f "$disk" ] || die "--disk: no such file: $disk"
    disk=$(readlink -f -- "$disk")
    [[ $disk =~ [,[:space:]] ]] && die "--disk: path must not contain commas or whitespace: $disk"
fi
if [ -n "$node_root" ]; then
    [ -z "$disk" ] || die "--node-root and --disk cannot be combined"
    [ ${#scripts[@]} -eq 1 ] || die "--node-root runs one --script"
    for f in vmlinuz initrd.img disk.img; do
        [ -f "$node_root/$f" ] || die "--node-root: no $f in $node_root (scripts/debian-root.sh image)"
    done
    node_root=$(readlink -f -- "$node_root")
    [[ $node_root =~ [,[:space:]] ]] && die "--node-root: path must not contain commas or whitespace: $node_root"
    command -v qemu-img >/dev/null || die "qemu-img not found (apt-get install qemu-utils)"
fi
if [ -n "$disk_throttle" ]; then
    [ -n "$disk" ] || die "--disk-throttle needs --disk"
    [[ $disk_throttle =~ ^[1-9][0-9]*,[1-9][0-9]*$ ]] ||
        die "--disk-throttle must be BPS,IOPS (positive integers; got '$disk_throttle')"
fi
# rig_script: the scripts' guest paths, comma-separated.
script=
for f in "${scripts[@]}"; do
    f=$(guest_path --script "$f")
    [[ $f == *,* ]] && die "--script: path must not contain commas: $f"
    script=${script:+$script,}$f
done
if [ -n "$module" ]; then
    [ -f "$module" ] || die "--module: no such file: $module"
    module=$(guest_path --module "$module")
fi
if [ -n "$tools" ]; then
    [ -d "$tools" ] || die "--tools: no such directory: $tools"
    tools=$(guest_path --tools "$tools")
    [ -x "$tools/dtsctl" ] || say "warning: $tools/dtsctl does not exist (yet); dtsctl checks will fail"
fi
init=$(guest_path init "$REPO/qemu/vm-init.sh")
repo=$(guest_path repo "$REPO")
command -v "$QEMU" >/dev/null || die "$QEMU not found (apt-get install qemu-system-x86)"

mkdir -p -- "$out"
out=$(readlink -f -- "$out")
[ -z "$(ls -A -- "$out")" ] || die "--out $out is not empty (stale barriers would break the run)"
[[ $out =~ [,[:space:]] ]] && die "--out: path must not contain commas or whitespace: $out"

vms=()
for ((i = 1; i <= nodes; i++)); do vms+=("node$i"); done
vms+=(client)
mkdir -p "$out/shared"
for vm in "${vms[@]}"; do mkdir -p "$out/$vm"; done

# A multicast port of our own: derived from our PID and $RANDOM, and skipped if
# any UDP socket on this host is already bound to it (another run's hub).
pick_port() {
    local p tries=0
    p=$(( 20000 + ($$ * 7919 + RANDOM) % 40000 ))
    while [ $tries -lt 100 ]; do
        if ! { ss -Hnlu "sport = :$p" 2>/dev/null || true; } | grep -q .; then
            echo "$p"; return
        fi
        p=$(( 20000 + (p - 20000 + 1 + RANDOM % 97) % 40000 )); tries=$((tries + 1))
    done
    die "could not find a free UDP port for the hub"
}
port=$(pick_port)

if [ "$kvm" = 1 ]; then
    # Opt-in only: on some hosts KVM hangs or aborts (see docs/rig-notes).
    accel=(-accel kvm -cpu qemu64)
else
    # TCG; qemu64 is the CPU model known to boot under TCG here.
    accel=(-accel tcg -cpu qemu64)
fi

# ---------------------------------------------------------------------------
pids=()          # QEMU PIDs, index-aligned with started_vms
started_vms=()
tail_pid=
show_pid=

cleanup() {
    local rc=$? pid alive
    trap - EXIT INT TERM HUP
    # Kill every QEMU still running: TERM first, KILL whoever is left after 3 s.
    alive=()
    for pid in "${pids[@]}"; do
        kill -0 "$pid" 2>/dev/null && alive+=("$pid")
    done
    if [ ${#alive[@]} -gt 0 ]; then
        say "killing ${#alive[@]} QEMU process(es): ${alive[*]}"
        kill -TERM "${alive[@]}" 2>/dev/null || true
        for _ in $(seq 30); do
            local any=0
            for pid in "${alive[@]}"; do kill -0 "$pid" 2>/dev/null && any=1; done
            [ $any = 0 ] && break
            sleep 0.1
        done
        kill -KILL "${alive[@]}" 2>/dev/null || true
    fi
    for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
    if [ -n "$tail_pid" ]; then
        # tail ends by itself (--pid) after the last lines; give it 3 s.
        for _ in $(seq 30); do kill -0 "$tail_pid" 2>/dev/null || break; sleep 0.1; done
        kill "$tail_pid" 2>/dev/null || true
        wait "$tail_pid" 2>/dev/null || true
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'say "interrupted"; exit 130' INT
trap 'say "terminated"; exit 143' TERM
trap 'exit 129' HUP

start_vm() { # VM ROLE ID MAC [BOOT]
    local vm=$1 role=$2 id=$3 mac=$4 boot=${5:-1} cmdline console=console.log image=$kernel
    [ "$role" = client ] && image=$client_kernel
    cmdline="console=ttyS0 panic=-1 oops=panic"
    # no_timer_check: under TCG on a loaded host the boot-time IO-APIC timer
    # check can miss its ticks and panic ("IO-APIC + timer doesn't work!");
    # the check is pointless on QEMU's emulated timer.
    cmdline+=" no_timer_check"
    # tsc=unstable: TCG's TSC follows host time, so a VM descheduled on a busy
    # host sees it leap; when the kernel switched from HPET to the "refined"
    # TSC during boot, such a leap looked like a 100-second RCU stall. Stay on
    # HPET.
    cmdline+=" tsc=unstable"
    local debian=0
    [ -n "$node_root" ] && [ "$role" = node ] && debian=1
    if [ $debian = 1 ]; then
        # A Debian 12 machine: its own root file system (found by Debian's
        # initramfs), systemd as init, classic interface names (eth0: the
        # ifupdown files name it).
        image=$node_root/vmlinuz
        cmdline+=" root=LABEL=dts-root ro net.ifnames=0 systemd.hostname=$vm"
    else
        # Root: the 9p tag "root" (host /), read-only. msize: bigger 9p messages,
        # fewer round trips when programs are loaded from the host.
        cmdline+=" root=root rootfstype=9p rootflags=trans=virtio,version=9p2000.L,msize=262144,cache=$root_cache ro"
        cmdline+=" rig_root_cache=$root_cache"
        cmdline+=" init=$init"
    fi
    # Parameters for vm-init.sh (it parses /proc/cmdline).
    cmdline+=" rig_role=$role rig_id=$id rig_nodes=$nodes rig_script=$script"
    cmdline+=" rig_module=$module rig_tools=$tools rig_repo=$repo rig_timeout=$timeout"
    [ -n "$append" ] && cmdline+=" $append"
    # A VM restarted by a test (see "Kill and restart" below) boots again
    # with rig_boot=2 and its own console log.
    if [ "$boot" != 1 ]; then
        cmdline+=" rig_boot=$boot"
        console=console.boot$boot.log
    fi

    # Host / as the read-only root file system (9p tag "root"), but for a
    # Debian node. security_model=none: plain host permissions, no xattr
    # mapping. multidevs=remap: host / spans several file systems (/proc,
    # /dev, bind mounts such as /etc/hosts); remap their inode numbers so
    # that they cannot collide in the guest.
    local rootfs=()
    [ $debian = 1 ] ||
        rootfs=(-fsdev "local,id=root,path=/,security_model=none,readonly=on,multidevs=remap"
                -device "virtio-9p-pci,fsdev=root,mount_tag=root")

    local args=(
        -name "dts-$vm"
        -machine "$machine"
        "${accel[@]}"
        -m "$mem" -smp "$smp"
        # No default devices (VGA, NIC, floppy, serial, parallel, monitor); we add
        # exactly what we need. -display none + -monitor none + -serial file is
        # -nographic without tying anything to our stdio.
        -nodefaults -no-user-config -display none -monitor none
        -serial "file:$out/$vm/$console"
        # Guest reboot (init's `reboot -f`, or panic=-1 after a panic/oops) makes
        # QEMU exit instead of rebooting the VM.
        -no-reboot
        -kernel "$image" -append "$cmdline"
        "${rootfs[@]}"
        # This VM's results directory, writable (9p tag "out" -> /out).
        -fsdev "local,id=out,path=$out/$vm,security_model=none"
        -device "virtio-9p-pci,fsdev=out,mount_tag=out"
        # The repository, read-only (9p tag "repo"; vm-init.sh mounts it at
        # its host path, above any tmpfs the guest puts there).
        -fsdev "local,id=repo,path=$repo,security_model=none,readonly=on"
        -device "virtio-9p-pci,fsdev=repo,mount_tag=repo"
        # Directory shared by all VMs of this run (9p tag "shared" -> /shared).
        -fsdev "local,id=shared,path=$out/shared,security_model=none"
        -device "virtio-9p-pci,fsdev=shared,mount_tag=shared"
        # The hub: every QEMU of this run joins 230.0.0.1:$port on loopback.
        -netdev "socket,id=n0,mcast=230.0.0.1:$port,localaddr=127.0.0.1"
        -device "virtio-net-pci,netdev=n0,mac=$mac"
    )
    if [ $debian = 1 ]; then
        # The node's disk: a qcow2 overlay of the shared image (made at the
        # first boot, kept by a restart), on the q35 chipset's AHCI
        # controller (bus ide.0), as a SATA disk /dev/sda.
        [ -f "$out/$vm/disk.qcow2" ] ||
            qemu-img create -q -f qcow2 -F raw -b "$node_root/disk.img" "$out/$vm/disk.qcow2"
        args+=(-initrd "$node_root/initrd.img"
               -drive "file=$out/$vm/disk.qcow2,if=none,id=sda,format=qcow2"
               -device "ide-hd,drive=sda,bus=ide.0")
    fi
    if [ -n "$disk" ] && [ "$role" = node ]; then
        # Read-only, so every node can share the one image file.
        local drive="file=$disk,if=none,id=d0,format=raw,readonly=on"
        [ -n "$disk_throttle" ] &&
            drive+=",throttling.bps-read=${disk_throttle%,*},throttling.iops-read=${disk_throttle#*,}"
        args+=(-drive "$drive" -device "virtio-blk-pci,drive=d0")
    fi
    # setpriv --pdeathsig KILL: the kernel kills QEMU if this script dies
    # without running its trap (e.g. SIGKILL), so no QEMU is ever left behind.
    setpriv --pdeathsig KILL -- "$QEMU" "${args[@]}" \
        </dev/null >"$out/$vm/qemu.log" 2>&1 &
    if [ "$boot" = 1 ]; then
        pids+=("$!")
        started_vms+=("$vm")
    else
        local idx
        for idx in "${!started_vms[@]}"; do
            if [ "${started_vms[$idx]}" = "$vm" ]; then pids[$idx]=$!; fi
        done
    fi
    return 0
}

# Kill and restart: a test script asks for a node's VM to be killed (the
# power cord pulled: QEMU gets SIGKILL, the guest sends nothing more) by
# creating shared/kill.<vm>; if the file says "restart", the VM boots again
# at once with rig_boot=2 (otherwise when shared/start.<vm> appears).
# shared/killed.<vm> gets the host time of the kill.
handle_kills() {
    local req vm idx what
    # shared/start.<vm>: boot a VM killed earlier ("kill" without restart).
    for req in "$out"/shared/start.*; do
        [ -e "$req" ] || continue
        vm=${req##*/start.}
        rm -f "$req"
        if [[ "$vm" == node* ]] && [ -e "$out/shared/killed.$vm" ]; then
            say "$vm: started again on request"
            unset "killed_vm[$vm]"
            start_vm "$vm" node "${vm#node}" "52:54:00:00:00:$((10 + ${vm#node}))" 2
        fi
    done
    for req in "$out"/shared/kill.*; do
        [ -e "$req" ] || continue
        vm=${req##*/kill.}
        what=$(cat "$req" 2>/dev/null || true)
        rm -f "$req"
        for idx in "${!started_vms[@]}"; do
            [ "${started_vms[$idx]}" = "$vm" ] || continue
            [[ "$vm" == node* ]] || continue
            kill -KILL "${pids[$idx]}" 2>/dev/null || true
            wait "${pids[$idx]}" 2>/dev/null || true
            # Not a crash: the wait loop skips it until it is started again.
            killed_vm[$vm]=1
            date +%s.%N >"$out/shared/killed.$vm"
            say "$vm: killed on request${what:+ ($what)}"
            if [ "$what" = restart ]; then
                start_vm "$vm" node "${vm#node}" "52:54:00:00:00:$((10 + ${vm#node}))" 2
            fi
        done
    done
    return 0
}

say "hub 230.0.0.1:$port, $nodes node(s) + client, timeout ${timeout}s, results in $out"
printf '%s\n' "$port" >"$out/port"
start=$(date +%s.%N)
for ((i = 1; i <= nodes; i++)); do
    start_vm "node$i" node "$i" "52:54:00:00:00:$((10 + i))"
done
start_vm client client 0 52:54:00:00:00:02

if [ -n "$show" ]; then
    # --pid: tail prints what is left and exits once that VM's QEMU is gone.
    for idx in "${!started_vms[@]}"; do
        [ "${started_vms[$idx]}" = "$show" ] && show_pid=${pids[$idx]}
    done
    tail -n +1 -F --pid="$show_pid" "$out/$show/console.log" 2>/dev/null &
    tail_pid=$!
fi

# Wait for every QEMU to exit, up to the deadline. A VM that powers off without
# writing /out/status crashed (panic, oops, init died): tell the others through
# shared/abort so their barriers fail at once instead of waiting for a timeout.
deadline=$(( $(date +%s) + timeout ))
declare -A done_vm=() killed_vm=()
rc=0
while :; do
    handle_kills
    running=0
    for idx in "${!pids[@]}"; do
        vm=${started_vms[$idx]}
        [ -n "${done_vm[$vm]:-}" ] && continue
        [ -n "${killed_vm[$vm]:-}" ] && continue
        if kill -0 "${pids[$idx]}" 2>/dev/null; then
            running=$((running + 1)); continue
        fi
        qrc=0; wait "${pids[$idx]}" || qrc=$?
        done_vm[$vm]=$qrc
        secs=$(awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN { printf "%.1f", e - s }')
        if [ "$qrc" != 0 ]; then
            say "$vm: QEMU exited with status $qrc after ${secs}s (see $out/$vm/qemu.log):"
            tail -n 5 "$out/$vm/qemu.log" | sed 's/^/    /' >&2
            rc=1
        else
            say "$vm: powered off after ${secs}s (status $(cat "$out/$vm/status" 2>/dev/null || echo none))"
        fi
        if [ ! -s "$out/$vm/status" ]; then
            echo "$vm exited without a status (crash?)" >>"$out/shared/abort"
        fi
    done
    [ "$running" = 0 ] && break
    if [ "$(date +%s)" -ge "$deadline" ]; then
        say "timeout after ${timeout}s; $running VM(s) still running"
        exit 124   # the EXIT trap kills the remaining QEMUs
    fi
    sleep 0.5
done
exit "$rc"
