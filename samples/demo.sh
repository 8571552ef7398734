#!/usr/bin/env bash
# The README's examples, run against the installed jaccli (make demo).
set -euo pipefail
jaccli=${1:-jaccli}
here=$(cd "$(dirname "$0")" && pwd)
run() {
  printf '\n$ jaccli'
  for a in "$@"; do if [[ $a =~ [^A-Za-z0-9_.,/=@:+-] ]]; then printf " '%s'" "$a"; else printf ' %s' "$a"; fi; done
  printf '\n'
  "$jaccli" "$@"
}

run jacobian "[x**2*y, sin(z)]" --at 1,2,pi/2 -f table
run hessian "x**2*y + y**3" --at 1,2 -f table
run hvp "x**2*y + y**3" --at 1,2 --v 1,0 -f json
run grad "sum(100*(x[1:]-x[:-1]**2)**2 + (1-x[:-1])**2)" --at "x=[0.5, 0.5, 0.5, 0.5]" -f plain
run hvp "sum(tanh(X)**2)" --at "X=@$here/X.npy" --v "@$here/V.npy" -f csv
run jacobian @"$here/robot_arm.txt" --at l1=1,l2=0.5,theta1=pi/4,theta2=pi/3 --wrt theta1,theta2 -f table
run inspect "where(x > 0, sqrt(x), -x**2)"
run hessian @"$here/gaussian.txt" --wrt x --at "x=[1.5,0.25]" --at "mu=[0.5,-1]" --at "S=[[2,0.5],[0.5,1]]" -f table
run jacobian @"$here/network.txt" --wrt x --at "x=[0.5,-1,2]" --at "W1=random((4, 3), seed=1)" --at "b1=zeros(4)" \
  --at "W2=random((2, 4), seed=2)" --at "b2=zeros(2)" -f table
run grad @"$here/least_squares.txt" --wrt x --at "x=[1,-1]" --at "A=[[1,0],[1,1],[1,2]]" --at "b=[1,2,2]" -f plain
printf '\n$ printf "1,2\\n0.5,-1\\n" | jaccli hessian "x**2*y + y**3" --at - -f csv\n'
printf '1,2\n0.5,-1\n' | "$jaccli" hessian "x**2*y + y**3" --at - -f csv
run derivative "x**3 + 2*x**2 - 3*x + 1" --at 2 --order 3 -f plain
run check "[x**2*y, sin(z)]" --at 1,2,pi/2 --of jacobian
run hessian "x**2*y + y**3" -f latex
run derivative "x**3*y**2" --at 1,2 --partial x,x,y -f plain
run analyze "100*(y - x**2)**2 + (1 - x)**2" --at 1,1 -f table
run analyze "x**2 - y**2" --at 0,0 -f json
run analyze "sum(100*(x[1:]-x[:-1]**2)**2 + (1-x[:-1])**2)" --at "x=full(10000, 1)" --lanczos --trace -f table
run hessian "sum(100*(x[1:]-x[:-1]**2)**2 + (1-x[:-1])**2)" --at "x=random(10, seed=1)" \
  --plot "$here/hessian.png" --plot-size 480x400 -f table
run hessian "sum(100*(x[1:]-x[:-1]**2)**2 + (1-x[:-1])**2)" --at "x=random(10, seed=1)" --plot - -o /dev/null
printf '\n$ python -c "import jaccli; print(jaccli.hessian(\x27x**2*y + y**3\x27, at=[1, 2]).value)"\n'
"$(dirname "$jaccli")/python" -c "import jaccli; print(jaccli.hessian('x**2*y + y**3', at=[1, 2]).value)" 2>/dev/null \
  || python3 -c "import jaccli; print(jaccli.hessian('x**2*y + y**3', at=[1, 2]).value)"
echo
echo '$ jaccli eval "sin(x" --at 1    # a mistake: one error line, a caret, exit 2'
"$jaccli" eval "sin(x" --at 1 || echo "(exit $?)"
