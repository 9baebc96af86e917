#!/usr/bin/env python3
"""Prints short tables from the JSON lines of ragd's benchmarks (vector, tokenizer, ingest,
answer, load: one file each).

Usage: summarize.py RESULTS.jsonl [--simd SIMD.jsonl GENERIC.jsonl] [--markdown]
"""
import json
import sys


def load(path):
    """The records of a JSON-lines file, or None (with a message) when it cannot be read: a
    benchmark that was skipped or failed before writing leaves no file, and that is not an
    error of the summary."""
    records = []
    try:
        with open(path, encoding="utf-8") as f:
            for line in f:
                line = line.strip()
                if line:
                    try:
                        r = json.loads(line)
                    except json.JSONDecodeError:
                        continue  # a line cut short by an interrupted run
                    if isinstance(r, dict) and "bench" in r:
                        records.append(r)
    except (OSError, UnicodeDecodeError) as e:
        print(f"summarize.py: no results in {path} ({e.strerror if isinstance(e, OSError) else e}); "
              "skipped", file=sys.stderr)
        return None
    if not records:
        print(f"summarize.py: {path} holds no benchmark records; skipped", file=sys.stderr)
        return None
    return records


def table(rows, headers, markdown):
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h)
              for i, h in enumerate(headers)]
    if markdown:
        print("| " + " | ".join(headers) + " |")
        print("|" + "|".join("---" for _ in headers) + "|")
        for r in rows:
            print("| " + " | ".join(r) + " |")
    else:
        print("  ".join(h.ljust(w) for h, w in zip(headers, widths)))
        for r in rows:
            print("  ".join(c.ljust(w) for c, w in zip(r, widths)))
    print()


def fmt(v, spec):
    return format(v, spec) if isinstance(v, (int, float)) else "-"


def target_op(key):
    if key.startswith("same_"):
        return "="
    if key.startswith("answer_"):
        return "<"
    if any(w in key for w in ("recall", "qps", "speed_ratio", "per_second", "share")):
        return ">="
    return "<="


def summarize_other(records, markdown):
    """Tables of the tokenizer, ingest and answer benchmarks."""
    tok = [r for r in records if r["bench"] == "tokenizer"]
    if tok:
        table([[r["system"], r["corpus"], r["encoding"], fmt(r["bytes"], ","),
                fmt(r["tokens"], ","), str(r["passes"]), fmt(r["mb_per_second"], ".2f")]
               for r in tok],
              ["tokenizer", "corpus", "encoding", "bytes", "tokens", "passes", "MB/s"], markdown)
    ratios = [r for r in records if r["bench"] == "tokenizer_ratio"]
    if ratios:
        table([[r["corpus"], r["encoding"], fmt(r["ragd_mb_per_second"], ".2f"),
                fmt(r["js_tiktoken_mb_per_second"], ".2f"), fmt(r["speed_ratio"], ".1f"),
                "yes" if r["same_token_count"] and r["same_bytes"] else "NO"] for r in ratios],
              ["corpus", "encoding", "ragd MB/s", "js-tiktoken MB/s", "ratio",
               "same tokens"], markdown)
    ingest = [r for r in records if r["bench"] == "ingest"]
    if ingest:
        table([[r["embedder"], f"{r['documents_ok']}/{r['documents_sent']}",
                fmt(r["chunks"], ","), fmt(r["tokens"], ","), fmt(r["seconds"], ".1f"),
                fmt(r["documents_per_second"], ".1f"), fmt(r["chunks_per_second"], ".0f"),
                fmt(r["tokens_per_second"], ",.0f"),
                fmt(r["ragd_cpu_seconds_per_1000_chunks"], ".2f"),
                fmt(r.get("quota_share_steady"), ".3f"), fmt(r.get("load_average_1m"), ".1f")]
               for r in ingest],
              ["embedder", "docs ok/sent", "chunks", "tokens", "s", "docs/s", "chunks/s",
               "tokens/s", "CPU s/1k chunks", "quota share", "load"], markdown)
    answers = [r for r in records if r["bench"] == "answer"]
    if answers:
        rows = []
        for r in answers:
            for name in ("ragd_total", "direct_total", "overhead", "ragd_sources_event",
                         "ragd_first_delta", "direct_first_delta", "ragd_first_token_relay",
                         "direct_first_token_relay", "ttfb_added", "ttfb_end_to_end_added",
                         "outside_upstream", "before_upstream_first_token"):
                d = r.get(name)
                if d is None:  # a file from before the field existed
                    continue
                rows.append([name, fmt(d["p50_ms"], ".3f"), fmt(d["p99_ms"], ".3f"),
                             fmt(d["mean_ms"], ".3f")])
        r = answers[-1]
        print(f"answer: {r['calls']} calls (errors {r['errors']}), n {r['n']}, k {r['k']}, "
              f"{r['mean_sources']:.1f} sources and {r['mean_prompt_tokens']:.0f} prompt "
              f"tokens per answer, ragd CPU {r['ragd_cpu_ms_per_answer']:.2f} ms per answer, "
              f"load {r['load_average_1m']}")
        table(rows, ["answer latency", "p50 ms", "p99 ms", "mean ms"], markdown)
    loads = [r for r in records if r["bench"] == "load"]
    if loads:
        table([[r["phase"], fmt(r["offered_rate"], ".0f"), fmt(r["accepted_rate"], ".0f"),
                fmt(r["ok_p50_ms"], ".2f"), fmt(r["ok_p99_ms"], ".2f"),
                fmt(r.get("search_p99_ms"), ".2f"), fmt(r.get("upsert_p99_ms"), ".2f"),
                str(r["rejected"]),
                fmt(r["reject_p99_ms"], ".2f"), str(r["errors"] + r["client_dropped"]),
                fmt(r.get("ragd_rss_peak_bytes", 0) / 2**20 -
                    r.get("ragd_rss_start_bytes", 0) / 2**20, ".1f")
                if "ragd_rss_peak_bytes" in r else "-",
                fmt(r["load"], ".1f")]
               for r in loads],
              ["load phase", "offered/s", "ok/s", "ok p50 ms", "ok p99 ms", "search p99 ms",
               "upsert p99 ms", "rejected",
               "reject p99 ms", "errors", "RSS +MiB", "load"], markdown)


