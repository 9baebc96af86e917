// The playground page (services/http/playground) in a real browser: Debian's headless Chromium
// driven by puppeteer-core, against the ragd and fake chat server that playground_test.cc
// started. Every step waits with a bound; on the first failure the script saves a screenshot
// of the page, prints what failed and exits 1. On success it prints one JSON line with what it
// saw, which the C++ side checks again.
//
// Environment: RAGD_URL (http://127.0.0.1:PORT), RAGD_KEY, RAGD_COLLECTION, RAGD_QUESTION,
// RAGD_EXPECTED_ANSWER, RAGD_MODEL_A, RAGD_MODEL_B (model A costs more per token than B),
// CHROMIUM (the browser), ARTIFACTS (where screenshots go), PROFILE (a fresh --user-data-dir).
import puppeteer from 'puppeteer-core';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';

const env = (name) => {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set`);
  return v;
};
const base = env('RAGD_URL');
const artifacts = env('ARTIFACTS');
mkdirSync(artifacts, { recursive: true });
const STEP_MS = 15000;  // the bound of every wait; the whole script is bounded by the test too
let checks = 0;
const out = {};

function check(cond, what) {
  if (!cond) throw new Error(`check failed: ${what}`);
  checks += 1;
}

const browser = await puppeteer.launch({
  executablePath: env('CHROMIUM'),
  headless: true,
  userDataDir: env('PROFILE'),
  // The machine's closed network: no background connections, no updates, no QUIC; root needs
  // --no-sandbox (/work/.library/env/machines/cpp.md).
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
         '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  protocolTimeout: 30000,
  // How long to wait for Chromium to print its DevTools endpoint. Puppeteer's default, 30 s,
  // was once too short in CI for a first start on a loaded 2-core machine (passed in 39 s
  // when run again); this bounds the wait, it does not time the page.
  timeout: 120000,
});
const page = await browser.newPage();
page.setDefaultTimeout(STEP_MS);
await page.setViewport({ width: 1280, height: 860, deviceScaleFactor: 1 });
const consoleErrors = [];
page.on('pageerror', (e) => consoleErrors.push(String(e)));
// The page's Content-Security-Policy refuses inline styles and foreign scripts: anything of the
// page's own that it refuses is a bug (a colour swatch that stays blank, say).
const cspErrors = [];
page.on('console', (m) => { if (m.text().includes('Content Security Policy')) cspErrors.push(m.text()); });
const shot = (name, fullPage = false) => page.screenshot({ path: join(artifacts, name), fullPage });
const tab = async (name) => { await page.click(`.tabs button[data-tab="${name}"]`); };

try {
  // ---- load: without a key the API answers 401, and the page says so ----
  await page.goto(`${base}/`, { waitUntil: 'load' });
  await page.waitForSelector('body[data-ready="true"]');
  const toast = await page.$eval('#toast', (t) => (t.hidden ? '' : t.textContent));
  check(toast.includes('HTTP 401'), `a 401 is shown without a key (toast: "${toast}")`);
  await page.type('#api-key', env('RAGD_KEY'));
  await page.$eval('#api-key', (k) => k.dispatchEvent(new Event('change')));
  await page.waitForFunction((c) => [...document.querySelectorAll('#collection option')].some((o) => o.value === c),
    {}, env('RAGD_COLLECTION'));
  await page.select('#collection', env('RAGD_COLLECTION'));
  await page.waitForFunction(() => document.querySelectorAll('#compare-models input').length >= 2);
  const info = await page.$eval('#collection-info', (n) => n.textContent);
  check(/chunks · 1536-d · BM25/.test(info), `collection info shown ("${info}")`);

  // ---- search, in each mode ----
  out.search = {};
  for (const mode of ['hybrid', 'text', 'vector']) {
    await page.click(`#search-mode button[data-mode="${mode}"]`);
    await page.$eval('#search-results', (n) => n.replaceChildren());
    await page.$eval('#search-query', (n) => { n.value = ''; });
    await page.type('#search-query', env('RAGD_QUESTION'));
    await page.click('#search-form button[type=submit]');
    await page.waitForSelector('#search-results li.hit');
    const hits = await page.$$eval('#search-results li.hit', (lis) => lis.map((li) => ({
      chunk: li.dataset.chunk,
      doc: li.querySelector('.doc').textContent,
      text: li.querySelector('.snippet').textContent,
    })));
    const meta = await page.$eval('#search-meta', (n) => n.textContent);
    check(hits.length > 0 && hits.every((x) => x.chunk && x.doc && x.text), `${mode} search shows scored chunks`);
    check(meta.includes(`${mode} search`), `${mode} search says its mode ("${meta}")`);
    out.search[mode] = hits.map((x) => x.chunk);
  }
  await page.click(`#search-mode button[data-mode="hybrid"]`);
  await page.click('#search-mode button[data-mode="hybrid"]');
  // Back to hybrid's results for the screenshot.
  await page.click('#search-form button[type=submit]');
  await page.waitForFunction(() => document.querySelector('#search-meta').textContent.includes('hybrid search'));
  await shot('search.png');

  // ---- open a chunk in its document ----
  const first = out.search.hybrid[0];
  await page.click('#search-results li.hit .open');
  await page.waitForSelector('#doc-viewer:not([hidden]) .chunk.target');
  const target = await page.$eval('.chunk.target', (n) => n.dataset.chunk);
  const chunks = await page.$$eval('#doc-chunks .chunk', (n) => n.length);
  check(target === first, `the document opens at the chunk (${target} vs ${first})`);
  check(chunks >= 1, 'the document lists its chunks');
  await shot('document.png');
  await page.click('#doc-close');

  // ---- ask: the answer streams in, with clickable citations ----
  await tab('ask');
  await page.select('#ask-model', env('RAGD_MODEL_A'));
  await page.type('#ask-question', env('RAGD_QUESTION'));
  // Every text the answer shows while streaming, in order.
  await page.evaluate(() => {
    window.answerFrames = [];
    const node = document.querySelector('#ask-answer');
    new MutationObserver(() => window.answerFrames.push(node.textContent))
      .observe(node, { childList: true, subtree: true, characterData: true });
  });
  await page.click('#ask-form button[type=submit]');
  await page.waitForFunction(() => document.querySelector('#ask-stats').textContent.includes('total'));
  const frames = await page.evaluate(() => [...new Set(window.answerFrames.filter((f) => f))]);
  const expected = env('RAGD_EXPECTED_ANSWER');
  const shown = await page.$eval('#ask-answer', (n) => n.textContent);
  check(shown === expected.replace(/\[(\d+)\]/g, '$1'), `the whole answer is shown ("${shown}")`);
  // At least one partial answer before the whole one (the fake pauses 100 ms between its 6 deltas;
  // a starved browser may merge some of them, never all).
  check(frames.length >= 2 && frames.every((f) => expected.replace(/\[(\d+)\]/g, '$1').startsWith(f)),
    `the answer streamed in (${frames.length} growing frames)`);
  const sources = await page.$$eval('#ask-sources li', (n) => n.length);
  check(sources >= 1, 'the sources are listed');
  await page.click('#ask-answer a.cite[data-n="1"]');
  await page.waitForSelector('#doc-viewer:not([hidden]) .chunk.target');
  out.ask = { frames: frames.length, sources };
  await shot('ask.png');
  await page.click('#doc-close');

  // ---- compare two models ----
  await tab('compare');
  await page.$$eval('#compare-models input', (boxes, a, b) => {
    for (const x of boxes) { x.checked = x.value === a || x.value === b; x.dispatchEvent(new Event('change')); }
  }, env('RAGD_MODEL_A'), env('RAGD_MODEL_B'));
  const questions = [env('RAGD_QUESTION'), 'What is an embedding model?'];
  for (const [i, q] of questions.entries()) {
    await page.$eval('#compare-question', (n) => { n.value = ''; });
    await page.type('#compare-question', q);
    await page.evaluate(() => { window.ragdPlayground.lastCompare = null; });
    await page.click('#compare-form button[type=submit]');
    await page.waitForFunction(() => window.ragdPlayground.lastCompare !== null);
    const last = await page.evaluate(() => window.ragdPlayground.lastCompare);
    check(last.runs.length === 2 && last.runs.every((r) => r.ok), `question ${i + 1}: both models answered`);
    check(last.sameSources && last.runs[0].sources.length > 0, 'both models got the same sources');
    // The charts hold exactly the runs' numbers, one bar per model.
    const bars = await page.$$eval('#compare-charts svg', (svgs) => svgs.map((s) => ({
      metric: s.dataset.metric,
      bars: [...s.querySelectorAll('rect')].map((r) => ({ model: r.dataset.model, value: Number(r.dataset.value) })),
    })));
    check(bars.length === 5, 'five charts');
    for (const chart of bars) {
      for (const run of last.runs) {
        const bar = chart.bars.find((b) => b.model === run.model);
        check(bar && Math.abs(bar.value - run[chart.metric]) <= 1e-9 * Math.max(1, run[chart.metric]),
          `chart ${chart.metric} shows ${run.model}'s ${run[chart.metric]}`);
      }
    }
    const [a, b] = [env('RAGD_MODEL_A'), env('RAGD_MODEL_B')].map((m) => last.runs.find((r) => r.model === m));
    for (const r of [a, b]) {
      check(r.ttft_ms > 0 && r.total_ms >= r.ttft_ms, `${r.model}: first token before the end`);
      check(r.prompt_tokens > 0 && r.completion_tokens > 0, `${r.model}: usage reported`);
    }
    check(a.cost_usd > b.cost_usd && b.cost_usd > 0, `cost follows the catalog's prices (${a.cost_usd} > ${b.cost_usd})`);
    out.compare = last;
  }
  const rows = await page.$$eval('#compare-table tbody tr', (n) => n.length);
  check(rows === 4, `the session table has a row per question and model (${rows})`);
  await shot('compare.png', true);

  // ---- ingest: drop two files onto the page; one loads, one has no loader ----
  await tab('ingest');
  await page.evaluate(() => {
    const dt = new DataTransfer();
    dt.items.add(new File(['# Playground upload\n\n## Why\n\nUploaded from the browser test: ' +
      'the quokka retrieval marker lives here.\n'], 'playground-upload.md', { type: 'text/markdown' }));
    dt.items.add(new File(['no loader for this'], 'notes.xyz'));
    const zone = document.querySelector('#dropzone');
    zone.dispatchEvent(new DragEvent('dragenter', { dataTransfer: dt, bubbles: true, cancelable: true }));
    zone.dispatchEvent(new DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true }));
  });
  await page.waitForSelector('#ingest-summary[data-done="true"]');
  // The drop ran as ONE ingest job: its id came first, then a line per file, then the server's
  // summary (the job record).
  const job = await page.evaluate(() => window.ragdPlayground.ingest);
  check(job.error === null && /^job-/.test(job.job_id || ''), `the drop is a job (${job.job_id}, ${JSON.stringify(job.error)})`);
  const s = job.summary;
  check(job.files.length === 2 && s && s.job_id === job.job_id && s.state === 'JOB_STATE_COMPLETED' &&
    s.documents_ok === 1 && s.documents_failed === 1, 'one file ingested, one refused, in the server\'s summary');
  check(s.chunks >= 1 && s.tokens > 0 && s.files === 2, 'the summary counts chunks and tokens');
  const bad = await page.$eval('li.file[data-file="notes.xyz"] .state', (n) => n.textContent);
  check(/format|extension/i.test(bad), `the refused file says why ("${bad}")`);
  const widths = await page.$$eval('li.file .progress span', (n) => n.map((e) => e.style.width));
  check(widths.every((w) => w === '100%'), 'every file shows its progress to the end');
  const done = await page.$$eval('li.file', (n) => n.map((li) => li.dataset.done === 'true'));
  check(done.length === 2 && done.every(Boolean), 'each file row was completed by its own result line');
  const shownSummary = await page.$eval('#ingest-summary', (n) => n.textContent);
  check(shownSummary.includes(job.job_id) && shownSummary.includes('documents ok'), `the summary shows the job id ("${shownSummary}")`);
  // The job is then readable by id, as GetIngestJob returns it.
  const record = await page.evaluate(async (id) => {
    const key = document.querySelector('#api-key').value.trim();
    const res = await fetch(`/v1/ragd/ingest-jobs/${encodeURIComponent(id)}`, { headers: { Authorization: `Bearer ${key}` } });
    return { status: res.status, body: await res.json() };
  }, job.job_id);
  check(record.status === 200 && record.body.job_id === job.job_id && record.body.state === 'JOB_STATE_COMPLETED' &&
    record.body.documents_ok === 1 && record.body.chunks === s.chunks, `the job is readable by id (${JSON.stringify(record)})`);
  out.ingest = { job_id: job.job_id, summary: s, record: record.body };
  await shot('ingest.png');

  // The uploaded text is searchable at once.
  await tab('search');
  await page.$eval('#search-query', (n) => { n.value = ''; });
  await page.type('#search-query', 'quokka retrieval marker');
  await page.click('#search-mode button[data-mode="text"]');
  await page.click('#search-form button[type=submit]');
  await page.waitForFunction(() => {
    const d = document.querySelector('#search-results li.hit .doc');
    return d && d.textContent.length > 0 && document.querySelector('#search-meta').textContent.includes('text search');
  });
  const top = await page.$eval('#search-results li.hit', (li) => li.dataset.chunk);
  check(top.startsWith('playground-upload.md#'), `the uploaded file is found (${top})`);

  check(consoleErrors.length === 0, `no script errors (${consoleErrors.join('; ')})`);
  check(cspErrors.length === 0, `nothing refused by the page's CSP (${cspErrors.join('; ')})`);
  console.log(JSON.stringify({ checks, ...out }));
} catch (e) {
  await shot('failure.png', true).catch(() => {});
  console.error(e.stack || String(e));
  process.exitCode = 1;
} finally {
  await browser.close();
}
