#!/usr/bin/env node
// Splits the Korean Markdown corpus into retrieval passages, one JSON object per line on stdout:
//   {"id": "<file stem>#<n>", "title": "<doc title> — <heading>", "text": "<passage text>"}
//
// Usage: node make_passages.mjs <corpus dir> > ko_passages.jsonl
//
// Rules (deterministic; Node 20, no packages):
// - files: every *.md in <corpus dir> except README.md, sorted by name (code-unit order);
//   <file stem> is the name without its last extension (foo.ko.md -> foo.ko); n counts from 1
//   within each file, in document order.
// - front matter (--- ... --- at the top) is dropped; the doc title is front matter `title:`
//   (or `lab:` / `  title:`), else the first `# ` heading, else the file stem.
// - a passage starts at each `##` or `###` heading outside fenced code; text before the first
//   such heading (after a `# ` title line, if any) is an intro passage headed "소개".
// - cleaned text: HTML tags and <head> blocks, admonition fences (:::), image URLs, link
//   targets and ** / __ emphasis removed (image alt text and link text kept); code blocks kept.
// - a section whose cleaned body is shorter than MIN_BODY characters is merged into the next
//   section of the same file (the last one into the previous); a merged passage's title joins
//   the headings with " / ". The passage text starts with its heading line(s).
// - a section whose cleaned body is longer than MAX_BODY characters is cut at paragraph
//   boundaries into ceil(length / MAX_BODY) parts of about equal length, titled
//   "<heading> (i/k)"; each part's text starts with the heading line.
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

const MIN_BODY = 100;
const MAX_BODY = 1000;

function usage() {
  process.stderr.write("usage: node make_passages.mjs <corpus dir>\n");
  process.exit(2);
}

function splitFrontMatter(src) {
  const lines = src.replace(/\r\n?/g, "\n").split("\n");
  let title = null;
  if (lines[0] === "---") {
    const end = lines.indexOf("---", 1);
    if (end > 0) {
      for (const l of lines.slice(1, end)) {
        const m = /^\s*title:\s*(.*)$/.exec(l);
        if (m && title === null) title = m[1].trim().replace(/^"(.*)"$/, "$1");
      }
      return { title, lines: lines.slice(end + 1) };
    }
  }
  return { title, lines };
}

function cleanInline(s) {
  return s
    .replace(/!\[([^\]]*)\]\([^)]*\)/g, "$1") // image -> alt text
    .replace(/\[([^\]]*)\]\([^)]*\)/g, "$1") // link -> text
    .replace(/<[^>]+>/g, "") // HTML tags
    .replace(/\*\*|__/g, "")
    .replace(/\\([\\`*_{}\[\]()#+\-.!>])/g, "$1")
    .replace(/&lt;/g, "<")
    .replace(/&gt;/g, ">")
    .replace(/&amp;/g, "&")
    .replace(/[ \t]+$/g, "");
}

function cleanBody(lines) {
  const out = [];
  let inHead = false;
  let inFence = false;
  for (const raw of lines) {
    if (/^\s*```/.test(raw)) {
      inFence = !inFence;
      continue;
    }
    if (inFence) {
      out.push(raw.trim());
      continue;
    }
    if (/^\s*<head>/.test(raw)) inHead = true;
    if (inHead) {
      if (/<\/head>/.test(raw)) inHead = false;
      continue;
    }
    if (/^\s*:::/.test(raw)) {
      const rest = raw.replace(/^\s*:::\s*\w*\s*/, "").trim();
      if (rest) out.push(rest);
      continue;
    }
    let l = cleanInline(raw).trim();
    l = l.replace(/^>\s?/, "").trim();
    if (l === "" || /^\|?[\s:|-]+\|?$/.test(l) && l.includes("-") && l.includes("|")) {
      out.push("");
      continue;
    }
    l = l.replace(/^[*+]\s+/, "- ");
    out.push(l);
  }
  return out.join("\n").replace(/\n{3,}/g, "\n\n").trim();
}

function sectionsOf(lines) {
  const secs = [];
  let cur = { heading: null, level: 0, lines: [] };
  let inFence = false;
  let docHeading = null;
  for (const line of lines) {
    if (/^\s*```/.test(line)) inFence = !inFence;
    if (!inFence) {
      const h = /^(#{1,3})\s+(.*?)\s*#*\s*$/.exec(line);
      if (h && h[1].length === 1 && docHeading === null && secs.length === 0) {
        docHeading = cleanInline(h[2]).trim();
        continue;
      }
      if (h && h[1].length >= 2) {
        secs.push(cur);
        cur = { heading: cleanInline(h[2]).trim(), level: h[1].length, lines: [] };
        continue;
      }
    }
    cur.lines.push(line);
  }
  secs.push(cur);
  return { docHeading, secs };
}

function passagesOf(name, src) {
  const stem = name.replace(/\.[^.]+$/, "");
  const fm = splitFrontMatter(src);
  const { docHeading, secs } = sectionsOf(fm.lines);
  const docTitle = fm.title || docHeading || stem;
  let items = secs
    .map((s) => ({ headings: [s.heading ?? "소개"], body: cleanBody(s.lines) }))
    .filter((s, i) => !(i === 0 && s.body === ""));
  // merge very short sections into the next one (the last into the previous)
  const merged = [];
  for (let i = 0; i < items.length; i++) {
    let it = items[i];
    while (it.body.length < MIN_BODY && i + 1 < items.length) {
      const nx = items[++i];
      it = { headings: [...it.headings, ...nx.headings], body: joinBodies(it, nx) };
    }
    if (it.body.length < MIN_BODY && merged.length > 0) {
      const prev = merged.pop();
      it = { headings: [...prev.headings, ...it.headings], body: joinBodies(prev, it) };
    }
    merged.push(it);
  }
  const out = [];
  for (const it of merged) {
    const head = it.headings.join(" / ");
    const parts = splitLong(it.body);
    parts.forEach((body, j) => {
      const suffix = parts.length > 1 ? ` (${j + 1}/${parts.length})` : "";
      // the first heading's line is prepended here; later ones were inlined by joinBodies
      out.push({
        id: `${stem}#${out.length + 1}`,
        title: `${docTitle} — ${head}${suffix}`,
        text: [it.headings[0] + suffix, body].filter((x) => x !== "").join("\n\n"),
      });
    });
  }
  return out;
}

function splitLong(body) {
  if (body.length <= MAX_BODY) return [body];
  const k = Math.ceil(body.length / MAX_BODY);
  const target = body.length / k;
  const paras = body.split("\n\n");
  const parts = [];
  let cur = [];
  let len = 0;
  for (const para of paras) {
    if (cur.length > 0 && len + para.length / 2 > target && parts.length < k - 1) {
      parts.push(cur.join("\n\n"));
      cur = [];
      len = 0;
    }
    cur.push(para);
    len += para.length + 2;
  }
  parts.push(cur.join("\n\n"));
  return parts;
}

function joinBodies(a, b) {
  // a's body, then b's heading line and body
  return [a.body, b.headings[0], b.body].filter((x) => x !== "").join("\n\n");
}

const dir = process.argv[2];
if (!dir) usage();
const files = readdirSync(dir)
  .filter((f) => f.endsWith(".md") && f !== "README.md" && !f.startsWith("."))
  .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
for (const f of files) {
  for (const p of passagesOf(f, readFileSync(join(dir, f), "utf8"))) {
    process.stdout.write(JSON.stringify(p) + "\n");
  }
}
