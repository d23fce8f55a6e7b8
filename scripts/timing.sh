# Sourced by the benchmark scripts: `time_of CMD…` prints the best of $rounds runs, in ms.
time_of() {
  local best=""
  for _ in $(seq "${rounds:-3}"); do
    local s e
    s=$(date +%s%N); "$@" > /dev/null; e=$(date +%s%N)
    local ms=$(( (e - s) / 1000000 ))
    if [ -z "$best" ] || [ "$ms" -lt "$best" ]; then best=$ms; fi
  done
  echo "$best"
}
