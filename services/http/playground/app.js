// The ragd playground: search, ask, compare models and ingest, all through ragd's own HTTP API
// (/v1/chat/completions, /v1/models and the page's /v1/ragd/* endpoints) with the key typed in
// the header. No framework: the DOM is built with h(); text from documents and models is only
// ever set as text, never parsed as HTML.
import { barChart } from './charts.js';

const $ = (sel) => document.querySelector(sel);
const COLORS = ['var(--s1)', 'var(--s2)', 'var(--s3)', 'var(--s4)'];
const MAX_COMPARE = 4;

const state = {
  collections: [],
  models: [],          // chat models of /v1/models, with ragd's prices
  mode: 'hybrid',
  session: [],         // one row per (question, model) compared
  lastCompare: null,   // {question, runs: [...]}, read by the browser test
  ingest: null,        // the last drop's job: {job_id, files, summary, error}
};
window.ragdPlayground = state;

function h(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on')) node.addEventListener(k.slice(2), v);
    else if (k === 'class') node.className = v;
    // Through the CSSOM: the page's Content-Security-Policy (style-src 'self') refuses style
    // attributes, not style properties set from its own script.
    else if (k === 'style') node.style.cssText = v;
    else node.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat()) {
    if (c === undefined || c === null || c === false) continue;
    node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return node;
}

// ---- the API ---------------------------------------------------------------------------------

function headers(extra = {}) {
  const key = $('#api-key').value.trim();
  return key ? { Authorization: `Bearer ${key}`, ...extra } : extra;
}

// An error of ragd's HTTP API: OpenAI's error JSON, or what the network said.
async function errorOf(res) {
  let message = `HTTP ${res.status}`;
  try {
    const body = await res.json();
    if (body && body.error && body.error.message) message = `${body.error.message} (HTTP ${res.status})`;
  } catch (_) { /* not JSON: keep the status */ }
  const err = new Error(message);
  err.status = res.status;
  return err;
}

async function api(path, { method = 'GET', body } = {}) {
  const res = await fetch(path, {
    method,
    headers: headers(body ? { 'Content-Type': 'application/json' } : {}),
    body: body ? JSON.stringify(body) : undefined,
  });
  if (!res.ok) throw await errorOf(res);
  return res.json();
}

let toastTimer = 0;
function toast(message) {
  const t = $('#toast');
  t.textContent = message;
  t.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => { t.hidden = true; }, 6000);
}

// One streamed, grounded chat completion. Calls onCitations once (the first chunk carries the
// sources) and onText with the text so far; resolves with the text, the citations, usage and
// the client-side timings: first content token and total, from the request's start.
async function streamAnswer({ model, question, onCitations = () => {}, onText = () => {} }) {
  const collection = $('#collection').value;
  const t0 = performance.now();
  const res = await fetch('/v1/chat/completions', {
    method: 'POST',
    headers: headers({ 'Content-Type': 'application/json' }),
    body: JSON.stringify({
      model,
      messages: [{ role: 'user', content: question }],
      stream: true,
      stream_options: { include_usage: true },
      data_sources: [{ type: 'ragd', parameters: { collection, search_mode: state.mode } }],
    }),
  });
  if (!res.ok) throw await errorOf(res);
  const reader = res.body.getReader();
  const decoder = new TextDecoder();
  let buffer = '', text = '', citations = [], usage = null, ttft = null, done = false;
  while (!done) {
    const { value, done: eof } = await reader.read();
    if (eof) break;
    buffer += decoder.decode(value, { stream: true });
    let cut;
    while ((cut = buffer.indexOf('\n\n')) >= 0) {
      const event = buffer.slice(0, cut);
      buffer = buffer.slice(cut + 2);
      for (const line of event.split('\n')) {
        if (!line.startsWith('data: ')) continue;
        const data = line.slice(6);
        if (data === '[DONE]') { done = true; break; }
        const chunk = JSON.parse(data);
        if (chunk.error) throw new Error(chunk.error.message);
        if (chunk.usage) usage = chunk.usage;
        const delta = chunk.choices && chunk.choices[0] && chunk.choices[0].delta;
        if (!delta) continue;
        if (delta.context && delta.context.citations) {
          citations = delta.context.citations;
          onCitations(citations);
        }
        if (delta.content) {
          if (ttft === null) ttft = performance.now() - t0;
          text += delta.content;
          onText(text);
        }
      }
    }
  }
  if (!done) throw new Error('the stream ended before [DONE]');
  return { text, citations, usage, ttft_ms: ttft, total_ms: performance.now() - t0 };
}