def summarize(records, markdown):
    for r in records:
        if r["bench"] == "hardware":
            print(f"hardware: {r.get('cpu_model')}, {r.get('threads')} threads, "
                  f"{r.get('memory_bytes', 0) / 2**30:.1f} GiB, {r.get('compiler')} "
                  f"{r.get('compiler_flags')}, commit {r.get('git_commit')}"
                  f"{' (dirty)' if r.get('git_dirty') else ''}, "
                  f"load average at start {r.get('load_average_1m')}")
        if r["bench"] == "dataset":
            print(f"data: {r['n']} x {r['dim']} base, {r['queries']} queries; mean cosine of "
                  f"random pairs {r['mean_cosine_random_pairs']:.3f} "
                  f"(p05 {r['cosine_random_pairs_p05']:.3f}, p95 {r['cosine_random_pairs_p95']:.3f}); "
                  f"mean score of true top-1 {r['mean_score_top1']:.3f}, top-10 "
                  f"{r['mean_score_top10']:.3f}")
    print()

    summarize_other(records, markdown)
    builds = [r for r in records if r["bench"] == "build"]
    if builds:
        table([[r["system"], str(r["threads"]), fmt(r.get("build_seconds"), ".1f"),
                fmt(r.get("rss_delta_bytes_per_vector"), ".0f"),
                fmt(r.get("index_bytes_per_vector"), ".0f"),
                fmt(r.get("memory_ratio_vs_raw_plus_links"), ".2f")] for r in builds],
              ["build", "threads", "seconds", "RSS B/vec", "own B/vec", "RSS/(raw+links)"],
              markdown)

    def rescoring(r):
        """Quantized ragd-index rows: re-scored (x oversampling) or on codes alone; async floor
        rows: the server's threads and queues (e.g. "2t/1q": two threads on one queue)."""
        if "server_threads" in r:
            return f" {r['server_threads']}t/{r.get('server_queues', r['server_threads'])}q"
        if "rescore" not in r:
            return ""
        return f" x{r['oversampling']:g}" if r["rescore"] else " codes"

    searches = [r for r in records if r["bench"] == "search"]
    if searches:
        table([[r["system"] + rescoring(r), str(r["threads"]), str(r.get("ef", "-")),
                fmt(r.get("recall_at_10"), ".4f"), fmt(r.get("qps"), ".0f"),
                fmt(r.get("p50_ms"), ".3f"), fmt(r.get("p99_ms"), ".3f"),
                fmt(r.get("server_cpu_ms_per_call"), ".3f"),
                fmt(r.get("client_cpu_ms_per_call"), ".3f"),
                fmt(r.get("load_average_1m"), ".1f")] for r in searches],
              ["search", "threads", "ef", "recall@10", "QPS", "p50 ms", "p99 ms",
               "server CPU ms/call", "client CPU ms/call", "load"],
              markdown)

    peers(records, markdown)
    paired(records, markdown)

    for r in records:
        if r["bench"] == "startup":
            print(f"ragd start-up from snapshot: {r['startup_seconds']:.2f} s "
                  f"({r['points_after_restart']} points, recall after restart "
                  f"{r['recall_at_10_after_restart']:.4f}); clean shutdown "
                  f"{r['shutdown_seconds']:.2f} s, exit {r['shutdown_exit_code']}; "
                  f"RSS after restart {r['rss_delta_bytes_per_vector_after_restart']:.0f} B/vec "
                  f"over the empty server")
        if r["bench"] == "settle":
            print(f"ragd idle again {r['settle_seconds']:.1f} s after the load "
                  f"({'settled' if r['settled'] else 'NOT settled'}); RSS then "
                  f"{r['rss_delta_bytes_per_vector']:.0f} B/vec over the empty server "
                  f"({r['memory_ratio_vs_raw_plus_links']:.2f} x raw + links)")
        if r["bench"] == "error":
            print(f"ERROR ({r['system']}): {r['error']}")
        if r["bench"] == "targets":
            rows = []
            for k, v in r.items():
                if isinstance(v, dict) and "target" in v:
                    # The record says which way a target points (vector_bench's "at_least");
                    # older files and other benches: guessed from the key.
                    op = {True: ">=", False: "<="}.get(v.get("at_least"), target_op(k))
                    rows.append([k, fmt(v["value"], ".3f"), f"{op} {v['target']}",
                                 "met" if v["met"] else "MISSED"])
            for k, v in r.items():
                if k.startswith(("index_qps_ratio", "service_qps_ratio", "grpc_floor", "socket_floor",
                                 "service_cpu_us_per_search_beyond_index_and")) and \
                        isinstance(v, (int, float)):
                    rows.append([k, fmt(v, ".3f"), "(diagnostic)", ""])
            if "ragd_error" in r:
                rows.append(["ragd", "-", "-", "error: " + r["ragd_error"]])
            if rows:  # e.g. the tokenizer without js-tiktoken has no target to hold
                print()
                table(rows, ["target", "value", "goal", ""], markdown)


