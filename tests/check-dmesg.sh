#!/usr/bin/env bash
# tests/check-dmesg.sh FILE...
# Exit non-zero and print the offending lines (FILE:LINE: text) if any FILE (a
# dmesg dump or a serial console log) contains a kernel problem report: BUG,
# WARNING, Oops, KASAN, UBSAN, lockdep reports, sleeping in atomic context,
# general protection fault, panic, a call trace.
# Exit status: 0 clean, 1 problem reports found, 2 usage error or unreadable file.
# Matching is case-sensitive and literal. Do not add an allowlist for real reports.
set -euo pipefail

if [ $# -eq 0 ] || [ "$1" = -h ] || [ "$1" = --help ]; then
    echo "usage: $0 FILE..." >&2
    exit 2
fi

patterns=(
    'BUG:'
    'WARNING:'
    'Oops'
    'KASAN'
    'UBSAN'
    'possible circular locking'
    'possible recursive locking'
    'inconsistent lock state'
    'suspicious RCU usage'
    'INFO: lockdep is turned off'
    'DEBUG_LOCKS_WARN_ON'
    'sleeping function called from invalid context'
    'general protection fault'
    'Kernel panic'
    'unable to handle'
    'Call Trace:'
)
args=()
for p in "${patterns[@]}"; do args+=(-e "$p"); done

rc=0
for f in "$@"; do
    if [ ! -r "$f" ]; then
        echo "check-dmesg: cannot read $f" >&2
        rc=2
        continue
    fi
    # -a: console logs may contain stray control bytes; -F: literal patterns.
    if grep -a -n -F "${args[@]}" -- "$f" | sed "s|^|$f:|"; then
        [ $rc -eq 0 ] && rc=1
    fi
done
exit $rc
