#!/usr/bin/env node
// Writes tests/models/data/golden_{cl100k,o200k}.jsonl: token ids that the reference
// implementation, js-tiktoken 1.0.21, gives for a varied corpus. The files are committed, so
// tests need no Node.js; rerun this only to extend the corpus.
//
// Usage (js-tiktoken is installed in a scratch directory, never in the repo):
//   mkdir -p /tmp/tt && cd /tmp/tt && npm install js-tiktoken@1.0.21
//   node /path/to/ragd/scripts/tokenizer/make-golden.mjs
//
// Each line is {"name": ..., "text": ..., "ids": [...]} (ordinary encoding: special-token text
// is plain text) or, with "allow_special": true, the encoding that turns special-token text
// into special ids.

import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const dataDir = path.resolve(here, '..', '..', 'tests', 'models', 'data');
// --fuzz N SEED DIR: instead of the committed corpus, write N random strings drawn from all of
// Unicode to DIR/golden_*.jsonl; run models_test with RAGD_TOKENIZER_GOLDEN_DIR=DIR on them.
const fuzzArg = process.argv.indexOf('--fuzz');
const require = createRequire(path.join(process.cwd(), 'noop.js'));
const { Tiktoken } = require('js-tiktoken/lite');

// Deterministic PRNG (mulberry32), so that the corpus is the same on every run.
function rng(seed) {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = seed;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const fixed = [
  ['empty', ''],
  ['space', ' '],
  ['english', 'The quick brown fox jumps over the lazy dog. It\'s 3:45pm on 2024-05-13!'],
  ['prose', 'Retrieval-augmented generation (RAG) grounds a model\'s answers in documents you ' +
      'provide: the question is embedded, the nearest chunks are retrieved, and the model ' +
      'answers from them, citing its sources.\n\nThat\'s the whole idea; the rest is plumbing.'],
  ['contractions', "I'm sure you'll see they've said we'd go; isn't it? " +
      "I'M SURE YOU'LL SEE THEY'VE SAID WE'D GO; ISN'T IT? " +
      "'S 's 'T 't 'RE 're 'Re 'rE 'VE 've 'M 'm 'LL 'll 'Ll 'lL 'D 'd 'x ''s '''"],
  ['contraction-edges', "'s'S'sa'ts 'll'llama O'Neil's rock'n'roll DON'T don'T"],
  ['numbers', '0 1 12 123 1234 12345 123456789012345678901234567890 3.14159 -42 1,000,000 ' +
      '٣٤٥ ²³ ½ Ⅻ 1st 2nd v1.2.3 0x1F'],
  ['punctuation', '!!! ??? ... --- *** ((())) [[[]]] {{{}}} <<<>>> //// \\\\ ||| ~~~ ``` ' +
      '!?.,;: "quoted" \'single\' (paren) a/b/c http://example.com/a?b=c&d=e#f'],
  ['whitespace-spaces', 'a  b   c    d     e      f' + ' '.repeat(40) + 'g' + ' '.repeat(5)],
  ['whitespace-tabs', '\ta\t\tb\t\t\tc \t d\t \te\t'],
  ['whitespace-newlines', 'line1\nline2\r\nline3\rline4\n\n\nline5\r\n\r\n  \n\t\nend\n'],
  ['whitespace-mixed', ' \n \r\n\t \n  x  \n  y\n\n  z \t \r\n ' + ' \t\n'.repeat(30)],
  ['unicode-spaces', 'a\u00a0b\u3000c\u2028d\u2029e\ufeff f\u0085g\u200bh\u2003i\u202fj'],
  ['emoji', 'I ❤️ RAG 😀😃😄 👍🏽 👨‍👩‍👧‍👦 🇰🇷🇺🇸 🏳️‍🌈 ✅ ✨ 🤖🤖🤖'],
  ['cjk', '中文分词是一个难题。日本語のテキスト、ひらがなとカタカナ。한국어 문장입니다.'],
  ['arabic-hindi', 'مرحبا بالعالم، هذا اختبار. नमस्ते दुनिया, यह एक परीक्षण है। ภาษาไทย'],
  ['greek-cyrillic', 'Ελληνικά ΚΕΦΑΛΑΙΑ και μικρά. Русский ТЕКСТ и строчные буквы.'],
  ['case-classes', 'ǅungla ǈubljana HTTPServer parseHTML XMLHttpRequest iPhone eBay ÉCOLE ' +
      'Straße MAẞE ʰʱʲ ー゛ 𝐀𝐁𝐂 𝐚𝐛𝐜 𠀀𠀁'],
  ['marks', 'e\u0301 a\u0308\u0308 \u0301\u0301x \u0301 A\u20dd ँ क\u093f \u0300Abc \u0300abc ' +
      'x\u0300\u0300Y \ufe0f\u200d'],
  ['special-text', 'Hello<|endoftext|>world <|fim_prefix|>a<|fim_middle|>b<|fim_suffix|> ' +
      '<|endofprompt|> <|im_start|> <|endoftext| |endoftext|> <||>'],
  ['code-cpp', 'int main(int argc, char** argv) {\n  std::vector<uint32_t> ids{1, 2, 3};\n' +
      '  for (auto& x : ids) x *= 2;  // double\n  return ids.size() > 2 ? 0 : 1;\n}\n'],
  ['slashes', 'a/b //c ///d\n/ x/\n/\n// y\n'],
  ['long-digits', '9'.repeat(1000)],
  ['long-word', 'abcdefghij'.repeat(300)],
  ['long-spaces', ' '.repeat(5000) + 'x' + ' '.repeat(3000)],
  ['long-newlines', '\n'.repeat(500) + 'x' + '\r\n'.repeat(500)],
  ['long-base64', Buffer.from(Array.from({length: 3000}, (_, i) => (i * 7919) & 255))
      .toString('base64')],
  ['long-korean', '가'.repeat(2000) + '힣'.repeat(500)],
  ['long-emoji', '👍🏽'.repeat(500)],
];

// Random strings from a pool that exercises every class boundary of the split patterns.
const pool = [
  'a', 'b', 'Z', 'Q', 'x', 'y', '0', '7', '42', ' ', ' ', ' ', '  ', '\t', '\n', '\r', '\r\n',
  '\'', '\'s', '\'S', '\'ll', '\'LL', '\'Re', '\'ve', '\'d', '\'M', '\'t', '"', '.', ',', '!',
  '?', '-', '_', '/', '//', '(', ')', '{', '}', '<', '>', '#', '@', '$', '%', '&', '*', '+', '=',
  '~', '`', '^', '|', '\\', ':', ';', 'é', 'É', 'ß', 'ÿ', 'Ω', 'ω', 'Ж', 'ж', 'ǅ', 'ǈ', 'ʰ', 'ー',
  '가', '한', '글', 'ㄱ', '中', '文', 'の', 'カ', 'ا', 'ب', 'न', 'म', 'ก', '\u0301', '\u0308',
  '\u093f', '\u20dd', '\ufe0f', '\u200d', '٣', '²', '½', 'Ⅻ', '\u00a0', '\u3000', '\u2028',
  '\ufeff', '\u0085', '\u200b', '😀', '👍🏽', '🇰🇷', '𝐀', '𝐚', '𠀀', '<|endoftext|>', '<|',
  'The', 'THE', 'the', ' the', 'ing', 'HTTP', 'Server', 'iOS',
];

function randomCases(count, seed) {
  const next = rng(seed);
  const cases = [];
  for (let i = 0; i < count; ++i) {
    const n = Math.floor(next() * 24);
    let s = '';
    for (let j = 0; j < n; ++j) s += pool[Math.floor(next() * pool.length)];
    cases.push([`random-${i}`, s]);
  }
  return cases;
}

// Random code points from the ranges where the split patterns' classes change, and anywhere.
function fuzzCases(count, seed) {
  const next = rng(seed);
  const ranges = [
    [0x20, 0x7e, 30], [0x09, 0x0d, 6], [0x80, 0xff, 4], [0x100, 0x24f, 4], [0x250, 0x2ff, 3],
    [0x300, 0x36f, 4], [0x370, 0x3ff, 2], [0x400, 0x4ff, 2], [0x600, 0x6ff, 2],
    [0x900, 0x97f, 3], [0xe00, 0xe7f, 2], [0x1100, 0x11ff, 1], [0x2000, 0x206f, 4],
    [0x2150, 0x218f, 1], [0x3000, 0x30ff, 3], [0x4e00, 0x4eff, 2], [0xac00, 0xd7a3, 3],
    [0xfe00, 0xfeff, 1], [0xff00, 0xffef, 1], [0x1d400, 0x1d7ff, 2], [0x1f300, 0x1faff, 3],
    [0x0, 0xffff, 3], [0x10000, 0x10ffff, 1],
  ];
  const total = ranges.reduce((a, r) => a + r[2], 0);
  const cases = [];
  for (let i = 0; i < count; ++i) {
    const n = Math.floor(next() * 40);
    let s = '';
    for (let j = 0; j < n; ++j) {
      let w = next() * total;
      let k = 0;
      while (w >= ranges[k][2]) w -= ranges[k++][2];
      const cp = ranges[k][0] + Math.floor(next() * (ranges[k][1] - ranges[k][0] + 1));
      if (cp >= 0xd800 && cp <= 0xdfff) continue;
      s += String.fromCodePoint(cp);
    }
    cases.push([`fuzz-${seed}-${i}`, s]);
  }
  return cases;
}

function corpusCases() {
  const cases = [];
  const dir = path.join(dataDir, 'corpus');
  for (const file of fs.readdirSync(dir).sort()) {
    const text = fs.readFileSync(path.join(dir, file), 'utf8');
    cases.push([`${file}`, text]);
    text.split(/\n\s*\n/).forEach((para, i) => cases.push([`${file}#${i}`, para]));
  }
  return cases;
}

function main() {
  let outDir = dataDir;
  let cases = [...fixed, ...corpusCases(), ...randomCases(3000, 20240513)];
  if (fuzzArg >= 0) {
    const [n, seed, dir] = process.argv.slice(fuzzArg + 1, fuzzArg + 4);
    cases = fuzzCases(Number(n), Number(seed));
    outDir = path.resolve(dir);
    fs.mkdirSync(outDir, {recursive: true});
  }
  for (const [encoding, short] of [['cl100k_base', 'cl100k'], ['o200k_base', 'o200k']]) {
    const ranks = require(`js-tiktoken/ranks/${encoding}`);
    const enc = new Tiktoken(ranks.default ?? ranks);
    const lines = [];
    for (const [name, text] of cases) {
      lines.push(JSON.stringify({name, text, ids: enc.encode(text, [], [])}));
    }
    for (const [name, text] of cases.filter(([, t]) => t.includes('<|'))) {
      lines.push(JSON.stringify({name, text, ids: enc.encode(text, 'all'), allow_special: true}));
    }
    const file = path.join(outDir, `golden_${short}.jsonl`);
    fs.writeFileSync(file, lines.join('\n') + '\n');
    console.log(`${file}: ${lines.length} cases`);
  }
}

main();