function costOf(modelName, usage) {
  const m = state.models.find((x) => x.id === modelName);
  if (!m || !usage) return 0;
  return (usage.prompt_tokens * m.ragd.price_per_1k_input +
          usage.completion_tokens * m.ragd.price_per_1k_output) / 1000;
}

const fmtMs = (v) => (v === null || v === undefined ? '–' : v < 1000 ? `${Math.round(v)} ms` : `${(v / 1000).toFixed(2)} s`);
const plural = (n, word) => `${fmtInt(n)} ${word}${n === 1 ? '' : 's'}`;
const fmtInt = (v) => (v === null || v === undefined ? '–' : Number(v).toLocaleString('en-US'));
function fmtCost(v) {
  if (!v) return '$0';
  return v >= 0.01 ? `$${v.toFixed(4)}` : `$${v.toPrecision(3)}`;
}

// ---- collections, models, tabs ---------------------------------------------------------------

function currentCollection() {
  return state.collections.find((c) => c.name === $('#collection').value);
}

function showCollectionInfo() {
  const c = currentCollection();
  $('#collection-info').textContent = c
    ? `${fmtInt(c.points)} chunks · ${c.dimension}-d${c.lexical ? ' · BM25' : ''}` : '';
  // Text and hybrid search need the collection's BM25 index.
  for (const b of document.querySelectorAll('#search-mode button')) {
    b.disabled = !!c && !c.lexical && b.dataset.mode !== 'vector';
  }
  if (c && !c.lexical) setMode('vector');
}

async function loadCollections(keep) {
  try {
    const { data } = await api('/v1/ragd/collections');
    state.collections = data;
    const select = $('#collection');
    const before = keep || select.value || localStorage.getItem('ragd.collection');
    select.replaceChildren(...data.map((c) => h('option', { value: c.name }, c.name)));
    if (data.some((c) => c.name === before)) select.value = before;
    if (!data.length) select.append(h('option', { value: '' }, 'no collections'));
    showCollectionInfo();
  } catch (e) {
    toast(`Collections: ${e.message}`);
  }
}

async function loadModels() {
  try {
    const { data } = await api('/v1/models');
    state.models = data.filter((m) => m.ragd && m.ragd.kind === 'chat');
    const def = state.models.find((m) => m.ragd.default);
    $('#ask-model').replaceChildren(...state.models.map((m) => h('option', { value: m.id }, m.id)));
    if (def) $('#ask-model').value = def.id;
    // Preselect the first two for a comparison; the catalog's default first.
    const order = [...state.models].sort((a, b) => (b.ragd.default ? 1 : 0) - (a.ragd.default ? 1 : 0));
    $('#compare-models').replaceChildren(...order.map((m, i) =>
      h('label', {}, h('input', { type: 'checkbox', value: m.id, checked: i < 2, onchange: limitCompare }),
        m.id, h('span', { class: 'muted' },
          ` $${m.ragd.price_per_1k_input}/$${m.ragd.price_per_1k_output} per 1k`))));
  } catch (e) {
    toast(`Models: ${e.message}`);
  }
}

function limitCompare() {
  const boxes = [...document.querySelectorAll('#compare-models input')];
  const on = boxes.filter((b) => b.checked).length;
  for (const b of boxes) b.disabled = !b.checked && on >= MAX_COMPARE;
}

function setMode(mode) {
  state.mode = mode;
  for (const b of document.querySelectorAll('#search-mode button')) {
    b.classList.toggle('active', b.dataset.mode === mode);
  }
}

