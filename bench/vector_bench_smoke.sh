#!/usr/bin/env bash
# CTest's vector_bench_smoke_test: ragd_vector_bench end to end on a tiny data set, so that
# `make bench` and `make bench-quant` cannot rot between the (manual, long) benchmark runs.
# Checks the shape of the results, never a speed: every system ran (hnswlib, ragd's backend in
# process per storage kind, hnswlib built with -march=native in a child process, ragd over gRPC
# at each ef of the sweep, SearchBatch, restart, the gRPC floor on both APIs and the socket floor
# with no gRPC, empty and with a walk-long handler), ragd's own count of its index searches' CPU,
# the paired rounds, no error record, the recall of exact-enough searches, and that summarize.py
# reads the file.
# Usage: vector_bench_smoke.sh BENCH_BINARY RAGD_BINARY SOURCE_DIR
set -euo pipefail
BENCH=$1
RAGD=$2
SRC=$3
WORK=$(mktemp -d "${TMPDIR:-/tmp}/ragd-bench-smoke-XXXXXX")
trap 'rm -rf "$WORK"' EXIT
OUT=$WORK/smoke.jsonl
# 400 points so that INT8 trains (256 vectors) and its graph is built; one short pass per load.
timeout --kill-after=10 240 "$BENCH" --n 400 --queries 20 --dim 64 --skip-faiss --with-index \
  --quantization none,f16,int8 --ragd-quantization none --ragd "$RAGD" --ef-sweep 32,128 \
  --search-threads 1 --clients 1,2 --batch-size 8 --min-seconds 0 --max-passes 1 \
  --grpc-floor-work-us 100 --paired-rounds 3 --paired-slice 10 \
  --work-dir "$WORK" --cache-dir "$WORK/cache" --out "$OUT" > "$WORK/stdout" 2> "$WORK/stderr" ||
  { echo "ragd_vector_bench failed"; tail -20 "$WORK/stderr"; exit 1; }
python3 - "$OUT" <<'PY'
import json, sys
records = [json.loads(line) for line in open(sys.argv[1], encoding="utf-8")]
errors = [r for r in records if r["bench"] == "error"]
assert not errors, f"error records: {errors}"
searches = {}
for r in records:
    if r["bench"] == "search":
        searches.setdefault(r["system"], []).append(r)
for system in ["hnswlib", "hnswlib-native", "ragd-index", "ragd-index-int8", "ragd", "ragd-batch",
               "grpc-floor-callback", "grpc-floor-async", "grpc-floor-callback-walk",
               "grpc-floor-async-walk", "grpc-floor-sync", "grpc-floor-sync-walk",
               "socket-floor", "socket-floor-walk"]:
    assert system in searches, f"no search record for {system}: {sorted(searches)}"
got = sorted((r["ef"], r["threads"]) for r in searches["ragd"])
assert got == [(32, 1), (32, 2), (128, 1), (128, 2)], searches["ragd"]
# Re-scored at each kind's default oversampling (index::DefaultOversampling), and on codes.
for system, factor in [("ragd-index-f16", 1.0), ("ragd-index-int8", 1.5)]:
    got = sorted((r["rescore"], r["oversampling"]) for r in searches[system])
    assert set(got) == {(False, 0.0), (True, factor)}, (system, got)
for system in ["hnswlib", "hnswlib-native", "ragd-index", "ragd", "ragd-batch"]:
    for r in searches[system]:
        if r.get("ef") == 128:
            assert r["recall_at_10"] >= 0.9, f"{system} recall {r['recall_at_10']}"
        assert r["errors"] == 0 and r["ops"] > 0, r
# ragd's own account of its index searches' CPU, read around each load: one shard, so one
# index search per call, the timed ones and each client's 5 warm-up calls (in the window of the
# process CPU figure too). /proc's CPU figure ticks in 10 ms, too coarse to compare here.
for r in searches["ragd"]:
    assert round(r["server_index_searches_per_call"] * r["ops"]) == r["ops"] + 5 * r["threads"], r
    assert r["server_index_cpu_ms_per_call"] > 0, r
for system in ["grpc-floor-callback", "grpc-floor-async", "grpc-floor-callback-walk",
               "grpc-floor-async-walk", "grpc-floor-sync", "grpc-floor-sync-walk", "socket-floor",
               "socket-floor-walk"]:
    r = searches[system][0]
    assert r["ops"] >= 20 and r["errors"] == 0 and r["server_cpu_ms_per_call"] >= 0, r
    assert r.get("work_us", 0) == (100 if system.endswith("-walk") else 0), r
