// Bar charts drawn as SVG by hand: a playground needs a few bars per metric, not a charting
// library (nothing to vendor, nothing fetched from a CDN). Every bar carries its data as
// attributes (data-model, data-value), which is also what the browser test reads.

const SVG = 'http://www.w3.org/2000/svg';

function el(name, attrs = {}, text) {
  const node = document.createElementNS(SVG, name);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  if (text !== undefined) node.textContent = text;
  return node;
}

// A "nice" axis maximum: 1, 2 or 5 times a power of ten, at least `max`.
function niceMax(max) {
  if (!(max > 0)) return 1;
  const p = Math.pow(10, Math.floor(Math.log10(max)));
  for (const m of [1, 2, 5, 10]) if (m * p >= max) return m * p;
  return 10 * p;
}

// bars: [{label, value, color}]; format(value) -> the label above each bar.
export function barChart({ metric, title, bars, format }) {
  const width = 260, height = 178, top = 38, bottom = 30, left = 8, right = 8;
  const plotH = height - top - bottom;
  const max = niceMax(Math.max(0, ...bars.map((b) => b.value || 0)));
  const svg = el('svg', { viewBox: `0 0 ${width} ${height}`, role: 'img', 'aria-label': title,
                          'data-metric': metric });
  svg.appendChild(el('text', { x: left, y: 14, class: 'title' }, title));
  for (const f of [0.5, 1]) {
    const y = top + plotH * (1 - f);
    svg.appendChild(el('line', { x1: left, x2: width - right, y1: y, y2: y,
                                 stroke: 'currentColor', 'stroke-opacity': 0.12 }));
  }
  svg.appendChild(el('line', { x1: left, x2: width - right, y1: top + plotH, y2: top + plotH,
                               stroke: 'currentColor', 'stroke-opacity': 0.3 }));
  const slot = (width - left - right) / Math.max(1, bars.length);
  const barW = Math.min(46, slot * 0.6);
  bars.forEach((b, i) => {
    const v = b.value || 0;
    const h = Math.max(v > 0 ? 2 : 0, (plotH * v) / max);
    const x = left + slot * i + (slot - barW) / 2;
    const rect = el('rect', { x, y: top + plotH - h, width: barW, height: h, rx: 4, fill: b.color,
                              'data-model': b.label, 'data-value': v });
    rect.appendChild(el('title', {}, `${b.label}: ${format(v)}`));
    svg.appendChild(rect);
    svg.appendChild(el('text', { x: x + barW / 2, y: top + plotH - h - 5, 'text-anchor': 'middle',
                                 class: 'value' }, format(v)));
    const label = b.label.length > 16 ? b.label.slice(0, 15) + '…' : b.label;
    svg.appendChild(el('text', { x: x + barW / 2, y: height - 10, 'text-anchor': 'middle' }, label));
  });
  return svg;
}