function showTab(name) {
  for (const b of document.querySelectorAll('.tabs button')) b.classList.toggle('active', b.dataset.tab === name);
  for (const s of document.querySelectorAll('.tab')) s.classList.toggle('active', s.id === `tab-${name}`);
}

// ---- search ----------------------------------------------------------------------------------

// `text` with the query's words marked, as DOM nodes (never HTML).
function highlighted(text, query) {
  const words = [...new Set(query.toLowerCase().split(/[\s\p{P}]+/u).filter((w) => w.length > 1))];
  if (!words.length) return [text];
  const escaped = words.map((w) => w.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));
  const re = new RegExp(`(${escaped.join('|')})`, 'giu');
  return text.split(re).map((part, i) => (i % 2 ? h('mark', {}, part) : part));
}

function whereOf(c) {
  return [
    h('span', { class: 'doc' }, c.title || c.document_id),
    c.title && c.title !== c.document_id ? h('span', { class: 'badge' }, c.document_id) : null,
    ...(c.heading_path || []).map((x) => h('span', { class: 'crumb' }, x)),
    c.page !== undefined ? h('span', { class: 'badge' }, `p. ${c.page}`) : null,
  ];
}

async function runSearch(ev) {
  ev.preventDefault();
  const query = $('#search-query').value.trim();
  if (!query) return;
  const button = ev.submitter || $('#search-form button[type=submit]');
  button.disabled = true;
  try {
    const r = await api('/v1/ragd/search', {
      method: 'POST',
      body: { collection: $('#collection').value, query, mode: state.mode, k: Number($('#search-k').value) || 8 },
    });
    $('#search-meta').textContent = `${r.data.length} chunks · ${r.mode} search · ${r.took_ms.toFixed(1)} ms`;
    const top = Math.max(...r.data.map((c) => c.score), 1e-9);
    $('#search-results').replaceChildren(...r.data.map((c, i) => h('li', { class: 'card hit', 'data-chunk': c.chunk_id },
      h('div', { class: 'rank' }, i + 1),
      h('div', {},
        h('div', { class: 'where' }, whereOf(c)),
        h('div', { class: 'muted' }, `score ${c.score.toFixed(4)}`),
        h('div', { class: 'scorebar' }, h('span', { style: `width:${Math.max(2, (100 * c.score) / top)}%` })),
        h('p', { class: 'snippet' }, highlighted(c.content, query)),
        h('button', { class: 'open', onclick: () => openDocument(c.document_id, c.chunk_id) }, 'Open in document →')))));
  } catch (e) {
    $('#search-meta').textContent = '';
    $('#search-results').replaceChildren();
    toast(`Search: ${e.message}`);
  } finally {
    button.disabled = false;
  }
}

// ---- the document viewer ---------------------------------------------------------------------

async function openDocument(documentId, chunkId) {
  const collection = $('#collection').value;
  try {
    const d = await api(`/v1/ragd/collections/${encodeURIComponent(collection)}/documents/${encodeURIComponent(documentId)}`);
    $('#doc-title').textContent = d.title || d.id;
    $('#doc-meta').textContent = `${d.id} · ${d.chunks.length} chunks`;
    $('#doc-chunks').replaceChildren(...d.chunks.map((c) => h('div', {
      class: `chunk${c.chunk_id === chunkId ? ' target' : ''}`, 'data-chunk': c.chunk_id },
      h('span', { class: 'head' }, [`#${c.ordinal}`, ...(c.heading_path || []), c.page !== undefined ? `p. ${c.page}` : null]
        .filter((x) => x !== null).join(' › ')),
      c.content)));
    $('#doc-viewer').hidden = false;
    const target = $('#doc-chunks .chunk.target');
    if (target) target.scrollIntoView({ block: 'center' });
  } catch (e) {
    toast(`Document: ${e.message}`);
  }
}

// ---- ask -------------------------------------------------------------------------------------

