#!/usr/bin/env bash
# Fills fuzz/corpus/<target> with the project's scripts (tests/scripts,
# examples), the shared conformance suite (../shared/conformance, when it is
# there) and fuzz/seeds (regression inputs from earlier findings), and writes
# fuzz/corpus/loam.dict: the tokens of loam.dict plus a spawn option for
# every backend the binary lists (`loam --list-backends`), so that the
# dictionary never goes out of date when a backend is added.
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
backends=$(cd .. && cargo run --release --quiet -- --list-backends)
{
  cat loam.dict
  for b in $backends; do
    printf '"{\\"gc\\": \\"%s\\"}"\n' "$b"
  done
} > corpus/loam.dict
echo "seeded: $(ls corpus/parse | wc -l) inputs per target; dictionary: corpus/loam.dict ($(echo $backends | wc -w) backends)"
