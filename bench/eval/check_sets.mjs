// Checks an evaluation set against its documents: every line of QUESTIONS parses, ids are
// unique, every expected id is a document of DOCS (so that renumbered passages or a changed
// package cannot silently turn answers into misses). Run by CTest (tests/bench).
//   node check_sets.mjs DOCS.jsonl QUESTIONS.jsonl
import { readFileSync } from "node:fs";

const [docsPath, questionsPath] = process.argv.slice(2);
if (!docsPath || !questionsPath) {
  console.error("usage: node check_sets.mjs DOCS.jsonl QUESTIONS.jsonl");
  process.exit(2);
}
const lines = (path) =>
  readFileSync(path, "utf8").split("\n").map((l, i) => [i + 1, l]).filter(([, l]) => l.trim());
const docs = new Set();
for (const [n, line] of lines(docsPath)) {
  const d = JSON.parse(line);
  if (typeof d.id !== "string" || !d.id || typeof d.text !== "string" || !d.text) {
    console.error(`${docsPath}:${n}: a document needs a non-empty id and text`);
    process.exit(1);
  }
  docs.add(d.id);
}
const ids = new Set();
const slices = {};
let problems = 0;
for (const [n, line] of lines(questionsPath)) {
  let q;
  try {
    q = JSON.parse(line);
  } catch (e) {
    console.error(`${questionsPath}:${n}: not JSON: ${e.message}`);
    problems++;
    continue;
  }
  const expected = typeof q.expected === "string" ? [q.expected] : q.expected;
  if (typeof q.id !== "string" || !q.id || typeof q.question !== "string" || !q.question ||
      !Array.isArray(expected) || expected.length === 0) {
    console.error(`${questionsPath}:${n}: needs id, question and expected`);
    problems++;
    continue;
  }
  if (ids.has(q.id)) {
    console.error(`${questionsPath}:${n}: id ${q.id} repeats`);
    problems++;
  }
  ids.add(q.id);
  for (const e of expected) {
    if (!docs.has(e)) {
      console.error(`${questionsPath}:${n}: ${q.id} expects ${e}, which is not a document`);
      problems++;
    }
  }
  for (const s of q.slices ?? []) slices[s] = (slices[s] ?? 0) + 1;
}
console.log(`${questionsPath}: ${ids.size} questions over ${docs.size} documents; slices ${JSON.stringify(slices)}`);
process.exit(problems === 0 ? 0 : 1);
