#!/usr/bin/env bash
# Host-side runner for the VM tests (tests/vm/tNN-*.sh).
#
#   tests/vm/run.sh --kernel BZIMAGE [--client-kernel BZIMAGE]
#                   [--module DTS_KO] [--tools DIR]
#                   [--flavor NAME] [--out DIR] [--timeout SEC]
#                   [--share N] [TEST...]
#
# --flavor names the nodes' kernel flavor; every VM gets it as $RIG_FLAVOR
# (rig_flavor= on its command line), so a test scales its load by the nodes'
# kernel even on a client that boots --client-kernel (default: --kernel).
# --timeout is per test (default 600 s, 1800 s for --flavor debug); --out
# defaults to <repo>/build/vm-tests/<flavor>-<timestamp>.
# TEST is a test name (t01-basic), a prefix (t01) or a path; default: all
# tests/vm/tNN-*.sh. Each test boots a cluster with qemu/cluster.sh (node count
# from a "# rig-nodes: N" line in the test, default 3), or shares one: tests
# with the same node count and none of the header lines below, up to N of
# them (--share, or $RIG_SHARE; default 8; 1: every test boots alone), run
# one after the other in one boot, in the order given (the boot where its
# first test stands)
# (qemu/vm-init.sh cleans the VMs up between them: processes, /tmp, netem,
# hand-made routes and addresses; each test loads the module anew). Each
# still gets its own <out>/<test>/ with its VMs' files, its slice of their
# console logs and its own verdict; the boot's whole logs stay in
# <out>/boot-tNN..tMM/. A boot costs every VM some 10-20 s of TCG time.
# Other header lines:
#   "# rig-boot: own"     the test boots alone (it kills or restarts VMs:
#                         qemu/cluster.sh's shared/kill.<vm> requests);
#   "# rig-kernel: deb"   every VM boots the kernel of the packaged
#                         build/deb/linux-image-*.deb (make deb), extracted
#                         with dpkg -x into <out>/<test>.deb-kernel/ (moved
#                         to <out>/<test>/deb-kernel/ afterwards), instead
#                         of --kernel/--client-kernel;
#   "# rig-module: none"  no --module: the rig insmods nothing;
#   "# rig-tools: none"   no --tools: $DTSCTL is a bare "dtsctl";
#   "# rig-root: debian"  the nodes are Debian 12 machines booted from disk
#                         (qemu/cluster.sh --node-root): scripts/debian-root.sh
#                         image installs build/deb/*.deb into a bookworm
#                         root with tests/vm/<test>.toml as the cluster file
#                         (in <out>/<test>.debian/, removed afterwards but
#                         for its logs apt.log and enable.log);
#   "# rig-timeout: SECS" with rig-boot own: a longer cluster timeout than
#                         --timeout's (never a shorter one);
#   "# rig-manual: WHY"   not in the default set (make test): runs only
#                         when named.
# A test passes iff:
#   - cluster.sh exited 0 (every VM powered off by itself, no timeout),
#   - every VM wrote /out/status = 0,
#   - every VM's results.txt exists, has at least one PASS and no FAIL line,
#   - tests/check-dmesg.sh is clean on every VM's console.log and dmesg.txt.
# Prints "PASS name[flavor]" or "FAIL name[flavor]: reason" per test, then
# "N passed, N failed". Exit status 0 iff no test failed.
set -euo pipefail

REPO=$(cd "$(dirname "$(readlink -f "$0")")/../.." && pwd)
TESTDIR=$REPO/tests/vm

usage() {
    awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"
}
die() { echo "run.sh: error: $*" >&2; exit 2; }

kernel= client_kernel= module= tools= flavor=default out= timeout=
share=${RIG_SHARE:-8}
tests=()
while [ $# -gt 0 ]; do
    case "$1" in
        --kernel)  kernel=${2:?--kernel needs a value}; shift 2 ;;
        --client-kernel) client_kernel=${2:?--client-kernel needs a value}; shift 2 ;;
        --module)  module=${2:?--module needs a value}; shift 2 ;;
        --tools)   tools=${2:?--tools needs a value}; shift 2 ;;
        --flavor)  flavor=${2:?--flavor needs a value}; shift 2 ;;
        --out)     out=${2:?--out needs a value}; shift 2 ;;
        --timeout) timeout=${2:?--timeout needs a value}; shift 2 ;;
        --share)   share=${2:?--share needs a value}; shift 2 ;;
        -h|--help) usage; exit 0 ;;
        -*) usage >&2; die "unknown option: $1" ;;
        *) tests+=("$1"); shift ;;
    esac
