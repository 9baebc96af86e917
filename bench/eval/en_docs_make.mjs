#!/usr/bin/env node
// Builds the English documentation corpus for ragd's retrieval evaluation from the SQLite
// documentation that Debian 12's package `sqlite3-doc` (3.40.1-2+deb12u2) installs. The pages
// themselves are not part of this repository; this script converts the installed copy.
//
//   apt-get install -y sqlite3-doc
//   node en_docs_make.mjs [/usr/share/doc/sqlite3] > en_docs.jsonl
//
// One JSON object per line on stdout: {"id": "<relative path>", "title": "...", "text": "..."}.
// Pages: every *.html directly in the directory (no subdirectories: c3ref/, syntax/, session/,
// releaselog/ are left out), except the pure link indexes listed in EXCLUDED, sorted by name
// (code-unit order). Text: <head>, <script>, <style>, the site's navigation header and the
// table-of-contents box removed, tags stripped (block elements become line breaks, <pre> keeps
// its lines), entities decoded, whitespace collapsed. The title is the page's <title>.
// Deterministic: the same installed files give byte-identical output. Node 20, no packages.
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";

const DEFAULT_DIR = "/usr/share/doc/sqlite3";
const EXCLUDED = new Set([
  "doc_backlink_crossref.html",
  "doc_keyword_crossref.html",
  "doc_pagelink_crossref.html",
  "doc_target_crossref.html",
  "keyword_index.html",
  "requirements.html", // machine-extracted requirement sentences duplicating the other pages
  "sitemap.html",
]);

const NAMED = {
  amp: "&", lt: "<", gt: ">", quot: '"', apos: "'", nbsp: " ", copy: "©", reg: "®",
  mdash: "—", ndash: "–", hellip: "…", rarr: "→", larr: "←", ne: "≠", le: "≤", ge: "≥",
  times: "×", divide: "÷", middot: "·", bull: "•", lsquo: "‘", rsquo: "’", ldquo: "“",
  rdquo: "”", laquo: "«", raquo: "»", deg: "°", plusmn: "±", micro: "µ", para: "¶",
  sect: "§", trade: "™", infin: "∞", pi: "π", sup2: "²", frac12: "½", eacute: "é",
  auml: "ä", ouml: "ö", uuml: "ü", szlig: "ß", sup1: "¹", sup3: "³", ensp: " ", emsp: " ",
  thinsp: " ", uarr: "↑", darr: "↓", lsqb: "[", rsqb: "]", lpar: "(", rpar: ")", aelig: "æ",
  AElig: "Æ",
};

function decode(s) {
  return s.replace(/&(#x[0-9a-fA-F]+|#[0-9]+|[A-Za-z][A-Za-z0-9]*);/g, (m, e) => {
    if (e[0] === "#") {
      const cp = e[1] === "x" || e[1] === "X" ? parseInt(e.slice(2), 16) : parseInt(e.slice(1), 10);
      return Number.isFinite(cp) && cp > 0 && cp <= 0x10ffff ? String.fromCodePoint(cp) : m;
    }
    return Object.prototype.hasOwnProperty.call(NAMED, e) ? NAMED[e] : m;
  });
}

const BLOCK = /^(p|div|br|li|ul|ol|dl|dt|dd|h[1-6]|tr|table|thead|tbody|pre|blockquote|hr|center|form|section|article|nav|header|footer|caption|figure|figcaption)$/i;

function htmlToText(html) {
  let s = html.replace(/\r\n?/g, "\n");
  s = s.replace(/<!--[\s\S]*?-->/g, "");
  s = s.replace(/<![^>]*>/g, "");
  s = s.replace(/<head[\s>][\s\S]*?<\/head>/gi, "");
  s = s.replace(/<script[\s\S]*?<\/script>/gi, "");
  s = s.replace(/<style[\s\S]*?<\/style>/gi, "");
  // site navigation: logo, tagline, menus and search box (none of these divs nest)
  s = s.replace(/<div class="tagline[^"]*"[^>]*>[\s\S]*?<\/div>/gi, "");
  s = s.replace(/<div class="menu[^"]*"[^>]*>[\s\S]*?<\/div>/gi, "");
  s = s.replace(/<div class="searchmenu"[^>]*>[\s\S]*?<\/div>/gi, "");
  // table of contents box: its entries and its toggle
  s = s.replace(/<div class="fancy-toc\d"[^>]*>[\s\S]*?<\/div>/gi, "");
  s = s.replace(/<a onclick="toggle_toc\(\)">[\s\S]*?<\/a>/gi, "");
  // keep <pre> lines; elsewhere source line breaks are just spaces
  const parts = s.split(/(<pre[\s>][\s\S]*?<\/pre>)/i);
  s = parts
    .map((p, i) => (i % 2 === 1 ? p.replace(/\n/g, "<br>") : p.replace(/\s+/g, " ")))
    .join("");
  s = s.replace(/<\/?([A-Za-z][A-Za-z0-9]*)\b[^>]*>/g, (m, tag) => {
    if (BLOCK.test(tag)) return "\n";
    if (/^(td|th)$/i.test(tag)) return m[1] === "/" ? "" : " ";
    return "";
  });
  s = decode(s);
  return s
    .split("\n")
    .map((l) => l.replace(/[ \t\u00a0]+/g, " ").trim())
    .join("\n")
    .replace(/\n{3,}/g, "\n\n")
    .trim();
}

function titleOf(html, fallback) {
  const m = /<title>([\s\S]*?)<\/title>/i.exec(html);
  const t = m ? decode(m[1].replace(/<[^>]+>/g, "")).replace(/\s+/g, " ").trim() : "";
  return t || fallback;
}

const dir = process.argv[2] || DEFAULT_DIR;
const pages = readdirSync(dir)
  .filter((f) => f.endsWith(".html") && !EXCLUDED.has(f) && statSync(join(dir, f)).isFile())
  .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
if (pages.length === 0) {
  process.stderr.write(`no HTML pages in ${dir}: apt-get install -y sqlite3-doc\n`);
  process.exit(1);
}
for (const f of pages) {
  const html = readFileSync(join(dir, f), "utf8");
  const rec = { id: f, title: titleOf(html, f), text: htmlToText(html) };
  process.stdout.write(JSON.stringify(rec) + "\n");
}