def paired(records, markdown):
    """Paired rounds (bench/README.md): each system's QPS over the rounds, and the ratios as the
    medians of the per-round ratios, with their interquartile range."""
    rows = [r for r in records if r["bench"] == "paired"]
    if not rows:
        return
    table([[r["system"], r["where"], str(r["threads"]), str(r["ef"]),
            fmt(r.get("recall_at_10"), ".4f"),
            fmt(r["qps_median"], ".0f"), f"{r['qps_q1']:.0f}-{r['qps_q3']:.0f}",
            str(r["rounds"]), str(r["queries_per_slice"])] for r in rows],
          ["paired", "where", "threads", "ef", "recall@10", "median QPS", "IQR", "rounds", "queries/slice"],
          markdown)
    for r in records:
        if r["bench"] != "targets" or not isinstance(r.get("issue16_paired"), dict):
            continue
        out = []
        for k, v in r["issue16_paired"].items():
            if not isinstance(v, dict) or "q1" not in v:
                continue
            goal = f"{'>=' if v.get('at_least', True) else '<='} {v['target']}" \
                if "target" in v else "(diagnostic)"
            met = ("met" if v["met"] else "MISSED") if "met" in v else ""
            out.append([k, fmt(v["value"], ".3f"), f"{v['q1']:.3f}-{v['q3']:.3f}", goal, met])
        if out:
            table(out, ["paired ratio (median of rounds)", "value", "IQR", "goal", ""], markdown)


