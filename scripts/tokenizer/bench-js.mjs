#!/usr/bin/env node
// Throughput of the reference js-tiktoken 1.0.21 on one file, to compare with ragd_tokenize
// --repeat (models/README.md). Run from the directory where js-tiktoken is installed:
//   cd /tmp/tt && node /path/to/ragd/scripts/tokenizer/bench-js.mjs FILE [cl100k_base|o200k_base] [REPEAT]

import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';

const [file, encoding = 'cl100k_base', repeatArg = '20'] = process.argv.slice(2);
const require = createRequire(path.join(process.cwd(), 'noop.js'));
const { Tiktoken } = require('js-tiktoken/lite');
const ranks = require(`js-tiktoken/ranks/${encoding}`);
const enc = new Tiktoken(ranks.default ?? ranks);
const text = fs.readFileSync(file, 'utf8');
const bytes = Buffer.byteLength(text);
const repeat = Number(repeatArg);

let tokens = enc.encode(text, [], []).length;  // warm-up (JIT)
const start = process.hrtime.bigint();
for (let i = 0; i < repeat; ++i) tokens = enc.encode(text, [], []).length;
const seconds = Number(process.hrtime.bigint() - start) / 1e9;
console.log(`${encoding}: ${bytes} bytes x ${repeat} in ${seconds.toFixed(3)} s: ` +
            `${(bytes * repeat / seconds / 1e6).toFixed(2)} MB/s (${tokens} tokens)`);
