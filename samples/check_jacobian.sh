#!/usr/bin/env bash
# A CI job: check a hand-written Jacobian (what our C++ code printed) against jaccli.
# Exits 0 when every entry agrees, 1 (with a table of the entries that differ) when one does not.
#   usage: samples/check_jacobian.sh [EXPECTED.csv] [JACCLI]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
expected=${1:-$here/robot_arm_jacobian.csv}
jaccli=${2:-jaccli}
"$jaccli" check @"$here/robot_arm.txt" --of jacobian --wrt theta1,theta2 \
  --at l1=1,l2=0.5,theta1=0.3,theta2=1.1 --expect "$expected" --rtol 1e-8