// The answer's text with each [n] as a link to source n.
function renderCited(node, text, citations, onCite) {
  const parts = text.split(/(\[\d+\])/);
  node.replaceChildren(...parts.map((p) => {
    const m = /^\[(\d+)\]$/.exec(p);
    const n = m ? Number(m[1]) : 0;
    if (!m || n < 1 || n > citations.length) return p;
    return h('a', { class: 'cite', href: '#', 'data-n': n, title: citations[n - 1].title || citations[n - 1].document_id,
      onclick: (e) => { e.preventDefault(); onCite(n); } }, n);
  }));
}

function renderSources(list, citations) {
  list.replaceChildren(...citations.map((c, i) => h('li', { 'data-n': i + 1 },
    h('div', { class: 'where' }, whereOf(c)),
    h('button', { class: 'open', onclick: () => openDocument(c.document_id, c.chunk_id) }, 'Open →'))));
}

function citeClicked(list, citations, n) {
  const li = list.querySelector(`li[data-n="${n}"]`);
  if (li) { li.classList.remove('flash'); void li.offsetWidth; li.classList.add('flash'); }
  const c = citations[n - 1];
  openDocument(c.document_id, c.chunk_id);
}

async function runAsk(ev) {
  ev.preventDefault();
  const question = $('#ask-question').value.trim();
  if (!question) return;
  const model = $('#ask-model').value;
  const button = $('#ask-form button[type=submit]');
  const out = $('#ask-answer');
  button.disabled = true;
  $('#ask-model-name').textContent = model;
  $('#ask-stats').textContent = 'retrieving…';
  out.textContent = '';
  out.classList.add('streaming');
  let citations = [];
  try {
    const r = await streamAnswer({
      model, question,
      onCitations: (c) => { citations = c; renderSources($('#ask-sources'), c); $('#ask-stats').textContent = 'answering…'; },
      onText: (t) => renderCited(out, t, citations, (n) => citeClicked($('#ask-sources'), citations, n)),
    });
    renderCited(out, r.text, citations, (n) => citeClicked($('#ask-sources'), citations, n));
    $('#ask-stats').textContent = `first token ${fmtMs(r.ttft_ms)} · total ${fmtMs(r.total_ms)} · ` +
      `${fmtInt(r.usage && r.usage.prompt_tokens)} + ${fmtInt(r.usage && r.usage.completion_tokens)} tokens · ${fmtCost(costOf(model, r.usage))}`;
  } catch (e) {
    $('#ask-stats').textContent = '';
    toast(`Ask: ${e.message}`);
  } finally {
    out.classList.remove('streaming');
    button.disabled = false;
  }
}

// ---- compare ---------------------------------------------------------------------------------

const METRICS = [
  { metric: 'ttft_ms', title: 'Time to first token', format: fmtMs },
  { metric: 'total_ms', title: 'Total latency', format: fmtMs },
  { metric: 'prompt_tokens', title: 'Prompt tokens', format: fmtInt },
  { metric: 'completion_tokens', title: 'Completion tokens', format: fmtInt },
  { metric: 'cost_usd', title: 'Cost per answer', format: fmtCost },
];

function drawCharts(runs) {
  $('#compare-charts').replaceChildren(...METRICS.map((m) => h('div', { class: 'card chart', 'data-metric': m.metric },
    barChart({ metric: m.metric, title: m.title, format: m.format,
      bars: runs.map((r) => ({ label: r.model, value: r.ok ? r[m.metric] : 0, color: r.color })) }))));
}

