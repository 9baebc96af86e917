#!/usr/bin/env node
// Converts js-tiktoken's rank tables into the compact binary files that ragd_models embeds
// (models/data/*.bpe; the format is described in models/data/README.md).
//
// Usage (js-tiktoken is installed in a scratch directory, never in the repo):
//   mkdir -p /tmp/tt && cd /tmp/tt && npm install js-tiktoken@1.0.21
//   node /path/to/ragd/scripts/tokenizer/export-ranks.mjs [--out DIR]
// DIR defaults to models/data next to this script's repository root. js-tiktoken is resolved
// from the current working directory.

import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const kVersion = '1.0.21';
const kFormatVersion = 1;
const kHeaderSize = 32;

// The split patterns and special tokens that models/pretokenizer.cc and models/tokenizer.cc
// implement by hand. A js-tiktoken release that changes them must fail here, not silently
// produce ids that the C++ code no longer matches.
const kContractions = "('s|'S|'t|'T|'re|'rE|'Re|'RE|'ve|'vE|'Ve|'VE|'m|'M|'ll|'lL|'Ll|'LL|'d|'D)";
const kExpected = {
  cl100k_base: {
    pat_str: kContractions +
        '|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+' +
        '|\\s+(?!\\S)|\\s+',
    special_tokens: {
      '<|endoftext|>': 100257, '<|fim_prefix|>': 100258, '<|fim_middle|>': 100259,
      '<|fim_suffix|>': 100260, '<|endofprompt|>': 100276,
    },
  },
  o200k_base: {
    pat_str:
        '[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]*[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]+' +
        kContractions + '?' +
        '|[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]+[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]*' +
        kContractions + '?' +
        '|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+',
    special_tokens: {'<|endoftext|>': 199999, '<|endofprompt|>': 200018},
  },
};

// FNV-1a 32-bit: trivial to compute identically here and in C++ (no dependency on either side).
function fnv1a32(bytes) {
  let h = 0x811c9dc5;
  for (const b of bytes) h = Math.imul(h ^ b, 0x01000193) >>> 0;
  return h >>> 0;
}

function main() {
  const args = process.argv.slice(2);
  const here = path.dirname(fileURLToPath(import.meta.url));
  let outDir = path.resolve(here, '..', '..', 'models', 'data');
  for (let i = 0; i < args.length; ++i) {
    if (args[i] === '--out') outDir = path.resolve(args[++i]);
  }
  const require = createRequire(path.join(process.cwd(), 'noop.js'));
  const pkgJson = path.join(
      path.dirname(require.resolve('js-tiktoken')), '..', 'package.json');
  const version = JSON.parse(fs.readFileSync(pkgJson, 'utf8')).version;
  if (version !== kVersion) {
    throw new Error(`expected js-tiktoken ${kVersion}, found ${version}`);
  }

  for (const [name, expected] of Object.entries(kExpected)) {
    const mod = require(`js-tiktoken/ranks/${name}`);
    const table = mod.default ?? mod;
    if (table.pat_str !== expected.pat_str) {
      throw new Error(`${name}: pat_str changed:\n${table.pat_str}`);
    }
    if (JSON.stringify(table.special_tokens) !== JSON.stringify(expected.special_tokens)) {
      throw new Error(`${name}: special tokens changed: ${JSON.stringify(table.special_tokens)}`);
    }
    // bpe_ranks: lines of "<prefix> <first rank> <base64 token> <base64 token> ...", each
    // token's rank one more than the previous one's.
    const byRank = [];
    for (const line of table.bpe_ranks.split('\n').filter(Boolean)) {
      const [, offset, ...tokens] = line.split(' ');
      tokens.forEach((t, i) => { byRank[Number(offset) + i] = Buffer.from(t, 'base64'); });
    }
    let payloadSize = 0;
    let maxLen = 0;
    for (let rank = 0; rank < byRank.length; ++rank) {
      const bytes = byRank[rank];
      if (bytes === undefined) throw new Error(`${name}: rank ${rank} missing`);
      if (bytes.length < 1 || bytes.length > 255) throw new Error(`${name}: bad length`);
      payloadSize += 1 + bytes.length;
      maxLen = Math.max(maxLen, bytes.length);
    }
    const out = Buffer.alloc(kHeaderSize + payloadSize);
    let pos = kHeaderSize;
    for (const bytes of byRank) {
      out[pos++] = bytes.length;
      bytes.copy(out, pos);
      pos += bytes.length;
    }
    out.write('RAGDBPE\0', 0, 'latin1');
    out.writeUInt32LE(kFormatVersion, 8);
    out.writeUInt32LE(byRank.length, 12);
    out.writeUInt32LE(payloadSize, 16);
    out.writeUInt32LE(fnv1a32(out.subarray(kHeaderSize)), 20);
    out.writeUInt32LE(maxLen, 24);
    out.writeUInt32LE(0, 28);
    const file = path.join(outDir, `${name}.bpe`);
    fs.writeFileSync(file, out);
    console.log(`${file}: ${byRank.length} tokens, ${out.length} bytes, max token ${maxLen} bytes`);
  }
}

main();
