#!/usr/bin/env node
// Writes tests/testing/data/token_counts.json: the token counts that the reference
// implementation, js-tiktoken 1.0.21, gives for every text whose usage the fake Azure OpenAI /
// OpenAI servers (tests/testing/fake_*_server.cc) must report exactly. The fakes look counts up
// in this file instead of calling ragd's tokenizer, so a test comparing ragd's counts with the
// fake's compares two independent implementations. The file is committed: tests need no
// Node.js. Rerun this after adding a text to a test that checks usage exactly.
//
// Usage (js-tiktoken is installed in a scratch directory, never in the repo):
//   mkdir -p /tmp/tt && cd /tmp/tt && npm install js-tiktoken@1.0.21
//   node /path/to/ragd/tests/testing/tools/make-token-counts.mjs
//
// Output: {"js_tiktoken": "1.0.21", "cl100k_base": {text: count, ...}, "o200k_base": {...}},
// keys sorted. cl100k_base: text-embedding-ada-002 / -3-*, gpt-35-turbo, gpt-4; o200k_base:
// gpt-4o, gpt-4o-mini.

import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const kVersion = '1.0.21';
const here = path.dirname(fileURLToPath(import.meta.url));
const out = path.resolve(here, '..', 'data', 'token_counts.json');
const require = createRequire(path.join(process.cwd(), 'noop.js'));
const { Tiktoken } = require('js-tiktoken/lite');
const version = JSON.parse(fs.readFileSync(
    path.join(path.dirname(require.resolve('js-tiktoken')), '..', 'package.json'))).version;
if (version !== kVersion) throw new Error(`expected js-tiktoken ${kVersion}, found ${version}`);

// The recipes of tests/models/embedder_test.cc (Texts, Words) and the texts of
// tests/models/chat_client_test.cc and tests/testing/fake_chat_server.h.
const texts = (n, prefix = 'text') => Array.from({ length: n }, (_, i) => `${prefix} number ${i}`);
const words = (n) => Array.from({ length: n }, () => 'word').join(' ');

const embeddingTexts = [
  ...texts(40), ...texts(12, '임베딩 텍스트'), ...texts(6, 'other'),
  'fine', 'ok', 'hello', 'x',
];
for (const n of [100, 200, 3000, 8191, 8192]) embeddingTexts.push(words(n));
for (const n of [200, 3000]) for (const s of [' a', ' b', ' c']) embeddingTexts.push(words(n) + s);

const answerDeltas = ['Embeddings', ' are', ' vectors', ' of', ' meaning', ' [1].'];
const chatTexts = [
  // Roles, counted as their names (OpenAI cookbook, "How to count tokens with tiktoken").
  'system', 'user', 'assistant',
  // ChatClientTest::Request().
  'Answer from the sources. [1] Embeddings are vectors.', 'What are embeddings?',
  // ChatClientTest::KoreanRequest(): o200k_base needs far fewer tokens for Korean.
  '출처에 근거해 답하세요. [1] 임베딩은 의미를 담은 벡터입니다.', '임베딩이란 무엇인가요?',
];
// The default answer and every prefix of it (filtered or cut streams).
for (let k = 0; k <= answerDeltas.length; ++k) chatTexts.push(answerDeltas.slice(0, k).join(''));

const result = { js_tiktoken: version };
for (const [encoding, list] of [['cl100k_base', [...embeddingTexts, ...chatTexts]],
                                ['o200k_base', chatTexts]]) {
  const ranks = require(`js-tiktoken/ranks/${encoding}`);
  const enc = new Tiktoken(ranks.default ?? ranks);
  const counts = {};
  for (const t of [...new Set(list)].sort()) counts[t] = enc.encode(t).length;
  result[encoding] = counts;
}
fs.writeFileSync(out, JSON.stringify(result, null, 1) + '\n');
console.log(`wrote ${out}: ${Object.keys(result.cl100k_base).length} cl100k_base, ` +
            `${Object.keys(result.o200k_base).length} o200k_base texts`);
