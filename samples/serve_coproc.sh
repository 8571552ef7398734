#!/usr/bin/env bash
# A bash client of `jaccli serve`: the server runs as a co-process; each request is one line written to
# it and each answer one line read back, before the next request is written.
#
#   bash samples/serve_coproc.sh [path/to/jaccli]
set -euo pipefail
jaccli=${1:-jaccli}

coproc SERVER { "$jaccli" serve; }
server_pid=$SERVER_PID
to_server=${SERVER[1]} from_server=${SERVER[0]}

ask() {  # ask REQUEST: one line out, one line back
    printf '%s\n' "$1" >&"$to_server"
    IFS= read -r answer <&"$from_server"
    printf '%s\n' "$answer"
}

ask '{"id": 1, "command": "hessian", "expr": "x**2*y + y**3", "at": [1, 2], "fields": ["value"]}'
ask '{"id": 2, "command": "grad", "expr": "x**2*y + y**3", "at": {"x": 3, "y": -1}, "fields": ["value"]}'
ask '{"id": 3, "command": "hvp", "expr": "sum(x**4)", "at": "x=[1,2,3]", "v": [1, 0, 0], "fields": ["value"]}'
ask '{"id": 4, "command": "grad", "expr": "x**2*(y", "at": [1, 2]}'  # an error is an answer too
ask '{"id": 5, "command": "jacobian", "expr": "[x**2*y, sin(z)]", "at": "1,2,pi/2", "fields": ["value", "mode"]}'

exec {to_server}>&-  # end of input: the server exits 0
wait "$server_pid"
