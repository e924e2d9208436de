#!/usr/bin/env bash
# apply-start.sh: how long apply and resume take before their first write
# on a 100,000-user fan-out (README Measurements). A lab serves cloud-100k
# throttled at the small tier; cli/testdata/paced-100k plans the users whose
# UPN starts with PREFIX (cu001: 1,000 users that change), its data block
# listing all 100,000 users (85 MB of JSON). The apply is killed with
# SIGKILL a second after the lab sees its first write; the run is resumed
# and the resume killed once it writes. CPU (user + sys) and peak RSS come
# from GNU time, the time to the first write from the lab's count of
# writes (GET /lab/requests).
#
#   scripts/apply-start.sh [PREFIX] [REBIND_BINARY]
set -uo pipefail
cd "$(dirname "$0")/.."
prefix=${1:-cu001}
work=$(mktemp -d)
echo "work directory: $work"
rb=${2:-}
if [ -z "$rb" ]; then
	go build -o "$work/rebind" ./cmd/rebind || exit 1
	rb="$work/rebind"
fi
. scripts/cloud100k-lab.sh
cpu() { awk -F': ' '/User time/ {u=$2} /System time/ {s=$2} /Maximum resident/ {r=$2} END {printf "%.1f s CPU (user %.1f + sys %.1f), peak RSS %d MB", u+s, u, s, r/1024}' "$1"; }

"$rb" plan cli/testdata/paced-100k/main.hcl -var "prefix=$prefix" -out "$work/p.plan" >"$work/plan.txt" || exit 1
grep -m1 '^Plan:' "$work/plan.txt"
w0=$(labcount writes)
t0=$(now)
/usr/bin/time -v "$rb" apply "$work/p.plan" --progress-interval 60s >"$work/apply.txt" 2>"$work/apply.time" &
tp=$!
sleep 0.5
ap=$(pgrep -P $tp)
while [ "$(labcount writes)" = "$w0" ] && kill -0 "$ap" 2>/dev/null; do sleep 0.1; done
t1=$(now)
sleep 1
kill -9 "$ap" 2>/dev/null
wait $tp
wk=$(labcount writes)
echo "apply: first write after $(python3 -c "print(round($t1-$t0,1))") s; $((wk - w0)) writes before the kill; $(cpu "$work/apply.time")"
run=$("$rb" runs --json | python3 -c 'import json,sys; r=json.load(sys.stdin); r=r if isinstance(r,list) else r.get("runs",[]); print(r[-1].get("id") or r[-1].get("ID"))')
t2=$(now)
/usr/bin/time -v "$rb" resume "$run" --progress-interval 60s >"$work/resume.txt" 2>"$work/resume.time" &
tp=$!
sleep 0.5
rp=$(pgrep -P $tp)
while [ "$(labcount writes)" = "$wk" ] && kill -0 "$rp" 2>/dev/null; do sleep 0.1; done
t3=$(now)
kill -9 "$rp" 2>/dev/null
wait $tp
echo "resume of $run: first write after $(python3 -c "print(round($t3-$t2,1))") s; $(cpu "$work/resume.time")"