# Each quantized system's float32 sibling, for the memory ratio: the same library's own accounting
# (ragd's counts its graph's capacity, hnswlib's and USearch's their size, so only ratios within
# one family compare).
FLOAT32_SIBLING = {"ragd-index-f16": "ragd-index", "ragd-index-int8": "ragd-index",
                   "usearch f16": "usearch f32", "usearch i8": "usearch f32",
                   "faiss HNSW32,SQ8": "faiss HNSW32"}


def peers(records, markdown):
    """Issue 16's peer rows beside ragd's in-process backend: one search thread, each ef,
    QPS as a ratio to in-process float32 hnswlib at the same ef, memory as a ratio to the same
    library's float32 index. Printed only when a peer (USearch, FAISS) was measured."""
    one = [r for r in records if r["bench"] == "search" and r.get("threads") == 1]
    if not any(r["system"].startswith(("usearch", "faiss")) for r in one):
        return
    own = {r["system"]: r.get("index_bytes_per_vector") for r in records if r["bench"] == "build"}
    hnswlib = {r["ef"]: r["qps"] for r in one if r["system"] == "hnswlib" and r.get("qps")}
    rows = []
    for ef in sorted({r["ef"] for r in one if r["system"].startswith(("usearch", "faiss"))}):
        for r in one:
            system = r["system"]
            if r.get("ef") != ef or r.get("rescore") is False:
                continue
            if not system.startswith(("hnswlib", "ragd-index", "usearch", "faiss")):
                continue
            mem = own.get(system)
            sibling = own.get(FLOAT32_SIBLING.get(system, system))
            base = hnswlib.get(ef)
            rows.append([system + (f" x{r['oversampling']:g}" if r.get("rescore") else ""),
                         str(ef), fmt(r.get("recall_at_10"), ".4f"), fmt(r.get("qps"), ".0f"),
                         fmt(r["qps"] / base, ".2f") if base else "-", fmt(mem, ",.0f"),
                         fmt(mem / sibling, ".2f") if mem and sibling else "-",
                         fmt(r.get("load_average_1m"), ".1f")])
    print("quantized peers, one search thread (QPS / hnswlib float32 at the same ef; memory / "
          "the same library's float32 index):")
    table(rows, ["system", "ef", "recall@10", "QPS", "QPS / hnswlib", "own B/vec",
                 "/ own f32", "load"], markdown)


def simd(simd_path, generic_path, markdown):
    def by_key(path):
        records = load(path)
        if records is None:
            return None
        out = {}
        for r in records:
            if r["bench"] == "search" and r["system"] == "hnswlib":
                out[(r["threads"], r["ef"])] = r
            if r["bench"] == "build" and r["system"] == "hnswlib":
                out["build"] = r
        return out

    a, b = by_key(simd_path), by_key(generic_path)
    if a is None or b is None:
        return
    rows = []
    if "build" in a and "build" in b:
        rows.append(["build seconds", "-", fmt(a["build"]["build_seconds"], ".1f"),
                     fmt(b["build"]["build_seconds"], ".1f"),
                     fmt(b["build"]["build_seconds"] / a["build"]["build_seconds"], ".2f")])
    for key in sorted(k for k in a if k != "build"):
        if key in b and b[key]["qps"] > 0:
            rows.append([f"QPS, {key[0]} thread(s)", str(key[1]), fmt(a[key]["qps"], ".0f"),
                         fmt(b[key]["qps"], ".0f"), fmt(a[key]["qps"] / b[key]["qps"], ".2f")])
    print("hnswlib, -march=x86-64-v3 vs generic x86-64 (ratio = v3 speed-up):")
    table(rows, ["measure", "ef", "x86-64-v3", "generic", "ratio"], markdown)


def main(argv):
    markdown = "--markdown" in argv
    args = [a for a in argv[1:] if a != "--markdown"]
    if not args:
        print(__doc__)
        return 2
    if args[0] == "--simd":
        if len(args) < 3:
            print(__doc__)
            return 2
        simd(args[1], args[2], markdown)
        return 0
    records = load(args[0])
    if records is not None:
        summarize(records, markdown)
    if len(args) >= 4 and args[1] == "--simd":
        simd(args[2], args[3], markdown)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
