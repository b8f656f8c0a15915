# Shared by the host tests in tests/host/ (bash; source it first):
#   . "$(dirname "$(readlink -f "$0")")/lib.sh"
# Sets $repo (the repository) and $py (python3, or $PYTHON), puts
# tests/host on PYTHONPATH (verify.py, for python run from a heredoc), and
# gives ok/ko to record a check and finish to print "N passed, N failed"
# and return 0 iff none failed.
repo=$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/../.." && pwd)
py=${PYTHON:-python3}
export PYTHONPATH=$repo/tests/host${PYTHONPATH:+:$PYTHONPATH}
passed=0 failed=0
ok() { echo "PASS $*"; passed=$((passed + 1)); }
ko() { echo "FAIL $*"; failed=$((failed + 1)); }
finish() {
    echo "$passed passed, $failed failed"
    [ "$failed" = 0 ]
}
