#!/usr/bin/env node
// The js-tiktoken half of ragd_tokenizer_bench (bench/README.md): encodes the same files as the
// C++ side, with the reference implementation, and prints one JSON line per (corpus, encoding).
// Started by ragd_tokenizer_bench; by hand:
//   npm ci --prefix bench && node bench/js_tiktoken_bench.mjs MANIFEST.json
// MANIFEST: {"corpora": [{"name": "...", "files": ["..."]}], "encodings": ["cl100k_base"],
//            "min_seconds": 2, "max_passes": 200, "max_seconds": 60}
// Each measurement: one untimed warm-up pass (JIT, rank table), then whole passes over the
// corpus until min_seconds have passed, at most max_passes passes and max_seconds seconds.
// encode(text, [], []) treats special-token text as ordinary text, as ragd does by default.

import fs from 'node:fs';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const { Tiktoken } = require('js-tiktoken/lite');
// package.json is not in the package's exports: read it from where npm ci put it.
const version = JSON.parse(fs.readFileSync(
    new URL('./node_modules/js-tiktoken/package.json', import.meta.url), 'utf8')).version;

const manifest = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
const minSeconds = manifest.min_seconds ?? 2;
const maxPasses = manifest.max_passes ?? 200;
const maxSeconds = manifest.max_seconds ?? 60;

for (const corpus of manifest.corpora) {
  const texts = corpus.files.map((f) => fs.readFileSync(f, 'utf8'));
  const bytes = texts.reduce((n, t) => n + Buffer.byteLength(t), 0);
  for (const encoding of manifest.encodings) {
    const ranks = require(`js-tiktoken/ranks/${encoding}`);
    const enc = new Tiktoken(ranks.default ?? ranks);
    let tokens = 0;
    for (const t of texts) tokens += enc.encode(t, [], []).length;  // warm-up, and the count
    let passes = 0;
    const start = process.hrtime.bigint();
    let seconds = 0;
    while (passes < maxPasses && seconds < maxSeconds && (passes === 0 || seconds < minSeconds)) {
      for (const t of texts) enc.encode(t, [], []);
      ++passes;
      seconds = Number(process.hrtime.bigint() - start) / 1e9;
    }
    console.log(JSON.stringify({
      bench: 'tokenizer',
      system: 'js-tiktoken',
      threads: 1,
      version,
      node: process.version,
      corpus: corpus.name,
      encoding,
      files: texts.length,
      bytes,
      tokens,
      passes,
      seconds,
      mb_per_second: (bytes * passes) / seconds / 1e6,
    }));
  }
}
