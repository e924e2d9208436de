# cloud100k-lab.sh, sourced by paced-100k.sh and apply-start.sh: starts
# `$rb lab serve` on the cloud-100k scenario (100,000 cloud-only users
# without an immutable ID), Graph throttled at the small tier (3,500
# resource units per 10 s, 3,000 writes per 150 s), its state under
# $work; exports what rebind needs to reach it and stops it on exit.
# Needs $rb (the binary) and $work (a directory); sets $url and $lab.
export REBIND_STATE_DIR="$work/state" REBIND_LAB_CA="$work/ca.pem"
"$rb" lab serve --listen 127.0.0.1:0 --scenario cloud-100k --read-units 3500 --write-units 3000 --ca-file "$work/ca.pem" >"$work/lab.out" 2>"$work/lab.err" &
lab=$!
trap 'kill $lab 2>/dev/null || true' EXIT
url=""
for _ in $(seq 600); do
	url=$(head -1 "$work/lab.out" 2>/dev/null || true)
	[ -n "$url" ] && break
	sleep 0.1
done
[ -n "$url" ] || { echo "the lab did not start: $(cat "$work/lab.err")" >&2; exit 1; }
export REBIND_LAB="$url"
# labcount FIELD: a count from GET /lab/requests (writes, throttled, ...).
labcount() { curl -sS --cacert "$work/ca.pem" "$url/lab/requests" | python3 -c 'import json,sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"; }
now() { date +%s.%N; }