async function runCompare(ev) {
  ev.preventDefault();
  const question = $('#compare-question').value.trim();
  const models = [...document.querySelectorAll('#compare-models input:checked')].map((b) => b.value);
  if (!question) return;
  if (models.length < 2 || models.length > MAX_COMPARE) {
    toast(`Pick 2 to ${MAX_COMPARE} models to compare`);
    return;
  }
  const button = $('#compare-form button[type=submit]');
  button.disabled = true;
  $('#compare-sources-note').textContent = '';
  const columns = models.map((model, i) => {
    const text = h('div', { class: 'text streaming' });
    const stats = h('div', { class: 'stats' }, 'retrieving…');
    const node = h('article', { class: 'card col', 'data-model': model },
      h('div', { class: 'card-head' }, h('span', { class: 'swatch', style: `background:${COLORS[i]}` }), h('strong', {}, model)),
      text, stats);
    return { model, color: COLORS[i], text, stats, node, citations: [] };
  });
  $('#compare-columns').replaceChildren(...columns.map((c) => c.node));
  // Every column asks the same question of the same collection in the same mode: retrieval is
  // deterministic (and its query vector cached), so each model gets the same numbered sources;
  // the check after the runs says so, or flags a difference.
  const runs = await Promise.all(columns.map(async (col) => {
    try {
      const r = await streamAnswer({
        model: col.model, question,
        onCitations: (c) => { col.citations = c; col.stats.textContent = 'answering…'; },
        onText: (t) => renderCited(col.text, t, col.citations, (n) => openDocument(col.citations[n - 1].document_id, col.citations[n - 1].chunk_id)),
      });
      const u = r.usage || { prompt_tokens: 0, completion_tokens: 0 };
      const run = { model: col.model, color: col.color, ok: true, ttft_ms: r.ttft_ms, total_ms: r.total_ms,
        prompt_tokens: u.prompt_tokens, completion_tokens: u.completion_tokens, cost_usd: costOf(col.model, u),
        text: r.text, sources: r.citations.map((c) => c.chunk_id) };
      col.stats.replaceChildren(
        h('span', {}, 'first token ', h('b', {}, fmtMs(run.ttft_ms))),
        h('span', {}, 'total ', h('b', {}, fmtMs(run.total_ms))),
        h('span', {}, h('b', {}, fmtInt(run.prompt_tokens)), ' + ', h('b', {}, fmtInt(run.completion_tokens)), ' tokens'),
        h('span', {}, h('b', {}, fmtCost(run.cost_usd))));
      return run;
    } catch (e) {
      col.node.classList.add('error');
      col.text.textContent = e.message;
      col.stats.textContent = '';
      return { model: col.model, color: col.color, ok: false, error: e.message, sources: [] };
    } finally {
      col.text.classList.remove('streaming');
    }
  }));
  const answered = runs.filter((r) => r.ok);
  const same = answered.length > 0 && answered.every((r) => JSON.stringify(r.sources) === JSON.stringify(answered[0].sources));
  $('#compare-sources-note').textContent = answered.length
    ? (same ? `Every model answered from the same ${answered[0].sources.length} sources (${state.mode} search).`
            : 'The models got different sources (the collection changed between their retrievals).')
    : '';
  state.lastCompare = { question, runs, sameSources: same };
  drawCharts(runs);
  for (const r of answered) {
    state.session.push({ question, ...r });
    const n = new Set(state.session.map((s) => s.question)).size;
    $('#compare-table tbody').append(h('tr', {},
      h('td', {}, n), h('td', { class: 'q', title: question }, question),
      h('td', {}, h('span', { class: 'swatch', style: `background:${r.color}` }), ' ', r.model),
      h('td', {}, fmtMs(r.ttft_ms)), h('td', {}, fmtMs(r.total_ms)), h('td', {}, fmtInt(r.prompt_tokens)),
      h('td', {}, fmtInt(r.completion_tokens)), h('td', {}, fmtCost(r.cost_usd))));
  }
  button.disabled = false;
}

// ---- ingest ----------------------------------------------------------------------------------

