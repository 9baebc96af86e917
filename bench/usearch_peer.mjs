#!/usr/bin/env node
// USearch (npm `usearch`, its prebuilt native addon) as a peer row of `make bench-quant`
// (issue 16): the same vectors, queries and exact ground truth as ragd_vector_bench, read from
// the data set cache it writes (--cache-dir; layout in bench/README.md, "Peers"), measured the
// way bench_util.cc's RunQueryLoad measures the C++ suites, and printed as the same JSON
// records ("build" and "search"), so that bench/summarize.py puts them in the same tables.
//
// Usage: node bench/usearch_peer.mjs --cache FILE [--ef 32,64,128] [--kinds f32,f16,i8]
//   [--metric cos] [--connectivity 16] [--expansion-add 200] [--build-threads 2]
//   [--min-seconds 1] [--max-passes 20] [--max-seconds 120] [--tmp-dir DIR]
// JSON lines go to stdout, progress to stderr; exit 1 when nothing could be measured.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

function log(message) { process.stderr.write(`usearch_peer: ${message}\n`); }

function fail(message) {
  log(message);
  process.exit(2);
}

const defaults = {
  cache: '', ef: '32,64,128', kinds: 'f32,f16,i8', metric: 'cos', connectivity: '16',
  'expansion-add': '200', 'build-threads': '2', 'min-seconds': '1', 'max-passes': '20',
  'max-seconds': '120', 'tmp-dir': os.tmpdir(),
};
const opts = { ...defaults };
const argv = process.argv.slice(2);
for (let i = 0; i < argv.length; i++) {
  const name = argv[i].replace(/^--/, '');
  if (!argv[i].startsWith('--') || !(name in defaults) || i + 1 >= argv.length) {
    fail(`unknown or incomplete option ${argv[i]}; options: ${Object.keys(defaults).join(', ')}`);
  }
  opts[name] = argv[++i];
}
const positive = (name) => {
  const v = Number(opts[name]);
  if (!Number.isFinite(v) || v <= 0) fail(`--${name} must be a positive number, got ${opts[name]}`);
  return v;
};
const efs = opts.ef.split(',').map(Number);
if (efs.length === 0 || efs.some((v) => !Number.isInteger(v) || v <= 0)) {
  fail(`--ef takes positive integers separated by commas, got ${opts.ef}`);
}
const kinds = opts.kinds.split(',');
if (kinds.some((k) => !['f32', 'f16', 'i8'].includes(k))) fail(`--kinds takes f32, f16, i8`);
if (!['cos', 'ip'].includes(opts.metric)) fail('--metric takes cos or ip');
const connectivity = positive('connectivity');
const expansionAdd = positive('expansion-add');
const buildThreads = positive('build-threads');
const load = {
  minSeconds: positive('min-seconds'), maxPasses: positive('max-passes'),
  maxSeconds: positive('max-seconds'),
};
if (!opts.cache) fail('--cache FILE is required (the data set cache of ragd_vector_bench)');

let usearch;
let version = 'unknown';
try {
  usearch = require('usearch');
  // The package's `exports` hide its package.json: walk up from its entry point to find it.
  for (let dir = path.dirname(require.resolve('usearch')); dir !== path.dirname(dir);
       dir = path.dirname(dir)) {
    const file = path.join(dir, 'package.json');
    if (!fs.existsSync(file)) continue;
    const pkg = JSON.parse(fs.readFileSync(file, 'utf8'));
    if (pkg.name === 'usearch') {
      version = pkg.version;
      break;
    }
  }
} catch (e) {
  // Without the package (no npm, or `npm ci --prefix bench` not run) there is no peer row; the
  // caller decides whether that is an error.
  log(`cannot load npm usearch (${e.message}); run npm ci --prefix bench`);
  process.exit(1);
}

// The cache file (vector_bench.cc, above SaveCache): magic, four u64 sizes, then the base and
// query float32 rows and the int64 ground truth, little-endian, no padding. Checked against its
// length before any view is made, as the C++ reader does.
function readCache(file) {
  const buf = fs.readFileSync(file);
  const magic = buf.subarray(0, 8).toString('latin1');
  if (buf.length < 40 || magic !== 'RAGDBDS1') fail(`${file}: not a ragd_vector_bench data set cache`);
  const [n, q, dim, k] = [0, 1, 2, 3].map((i) => Number(buf.readBigUInt64LE(8 + 8 * i)));
  const floats = (n + q) * dim;
  if (buf.length !== 40 + floats * 4 + q * k * 8) fail(`${file}: length does not match its header`);
  // Typed-array views need aligned offsets; a fresh copy of the whole file is aligned.
  const bytes = buf.byteOffset % 8 === 0 ? buf : Buffer.from(buf);
  const ab = bytes.buffer;
  const o = bytes.byteOffset + 40;
  return {
    n, q, dim, k,
    base: new Float32Array(ab, o, n * dim),
    queries: new Float32Array(ab, o + n * dim * 4, q * dim),
    truth: new BigInt64Array(ab, o + floats * 4, q * k),
  };
}

function percentile(sorted, p) {  // nearest rank, as bench_util.cc's Percentile
  if (sorted.length === 0) return 0;
  return sorted[Math.min(Math.floor(p * (sorted.length - 1) + 0.5), sorted.length - 1)];
}

