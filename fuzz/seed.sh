#!/usr/bin/env bash
# Fills fuzz/corpus/<target> with the project's scripts (tests/scripts,
# examples), the shared conformance suite (../shared/conformance, when it is
# there) and fuzz/seeds (regression inputs from earlier findings).
set -euo pipefail
cd "$(dirname "$0")"
for t in parse compile run; do
  mkdir -p "corpus/$t"
  for d in ../tests/scripts ../examples ../../shared/conformance seeds; do
    [ -d "$d" ] || continue
    find "$d" -name '*.loam' -print0 | while IFS= read -r -d '' f; do
      cp "$f" "corpus/$t/seed-$(sha1sum "$f" | cut -c1-16)"
    done
  done
done
echo "seeded: $(ls corpus/parse | wc -l) inputs per target"