// Sends the drop as one ingest job (POST /v1/ragd/collections/{c}/ingest-jobs, multipart): ragd
// answers with NDJSON lines as the job runs (`ingest.job` with its id, `ingest.file` as each
// file's documents finish, `ingest.summary` with the job record). onUpload(fraction) while the
// bytes go up, onLine(object) for each line as it arrives. Resolves with every line.
function startJob(files, { onUpload, onLine }) {
  return new Promise((resolve, reject) => {
    const collection = $('#collection').value;
    const form = new FormData();
    for (const file of files) form.append('file', file, file.name);
    const xhr = new XMLHttpRequest();
    xhr.open('POST', `/v1/ragd/collections/${encodeURIComponent(collection)}/ingest-jobs`);
    for (const [k, v] of Object.entries(headers())) xhr.setRequestHeader(k, v);
    xhr.upload.onprogress = (e) => { if (e.lengthComputable) onUpload(e.loaded / e.total); };
    const lines = [];
    let seen = 0;  // characters of responseText already split into lines
    const drain = () => {
      if (xhr.status !== 200) return;
      const text = xhr.responseText;
      let nl;
      while ((nl = text.indexOf('\n', seen)) >= 0) {
        const line = text.slice(seen, nl);
        seen = nl + 1;
        if (!line.trim()) continue;
        const obj = JSON.parse(line);
        lines.push(obj);
        onLine(obj);
      }
    };
    xhr.onprogress = drain;
    xhr.onload = () => {
      if (xhr.status === 200) {
        drain();
        resolve(lines);
        return;
      }
      let body = null;
      try { body = JSON.parse(xhr.responseText); } catch (_) { /* reported below */ }
      reject(new Error(body && body.error ? `${body.error.message} (HTTP ${xhr.status})` : `HTTP ${xhr.status}`));
    };
    xhr.onerror = () => reject(new Error('network error'));
    xhr.send(form);
  });
}

async function ingestFiles(files) {
  if (!files.length) return;
  if (!$('#collection').value) { toast('Create a collection first (ragctl collections create)'); return; }
  const rows = files.map((file) => {
    const bar = h('span');
    const stateText = h('span', { class: 'state' }, 'queued');
    const node = h('li', { class: 'card file', 'data-file': file.name },
      h('span', { class: 'name', title: file.name }, file.name, h('span', { class: 'muted' }, `  ${fmtInt(file.size)} B`)),
      h('div', { class: 'progress' }, bar), stateText);
    return { file, bar, stateText, node };
  });
  $('#ingest-files').prepend(...rows.map((r) => r.node));
  // What the page saw, read by the browser test: the job's id, each file's line, the summary.
  const seen = { job_id: null, files: [], summary: null, error: null };
  state.ingest = null;
  const box = $('#ingest-summary');
  box.hidden = true;
  delete box.dataset.done;
  const onLine = (line) => {
    if (line.object === 'ingest.job') {
      seen.job_id = line.job_id;
      for (const row of rows) row.stateText.textContent = `chunking & embedding… (job ${line.job_id})`;
    } else if (line.object === 'ingest.file') {
      seen.files.push(line);
      const row = rows[line.index];
      if (!row) return;
      const failed = line.documents.filter((d) => d.outcome === 'failed');
      const skipped = line.documents.filter((d) => d.outcome === 'skipped');
      row.bar.style.width = '100%';
      row.node.classList.add(failed.length ? 'failed' : 'ok');
      row.node.dataset.done = 'true';
      row.stateText.textContent = failed.length
        ? failed[0].error
        : skipped.length === line.documents.length
          ? 'unchanged (skipped)'
          : `${line.documents.length > 1 ? `${plural(line.documents.length, 'document')} · ` : ''}${plural(line.chunks, 'chunk')} · ${plural(line.tokens, 'token')}`;
    } else if (line.object === 'ingest.summary') {
      seen.summary = line;
    } else if (line.object === 'error') {
      seen.error = line.error;
    }
  };
  try {
    await startJob(files, {
      // The upload is the first 60 % of each bar; the rest fills when the file's line arrives.
      onUpload: (f) => {
        for (const row of rows) {
          if (row.node.dataset.done) continue;
          row.bar.style.width = `${Math.round(60 * f)}%`;
          row.stateText.textContent = f < 1 ? `uploading ${Math.round(100 * f)} %` : 'chunking & embedding…';
        }
      },
      onLine,
    });
  } catch (e) {
    seen.error = { message: e.message };
  }
  for (const row of rows) {
    if (row.node.dataset.done) continue;
    row.bar.style.width = '100%';
    row.node.classList.add('failed');
    row.stateText.textContent = seen.error ? seen.error.message : 'not ingested';
  }
  state.ingest = seen;
  const stat = (n, label) => h('div', {}, h('span', { class: 'num' }, n), h('span', { class: 'muted' }, label));
  const s = seen.summary;
  if (s) {
    // The id is what `ragctl jobs get ID` and GET /v1/ragd/ingest-jobs/ID read later.
    box.replaceChildren(
      h('div', { class: 'job' }, h('span', { class: 'muted' }, 'job '), h('code', { class: 'job-id' }, s.job_id),
        h('span', { class: 'muted' }, ` · ${s.embedder_provider} ${s.embedder_model}${s.cancelled ? ' · cancelled' : ''}`)),
      stat(`${fmtInt(s.documents_ok)}`, 'documents ok'), stat(fmtInt(s.documents_skipped), 'unchanged'),
      stat(fmtInt(s.documents_failed), 'failed'), stat(fmtInt(s.chunks), 'chunks'),
      stat(fmtInt(s.tokens), 'tokens'), stat(fmtInt(s.embedded_tokens), 'tokens embedded'),
      stat(fmtCost(s.cost_usd), 'embedding cost'), stat(`${s.seconds.toFixed(2)} s`, 'elapsed'));
  } else {
    box.replaceChildren(h('div', { class: 'job' }, `Not ingested: ${seen.error ? seen.error.message : 'no summary'}`));
    if (seen.error) toast(seen.error.message);
  }
  box.hidden = false;
  box.dataset.done = 'true';
  loadCollections($('#collection').value);
}