function loadAverage1() { return os.loadavg()[0]; }

// bench_util.cc's RunQueryLoad with one caller: every query once (recall from this pass), then
// passes until minSeconds, at most maxPasses passes and maxSeconds in all.
function runQueryLoad(index, data) {
  const k = data.k;
  const first = new Array(data.q);
  const latencies = [];
  let errors = 0;
  const maxOps = data.q * load.maxPasses;
  const start = process.hrtime.bigint();
  const elapsed = () => Number(process.hrtime.bigint() - start) / 1e9;
  for (let i = 0; i < maxOps; i++) {
    const e = elapsed();
    if ((i >= data.q && e >= load.minSeconds) || e >= load.maxSeconds) break;
    const qi = i % data.q;
    const query = data.queries.subarray(qi * data.dim, (qi + 1) * data.dim);
    const t0 = process.hrtime.bigint();
    let keys;
    try {
      keys = index.search(query, k, 1).keys;
    } catch (err) {
      errors++;
      if (i < data.q) first[qi] = [];
      continue;
    }
    latencies.push(Number(process.hrtime.bigint() - t0) / 1e6);
    if (i < data.q) first[qi] = Array.from(keys, (key) => BigInt.asIntN(64, key));
  }
  const seconds = elapsed();
  latencies.sort((a, b) => a - b);
  let hits = 0;
  for (let qi = 0; qi < data.q; qi++) {
    const truth = new Set(data.truth.subarray(qi * k, (qi + 1) * k));
    for (const id of first[qi] ?? []) if (truth.has(id)) hits++;
  }
  return {
    recall: hits / (data.q * k), ops: latencies.length, errors, seconds,
    qps: seconds > 0 ? latencies.length / seconds : 0,
    p50: percentile(latencies, 0.5), p99: percentile(latencies, 0.99),
    mean: latencies.length ? latencies.reduce((a, b) => a + b, 0) / latencies.length : 0,
  };
}

const gc = typeof globalThis.gc === 'function' ? globalThis.gc : () => {};

function measureKind(kind, data, tmpDir) {
  const system = `usearch ${kind}`;
  const config = (ef) => ({
    dimensions: data.dim, metric: opts.metric, quantization: kind, connectivity,
    expansion_add: expansionAdd, expansion_search: ef, multi: false,
  });
  gc();
  const rssBefore = process.memoryUsage.rss();
  let index = new usearch.Index(config(efs[0]));
  const keys = new BigUint64Array(data.n);
  for (let i = 0; i < data.n; i++) keys[i] = BigInt(i);
  const t0 = process.hrtime.bigint();
  index.add(keys, data.base, buildThreads);
  const buildSeconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const rssDelta = process.memoryUsage.rss() - rssBefore;
  const file = path.join(tmpDir, `usearch-${kind}.usearch`);
  index.save(file);
  const fileBytes = fs.statSync(file).size;
  const records = [{
    bench: 'build', system, threads: buildThreads, n: data.n, dim: data.dim,
    ef_construction: expansionAdd, connectivity, metric: opts.metric, usearch_version: version,
    build_seconds: buildSeconds,
    rss_delta_bytes_per_vector: rssDelta / data.n,
    rss_source: 'process.memoryUsage.rss() delta around the build',
    index_bytes_per_vector: fileBytes / data.n,
    index_bytes_source: 'size of the index save()d by USearch (codes + graph)',
    load_average_1m: loadAverage1(),
  }];
  index = null;
  // expansion_search is fixed when an index is made (the JS binding has no per-call knob): each
  // ef gets a fresh index with that setting, loaded from the file just saved, the same graph.
  for (const ef of efs) {
    gc();
    const searcher = new usearch.Index(config(ef));
    searcher.load(file);
    if (searcher.size() !== data.n) throw new Error(`${file}: ${searcher.size()} of ${data.n} loaded`);
    const r = runQueryLoad(searcher, data);
    records.push({
      bench: 'search', system, threads: 1, ef, n: data.n, recall_at_10: r.recall, qps: r.qps,
      p50_ms: r.p50, p99_ms: r.p99, mean_ms: r.mean, ops: r.ops, errors: r.errors,
      seconds: r.seconds, load_average_1m: loadAverage1(),
    });
  }
  fs.rmSync(file, { force: true });
  return records;
}

const data = readCache(opts.cache);
if (data.k !== 10) fail(`${opts.cache}: ground truth has k = ${data.k}, the rows report recall@10`);
log(`usearch ${version}, ${data.n} x ${data.dim}, ${data.q} queries, kinds ${kinds.join(',')}, ef ${efs.join(',')}`);
const tmpDir = fs.mkdtempSync(path.join(opts['tmp-dir'], 'usearch-peer-'));
let measured = 0;
try {
  for (const kind of kinds) {
    log(`${kind}: building`);
    try {
      for (const record of measureKind(kind, data, tmpDir)) {
        process.stdout.write(JSON.stringify(record) + '\n');
        measured++;
      }
    } catch (e) {
      process.stdout.write(JSON.stringify({ bench: 'error', system: `usearch ${kind}`, threads: 0,
                                            error: String(e.message ?? e) }) + '\n');
    }
  }
} finally {
  fs.rmSync(tmpDir, { recursive: true, force: true });
}
process.exit(measured > 0 ? 0 : 1);
