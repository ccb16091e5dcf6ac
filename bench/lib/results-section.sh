# Sourced by the bench scripts: replace_results_section NAME TEXT puts TEXT (which starts with
# "<!-- NAME:begin -->" and ends with "<!-- NAME:end -->") into bench/RESULTS.md in place of the
# section between those markers, or appends it when there is none; the other sections are kept.
replace_results_section() {
  local name=$1 section=$2 results=bench/RESULTS.md
  if grep -q "<!-- $name:begin -->" "$results"; then
    awk -v section="$section" -v begin="<!-- $name:begin -->" -v end="<!-- $name:end -->" '
      $0 == begin { print section; skip = 1; next }
      $0 == end { skip = 0; next }
      !skip { print }' "$results" >"$results.new"
    mv "$results.new" "$results"
  else
    printf '\n%s\n' "$section" >>"$results"
  fi
}