// ---- wiring ----------------------------------------------------------------------------------

function init() {
  const key = $('#api-key');
  key.value = localStorage.getItem('ragd.key') || '';
  key.addEventListener('change', () => {
    localStorage.setItem('ragd.key', key.value.trim());
    $('#toast').hidden = true;  // the last key's errors are moot
    loadCollections();
    loadModels();
  });
  $('#collection').addEventListener('change', () => {
    localStorage.setItem('ragd.collection', $('#collection').value);
    showCollectionInfo();
  });
  for (const b of document.querySelectorAll('.tabs button')) b.addEventListener('click', () => showTab(b.dataset.tab));
  for (const b of document.querySelectorAll('#search-mode button')) b.addEventListener('click', () => setMode(b.dataset.mode));
  $('#search-form').addEventListener('submit', runSearch);
  $('#ask-form').addEventListener('submit', runAsk);
  $('#compare-form').addEventListener('submit', runCompare);
  $('#doc-close').addEventListener('click', () => { $('#doc-viewer').hidden = true; });
  $('#doc-viewer').addEventListener('click', (e) => { if (e.target.id === 'doc-viewer') $('#doc-viewer').hidden = true; });
  document.addEventListener('keydown', (e) => { if (e.key === 'Escape') $('#doc-viewer').hidden = true; });

  const zone = $('#dropzone');
  zone.addEventListener('dragenter', (e) => { e.preventDefault(); zone.classList.add('over'); });
  zone.addEventListener('dragover', (e) => { e.preventDefault(); zone.classList.add('over'); });
  zone.addEventListener('dragleave', () => zone.classList.remove('over'));
  zone.addEventListener('drop', (e) => {
    e.preventDefault();
    zone.classList.remove('over');
    ingestFiles([...e.dataTransfer.files]);
  });
  // A file dropped outside the zone would make the browser navigate away to it.
  window.addEventListener('dragover', (e) => e.preventDefault());
  window.addEventListener('drop', (e) => e.preventDefault());
  $('#file-input').addEventListener('change', (e) => { ingestFiles([...e.target.files]); e.target.value = ''; });

  Promise.all([loadCollections(), loadModels()]).then(() => { document.body.dataset.ready = 'true'; });
}

init();