done
[ -n "$kernel" ] || { usage >&2; die "--kernel is required"; }
[ -f "$kernel" ] || die "--kernel: no such file: $kernel"
[ -z "$client_kernel" ] || [ -f "$client_kernel" ] || die "--client-kernel: no such file: $client_kernel"
[ -z "$module" ] || [ -f "$module" ] || die "--module: no such file: $module"
[ -z "$tools" ] || [ -d "$tools" ] || die "--tools: no such directory: $tools"
# The debug (KASAN+lockdep) kernel under TCG is about 10x slower.
[ -n "$timeout" ] || { [ "$flavor" = debug ] && timeout=1800 || timeout=600; }
[[ $timeout =~ ^[1-9][0-9]*$ ]] || die "--timeout must be a positive integer"
[[ $share =~ ^[1-9][0-9]*$ ]] || die "--share must be a positive integer"
[[ $flavor =~ ^[A-Za-z0-9_.-]+$ ]] || die "--flavor: letters, digits, '_', '.', '-' only"
out=${out:-$REPO/build/vm-tests/$flavor-$(date +%Y%m%d-%H%M%S)}

# Resolve the test list.
scripts=()
if [ ${#tests[@]} -eq 0 ]; then
    for f in "$TESTDIR"/t[0-9][0-9]-*.sh; do
        [ -f "$f" ] || continue
        # "# rig-manual: WHY": run only when named.
        why=$(sed -n 's/^# rig-manual: *//p' "$f" | head -n 1)
        if [ -n "$why" ]; then
            echo "run.sh: $(basename "$f" .sh): not in the default set ($why); name it to run it" >&2
            continue
        fi
        scripts+=("$f")
    done
    [ ${#scripts[@]} -gt 0 ] || die "no tests in $TESTDIR"
else
    for t in "${tests[@]}"; do
        if [ -f "$t" ]; then scripts+=("$(readlink -f "$t")"); continue; fi
        t=$(basename "$t" .sh)
        m=("$TESTDIR/$t".sh)
        [ -f "${m[0]}" ] || m=("$TESTDIR/$t"-*.sh)
        [ -f "${m[0]}" ] || die "no such test: $t (tests: $(cd "$TESTDIR" && ls t[0-9][0-9]-*.sh | tr '\n' ' '))"
        [ ${#m[@]} -eq 1 ] || die "test '$t' is ambiguous: ${m[*]##*/}"
        scripts+=("${m[0]}")
    done
fi

mkdir -p "$out"
echo "run.sh: results in $out" >&2

# header NAME: the value of the test's "# rig-NAME: VALUE" line ($script).
header() { sed -n "s/^# rig-$1: *\([A-Za-z0-9_-]*\).*/\1/p" "$script" | head -n 1; }

# verdict NAME DIR NODES CRC [SECS]: checks the results of test NAME in DIR
# (cluster.sh's exit status CRC, 0 if the test ran in a boot that it shared
# and finished), prints PASS/FAIL and counts it. `reasons` may hold reasons
# found before.
verdict() {
    local name=$1 dir=$2 nodes=$3 crc=$4 vm d bad st nfail reason i lines
    local vms=() bad_vms=() logs=()
    case $crc in
        0) ;;
        124) reasons+=("cluster timed out") ;;
        *) reasons+=("cluster.sh exited $crc (see $dir/cluster.log)") ;;
    esac
    for ((i = 1; i <= nodes; i++)); do vms+=("node$i"); done
    vms+=(client)
    for vm in "${vms[@]}"; do
        d=$dir/$vm
        bad=0
        st=$(cat "$d/status" 2>/dev/null || echo missing)
        [ "$st" = 0 ] || { reasons+=("$vm status $st"); bad=1; }
        if [ ! -f "$d/results.txt" ]; then
            reasons+=("$vm has no results.txt"); bad=1
        else
            nfail=$(grep -c '^FAIL' "$d/results.txt" || true)
            [ "$nfail" = 0 ] || { reasons+=("$vm: $nfail check(s) failed"); bad=1; }
            grep -q '^PASS' "$d/results.txt" || { reasons+=("$vm: no PASS line"); bad=1; }
        fi
        logs=()
        for f in "$d"/console*.log "$d/dmesg.txt"; do [ -f "$f" ] && logs+=("$f"); done
        if [ ${#logs[@]} -gt 0 ] && ! "$REPO/tests/check-dmesg.sh" "${logs[@]}" >"$d/check-dmesg.txt" 2>&1; then
            reasons+=("$vm: kernel problem report (see $d/check-dmesg.txt)"); bad=1
        fi
        [ $bad = 1 ] && bad_vms+=("$vm")
    done

    if [ ${#reasons[@]} -eq 0 ]; then
        echo "PASS $name[$flavor]"
        passed=$((passed + 1))
        return
    fi
    reason=$(printf '%s; ' "${reasons[@]}")
    echo "FAIL $name[$flavor]: ${reason%; }"
    failed=$((failed + 1))
    for vm in "${bad_vms[@]}"; do
        d=$dir/$vm
        if [ -f "$d/results.txt" ]; then
            grep '^FAIL' "$d/results.txt" | sed 's/^/    /' || true
        fi
        if [ -s "$d/check-dmesg.txt" ]; then
            echo "    --- $vm: kernel problem reports:"
            head -n 20 "$d/check-dmesg.txt" | sed 's/^/    /'
        fi
        echo "    --- $vm: last 30 console lines ($d/console.log):"
        tail -n 30 "$d/console.log" 2>/dev/null | sed 's/^/    /' || true
    done
    # A client's failure is often a node's refusal: show every node's
    # proxy decisions that were not a plain success (a failed handover's
    # errno, a refusal, a local fallback's status).
    for d in "$dir"/node*; do
        [ -s "$d/proxy.log" ] || continue
        lines=$(grep -E 'result=|error=|status=' "$d/proxy.log" | grep -vE 'result=ok( |$)' | tail -n 10 || true)
        [ -n "$lines" ] || continue
        echo "    --- $(basename "$d"): proxy decisions that were not a plain success (last 10):"
        printf '%s\n' "$lines" | sed 's/^/    /'
    done
    if [ "$crc" != 0 ]; then
        echo "    --- cluster.sh:"
        tail -n 10 "$dir/cluster.log" 2>/dev/null | sed 's/^/    /' || true
    fi
}

# run_alone SCRIPT: boots a cluster for SCRIPT alone (with whatever its
# rig-* header lines ask for) and checks its results.
run_alone() {
    local script=$1 name dir nodes t_kernel t_client_kernel t_module t_tools node_root t_timeout
    local kdir rdir debs pkgs f args t0 crc
    name=$(basename "$script" .sh)
    dir=$out/$name
    nodes=$(nodes_of "$script")
    t_kernel=$kernel t_client_kernel=$client_kernel t_module=$module t_tools=$tools node_root=
    reasons=()
    kdir=$out/$name.deb-kernel
    rdir=$out/$name.debian
    rm -rf "$dir" "$kdir" "$rdir"
    case $(header kernel) in
        "") ;;
        deb)
            # The packaged kernel, for every VM (the client too).
            debs=()
            for f in "$REPO"/build/deb/linux-image-*.deb; do [ -f "$f" ] && debs+=("$f"); done
            if [ ${#debs[@]} -ne 1 ]; then
                reasons+=("rig-kernel: deb: ${#debs[@]} linux-image packages in $REPO/build/deb (want 1): run make deb first")
            elif ! dpkg -x "${debs[0]}" "$kdir"; then
                reasons+=("rig-kernel: deb: dpkg -x ${debs[0]} failed")
            else
                t_kernel=$(ls "$kdir"/boot/vmlinuz-* 2>/dev/null | head -n 1)
                t_client_kernel=
                [ -n "$t_kernel" ] || reasons+=("rig-kernel: deb: no /boot/vmlinuz-* in ${debs[0]##*/}")
            fi
            ;;
        *) reasons+=("unknown rig-kernel '$(header kernel)' (deb)") ;;
    esac
    case $(header root) in
        "") ;;
        debian)
            pkgs=()
            for f in "$REPO"/build/deb/*.deb; do [ -f "$f" ] && pkgs+=("$f"); done
            if [ ${#pkgs[@]} -ne 3 ]; then
                reasons+=("rig-root: debian: ${#pkgs[@]} packages in $REPO/build/deb (want 3): run make deb first")
            else
                echo "run.sh: $name[$flavor]: making the Debian 12 node disk ..." >&2
                if "$REPO/scripts/debian-root.sh" image "$rdir" "$TESTDIR/$name.toml" "${pkgs[@]}" \
                    >"$out/$name.debian.log" 2>&1; then
                    node_root=$rdir
                else
                    reasons+=("rig-root: debian: scripts/debian-root.sh image failed: $(tail -n 3 "$out/$name.debian.log" | tr '\n' ' ')")
                fi
            fi
            ;;
        *) reasons+=("unknown rig-root '$(header root)' (debian)") ;;
    esac
    case $(header module) in "") ;; none) t_module= ;; *) reasons+=("unknown rig-module '$(header module)' (none)") ;; esac
    case $(header tools) in "") ;; none) t_tools= ;; *) reasons+=("unknown rig-tools '$(header tools)' (none)") ;; esac
    # "# rig-timeout: SECS" (a test that boots alone) raises the cluster's
    # timeout for the default flavor, never lowers it.
    t_timeout=$timeout
    local ht
    ht=$(header timeout)
    if [[ $ht =~ ^[1-9][0-9]*$ ]] && [ "$ht" -gt "$t_timeout" ]; then t_timeout=$ht; fi
    args=(--kernel "$t_kernel" --script "$script" --out "$dir" --nodes "$nodes" --timeout "$t_timeout"
          --append "rig_flavor=$flavor")
    [ -n "$t_client_kernel" ] && args+=(--client-kernel "$t_client_kernel")
    [ -n "$t_module" ] && args+=(--module "$t_module")
    [ -n "$t_tools" ] && args+=(--tools "$t_tools")
    [ -n "$node_root" ] && args+=(--node-root "$node_root")
    if [ ${#reasons[@]} -gt 0 ]; then
        # Nothing booted: no VM results to check.
        echo "FAIL $name[$flavor]: $(printf '%s; ' "${reasons[@]}" | sed 's/; $//')"
        failed=$((failed + 1))
        return
    fi
    echo "run.sh: $name[$flavor]: booting $nodes node(s) + client ..." >&2
    t0=$(date +%s)
    crc=0
    "$REPO/qemu/cluster.sh" "${args[@]}" >"$out/$name.cluster.log" 2>&1 || crc=$?
    mv "$out/$name.cluster.log" "$dir/cluster.log" 2>/dev/null || true
    [ -d "$kdir" ] && { mv "$kdir" "$dir/deb-kernel" 2>/dev/null || rm -rf "$kdir"; }
    if [ -d "$rdir" ]; then
        # The disks are big and say nothing a log does not.
        mkdir -p "$dir/debian"
        mv "$out/$name.debian.log" "$rdir"/*.log "$dir/debian/" 2>/dev/null || true
        rm -rf "$rdir" "$dir"/node*/disk.qcow2
    fi
    echo "run.sh: $name[$flavor]: cluster finished in $(( $(date +%s) - t0 ))s" >&2
    verdict "$name" "$dir" "$nodes" "$crc"
}

# run_shared SCRIPT...: boots one cluster in which every VM runs the
# SCRIPTs one after the other (qemu/vm-init.sh), then gives each test its
# own result directory as if it had booted alone: DIR/<vm>/ with the
# test's files, its slice of the VM's console.log (the first test's from
# the boot on) and the VM's qemu.log, DIR/shared and DIR/cluster.log. The
# whole boot stays in OUT/boot-<first>..<last>/. Each test's time is its
# scripts' longest run; the first also gets the boot and power-off.
run_shared() {
    local first last gdir nodes script name dir vm args t0 crc secs sum i
    local names=() vms=() el=() hole
    first=$(basename "$1" .sh) last=$(basename "${!#}" .sh)
    gdir=$out/boot-${first%%-*}..${last%%-*}
    nodes=$(nodes_of "$1")
    rm -rf "$gdir"
    args=(--kernel "$kernel" --out "$gdir" --nodes "$nodes" --timeout $((timeout * $#))
          --append "rig_flavor=$flavor")
    for script in "$@"; do
        name=$(basename "$script" .sh)
        names+=("$name")
        args+=(--script "$script")
        rm -rf "${out:?}/$name"
    done
    [ -n "$client_kernel" ] && args+=(--client-kernel "$client_kernel")
    [ -n "$module" ] && args+=(--module "$module")
    [ -n "$tools" ] && args+=(--tools "$tools")
    echo "run.sh: ${names[*]} [$flavor]: booting $nodes node(s) + client, one boot for ${#names[@]} tests ..." >&2
    t0=$(date +%s)
    crc=0
    "$REPO/qemu/cluster.sh" "${args[@]}" >"$out/boot.cluster.log" 2>&1 || crc=$?
    mv "$out/boot.cluster.log" "$gdir/cluster.log" 2>/dev/null || true
    secs=$(( $(date +%s) - t0 ))
    echo "run.sh: ${names[*]} [$flavor]: the shared boot took ${secs}s" >&2
    for ((i = 1; i <= nodes; i++)); do vms+=("node$i"); done
    vms+=(client)
    sum=0
    for name in "${names[@]}"; do
        dir=$out/$name
        mkdir -p "$dir"
        cp "$gdir/cluster.log" "$dir/cluster.log" 2>/dev/null || true
        [ -d "$gdir/shared/$name" ] && mv "$gdir/shared/$name" "$dir/shared"
        e=0
        for vm in "${vms[@]}"; do
            mkdir -p "$dir/$vm"
            if [ -d "$gdir/$vm/$name" ]; then
                mv "$gdir/$vm/$name"/* "$dir/$vm/" 2>/dev/null || true
                rmdir "$gdir/$vm/$name" 2>/dev/null || true
            fi
            cp "$gdir/$vm/qemu.log" "$dir/$vm/" 2>/dev/null || true
            # The boot's own checks (network, insmod) count for every test.
            [ -f "$gdir/$vm/results.txt" ] && cat "$gdir/$vm/results.txt" >>"$dir/$vm/results.txt"
            awk -v vm="$vm" -v me="/$name.sh " -v first="$([ "$name" = "${names[0]}" ] && echo 1)" '
                index($0, "rig-init: " vm ": running ") { on = index($0, me) > 0; if (on) seen = 1 }
                on || (first && !seen) { print }' "$gdir/$vm/console.log" >"$dir/$vm/console.log" 2>/dev/null || true
            [ -f "$dir/$vm/elapsed" ] && [ "$(cat "$dir/$vm/elapsed")" -gt "$e" ] && e=$(cat "$dir/$vm/elapsed")
        done
        el+=("$e")
        sum=$((sum + e))
    done
    for i in "${!names[@]}"; do
        name=${names[$i]}
        dir=$out/$name
        reasons=()
        e=${el[$i]}
        [ "$i" = 0 ] && e=$((secs - sum + el[0]))
        echo "run.sh: $name[$flavor]: cluster finished in ${e}s" >&2
        # A failed cluster counts against the tests that did not finish
        # (a VM crashed or the cluster timed out in them), or the last.
        hole=0
        for vm in "${vms[@]}"; do [ -f "$dir/$vm/status" ] || hole=1; done
        if [ "$crc" != 0 ] && { [ $hole = 1 ] || [ "$name" = "$last" ]; }; then
            verdict "$name" "$dir" "$nodes" "$crc"
        else
            verdict "$name" "$dir" "$nodes" 0
        fi
    done
}

# nodes_of SCRIPT: its "# rig-nodes: N" (default 3).
nodes_of() {
    local n
    n=$(sed -n 's/^# rig-nodes: *\([0-9][0-9]*\).*/\1/p' "$1" | head -n 1)
    echo "${n:-3}"
}

# shareable SCRIPT: whether it may share a boot: it needs nothing but the
# default rig (no rig-kernel, -root, -module or -tools line) and does not
# kill or restart VMs ("# rig-boot: own").
shareable() {
    local script=$1
    [ -z "$(header kernel)$(header root)$(header module)$(header tools)" ] &&
        [ "$(header boot)" != own ]
}

# The boots: every test that may share one joins the open boot of its node
# count, until that has --share tests; a boot runs where its first test
# stands in the list. groups[k] is a newline-separated list of scripts.
groups=()
declare -A open_group=()
for script in "${scripts[@]}"; do
    if [ "$share" -gt 1 ] && shareable "$script"; then
        n=$(nodes_of "$script")
        k=${open_group[$n]:-}
        if [ -n "$k" ] && [ "$(printf '%s\n' "${groups[$k]}" | wc -l)" -lt "$share" ]; then
            groups[$k]+=$'\n'$script
            continue
        fi
        open_group[$n]=${#groups[@]}
    fi
    groups+=("$script")
done

passed=0 failed=0
for g in "${groups[@]}"; do
    mapfile -t group <<<"$g"
    if [ ${#group[@]} -gt 1 ]; then
        run_shared "${group[@]}"
    else
        run_alone "${group[0]}"
    fi
done

echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
