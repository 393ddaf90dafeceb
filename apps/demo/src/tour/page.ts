// The tour's index.html: one self-contained page (inline CSS, no scripts) that shows the pictures, plays the sounds
// and lists the metrics and timings of a TourReport. Paths in the report are relative to the page.
import type { TourReport, TourRow, TourSection } from './run-tour.js';

const escape = (text: string) => text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

/** Shares as percentages, distances with three significant digits, guidance as is. */
function formatMetric(name: string, value: number): string {
  if (!Number.isFinite(value)) return '–';
  if (/agreement|within|read as/.test(name)) return `${(value * 100).toFixed(1)}%`;
  if (name === 'guidance w') return value.toFixed(2).replace(/\.?0+$/, '');
  if (Math.abs(value) >= 100) return value.toFixed(0);
  return Math.abs(value) < 0.01 ? value.toExponential(2) : value.toPrecision(3);
}

function rowsTable(section: TourSection): string {
  const metricNames = [...new Set(section.rows.flatMap((r) => Object.keys(r.metrics)))];
  const media = (r: TourRow) =>
    [r.image ? `<a href="${escape(r.image)}"><img src="${escape(r.image)}" alt="${escape(`${r.model} ${r.nfe} NFE`)}" loading="lazy"></a>` : '', r.audio ? `<audio controls preload="metadata" src="${escape(r.audio)}"></audio>` : ''].join('');
  const head = ['model', 'solver', 'NFE', ...metricNames, 'seconds', ...(section.rows.some((r) => r.image || r.audio) ? ['output'] : [])];
  const body = section.rows
    .map((r) => {
      const cells = [r.model, r.solver, String(r.nfe), ...metricNames.map((m) => (m in r.metrics ? formatMetric(m, r.metrics[m]) : '–')), r.seconds.toFixed(2)];
      const output = head.includes('output') ? `<td class="media">${media(r)}</td>` : '';
      return `<tr class="${r.model === 'MeanFlow' ? 'meanflow' : ''}">${cells.map((c) => `<td>${escape(c)}</td>`).join('')}${output}</tr>`;
    })
    .join('\n');
  return `<table><thead><tr>${head.map((h) => `<th>${escape(h)}</th>`).join('')}</tr></thead><tbody>\n${body}\n</tbody></table>`;
}

function sectionHtml(section: TourSection): string {
  const figures = section.figures.map((f) => `<figure><a href="${escape(f.file)}"><img src="${escape(f.file)}" alt="${escape(f.caption)}"></a><figcaption>${escape(f.caption)}</figcaption></figure>`).join('\n');
  return `<section id="${section.id}">
<h2>${escape(section.title)} <small>${section.seconds.toFixed(0)} s</small></h2>
<p>${escape(section.description)}</p>
${rowsTable(section)}
${figures}
</section>`;
}

export function renderTourPage(report: TourReport): string {
  const timings = report.timings.map((t) => `<tr><td>${escape(t.step)}</td><td>${t.seconds.toFixed(1)}</td></tr>`).join('\n');
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>flowmatch tour</title>
<style>
  body { font: 15px/1.5 system-ui, sans-serif; margin: 2rem auto; max-width: 1200px; padding: 0 1rem; color: #222; }
  h1 small, h2 small { color: #888; font-weight: normal; font-size: 0.6em; }
  table { border-collapse: collapse; margin: 1rem 0; }
  th, td { border-bottom: 1px solid #ddd; padding: 0.3rem 0.6rem; text-align: right; vertical-align: middle; }
  th:first-child, td:first-child, th:nth-child(2), td:nth-child(2) { text-align: left; }
  tr.meanflow td:first-child { font-weight: 600; color: #7a3e9d; }
  td.media img { max-height: 260px; image-rendering: pixelated; }
  figure { margin: 1rem 0; } figure img { max-width: 100%; } figcaption { color: #555; font-size: 0.9em; }
  code { background: #f3f3f3; padding: 0 0.2em; }
</style>
</head>
<body>
<h1>flowmatch tour <small>${escape(report.startedAt)}</small></h1>
<p>Backend: <code>${escape(report.backend)}</code>. Total ${report.totalSeconds.toFixed(0)} s. NFE is the number of model evaluations per sample; MeanFlow rows jump along the path with an average velocity, flow matching rows integrate the ODE.
Sample more with <code>npx flowmatch sample --model mnist-meanflow --class 7 --nfe 1</code>, or browse with <code>npx flowmatch serve</code>.</p>
${report.sections.map(sectionHtml).join('\n')}
<section id="timings">
<h2>Timings</h2>
<table><thead><tr><th>step</th><th>seconds</th></tr></thead><tbody>
${timings}
<tr><td><b>total</b></td><td><b>${report.totalSeconds.toFixed(1)}</b></td></tr>
</tbody></table>
</section>
</body>
</html>
`;
}