# The async floor serves N clients on N queues, a thread each (one thread would serialise them);
# with one client and two, the one-thread server also serves two clients, and two-thread servers
# (a queue each, and one queue) one client.
for system in ["grpc-floor-async", "grpc-floor-async-walk"]:
    shapes = sorted((r["threads"], r["server_threads"], r["server_queues"])
                    for r in searches[system])
    assert shapes == [(1, 1, 1), (1, 2, 1), (1, 2, 2), (2, 1, 1), (2, 2, 2)], shapes
startup = [r for r in records if r["bench"] == "startup"]
assert startup and startup[0]["points_after_restart"] == 400, startup
assert startup[0]["shutdown_exit_code"] == 0, startup
targets = [r for r in records if r["bench"] == "targets"]
assert targets and "grpc_floor_callback_cpu_us_per_call" in targets[0], targets
# The floor under a handler as long as the walk (here --grpc-floor-work-us 100).
assert targets[0].get("grpc_floor_work_us") == 100, targets[0]
for key in ["grpc_floor_walk_callback_cpu_us_per_call_beyond_work",
            "grpc_floor_walk_async_qps_ratio_vs_work_alone",
            "socket_floor_cpu_us_per_call_1",
            "socket_floor_walk_cpu_us_per_call_beyond_work_1",
            "socket_floor_walk_qps_ratio_vs_work_alone_1",
            "grpc_floor_walk_async_qps_ratio_vs_work_alone_2",
            "grpc_floor_sync_cpu_us_per_call",
            "grpc_floor_walk_sync_cpu_us_per_call_beyond_work",
            "grpc_floor_walk_async_wide_cpu_us_per_call_beyond_work",
            "grpc_floor_walk_async_wide_one_queue_cpu_us_per_call_beyond_work",
            "service_cpu_us_per_search_beyond_index_in_server",
            "index_cpu_ms_per_search_in_server"]:
    assert key in targets[0], (key, sorted(targets[0]))
# Every ratio against hnswlib twice: the project-flags build and the -march=native one.
for key in ["qps_ratio_vs_hnswlib_1", "qps_ratio_vs_hnswlib_native_1",
            "upsert_rate_ratio_vs_hnswlib_build", "upsert_rate_ratio_vs_hnswlib_native_build"]:
    assert key in targets[0], (key, sorted(targets[0]))
native = [r for r in records if r["system"] == "hnswlib-native" and r["bench"] == "search"]
assert all("-march=native" in r["compiler_flags"] for r in native), native
# At equal recall: present when some swept ef reached hnswlib's recall, then at one of them.
key = "qps_ratio_vs_hnswlib_1_equal_recall_ef"
if key in targets[0]:
    assert targets[0][key] in (32, 128), targets[0][key]
    assert "qps_ratio_vs_hnswlib_1_at_equal_recall" in targets[0], targets[0]
# Context switches are differences per thread: never negative, even though the socket floor
# ends a thread whenever a client leaves.
for r in records:
    if r["bench"] == "search" and "server_voluntary_switches_per_call" in r:
        assert 0 <= r["server_voluntary_switches_per_call"] < 1000, r
        assert 0 <= r["server_involuntary_switches_per_call"] < 1000, r
# Paired rounds: every system in process and over gRPC, each ratio the median of 3 rounds.
paired = {(r["system"], r["where"]) for r in records if r["bench"] == "paired"}
for want in [("hnswlib-native", "in process"), ("ragd-index", "in process"),
             ("ragd-index-f16", "in process"), ("ragd-index-int8", "in process"),
             ("ragd", "over gRPC, 1 client"), ("ragd", "over gRPC, 2 clients")]:
    assert want in paired, (want, sorted(paired))
for r in records:
    if r["bench"] == "paired":
        assert r["rounds"] == 3 and r["qps_q1"] <= r["qps_median"] <= r["qps_q3"], r
p = targets[0]["issue16_paired"]
for key in ["index_f16_qps_ratio_vs_float32_index_1", "index_int8_qps_ratio_vs_hnswlib_native_1",
            "qps_ratio_vs_hnswlib_native_1", "qps_ratio_vs_hnswlib_native_2"]:
    assert p[key]["rounds"] == 3 and p[key]["q1"] <= p[key]["value"] <= p[key]["q3"], (key, p)
assert "-march=native" in p["hnswlib_native_flags"], p
print(f"ok: {len(records)} records, systems {sorted(searches)}")
PY
python3 "$SRC/bench/summarize.py" "$OUT" > "$WORK/summary.txt" ||
  { echo "summarize.py failed"; exit 1; }
grep -q "grpc-floor-async 2t/1q" "$WORK/summary.txt" || { echo "summary misses the floor"; exit 1; }
grep -q "paired ratio" "$WORK/summary.txt" || { echo "summary misses the paired ratios"; exit 1; }
