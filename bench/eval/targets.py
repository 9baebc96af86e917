#!/usr/bin/env python3
"""Reads an eval.jsonl written by scripts/eval.sh and checks issue 15's quality targets on it.

For every (set, slice): hybrid (the server's default fusion, system "ragd-hybrid") must beat
SQLite FTS5 BM25 ("fts5", tokenizer unicode61) and vector-only ("ragd-vector") on hit@1 and
hit@5, and text-only ("ragd-text") must be at least level with FTS5. "Beat" is strict, except
that a tie at 1.0 (every question answered) counts as met: nothing can be above it. Prints one
line per check; with --append also appends them to the file as {"kind": "target", ...} rows.
Exit code 0 whether or not targets hold (it reports; eval.sh is a measurement, not a test).
"""
import json
import sys


def main():
    if len(sys.argv) < 2:
        print("usage: targets.py EVAL.jsonl [--append]", file=sys.stderr)
        return 2
    path = sys.argv[1]
    rows = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            o = json.loads(line)
            if "system" in o and "slice" in o:
                rows[(o["set"], o["slice"], o["system"])] = o
    checks = []
    keys = sorted({(s, sl) for (s, sl, _) in rows})
    for s, sl in keys:
        def get(system):
            return rows.get((s, sl, system))
        hybrid, text = get("ragd-hybrid"), get("ragd-text")
        for rival in ("fts5", "ragd-vector"):
            r = get(rival)
            if hybrid is None or r is None:
                continue
            for metric in ("hit@1", "hit@5"):
                a, b = hybrid[metric], r[metric]
                ok = a > b or (a == b == 1.0)
                checks.append({"kind": "target", "set": s, "slice": sl, "metric": metric,
                               "check": f"ragd-hybrid > {rival}", "value": round(a, 4),
                               "rival": round(b, 4), "met": ok})
        r = get("fts5")
        if text is not None and r is not None:
            for metric in ("hit@1", "hit@5"):
                a, b = text[metric], r[metric]
                checks.append({"kind": "target", "set": s, "slice": sl, "metric": metric,
                               "check": "ragd-text >= fts5", "value": round(a, 4),
                               "rival": round(b, 4), "met": a >= b})
    met = sum(c["met"] for c in checks)
    for c in checks:
        print(f'{c["set"]:>3} {c["slice"]:<11} {c["metric"]:<6} {c["check"]:<24} '
              f'{c["value"]:.3f} vs {c["rival"]:.3f}  {"met" if c["met"] else "NOT MET"}')
    print(f"targets: {met} of {len(checks)} met")
    if "--append" in sys.argv[2:]:
        with open(path, "a", encoding="utf-8") as f:
            for c in checks:
                f.write(json.dumps(c) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
