// The table every training and sampling command ends with: what it measured, how long it took and where each output
// went, aligned so runs can be compared at a glance (the lines above it scroll away with the progress bars).

export type SummaryRow = [label: string, value: string];

/** An aligned text table: a title, then per section a heading and its label/value rows (labels padded to one width). */
export function formatSummary(title: string, sections: Array<{ heading: string; rows: SummaryRow[] }>): string[] {
  const used = sections.filter((s) => s.rows.length > 0);
  const width = Math.max(0, ...used.flatMap((s) => s.rows.map(([label]) => label.length)));
  const lines = [`── ${title} ${'─'.repeat(Math.max(3, 60 - title.length))}`];
  for (const { heading, rows } of used) {
    lines.push(`${heading}:`);
    for (const [label, value] of rows) lines.push(`  ${label.padEnd(width)}  ${value}`);
  }
  return lines;
}

/** Seconds as a person reads them: 4.2 s, 3 min 05 s, 1 h 02 min. */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return String(seconds);
  if (seconds < 60) return `${seconds.toFixed(seconds < 10 ? 2 : 1)} s`;
  const s = Math.round(seconds);
  if (s < 3600) return `${Math.floor(s / 60)} min ${String(s % 60).padStart(2, '0')} s`;
  return `${Math.floor(s / 3600)} h ${String(Math.floor((s % 3600) / 60)).padStart(2, '0')} min`;
}

/**
 * Collects a command's metrics and outputs while it runs; `print` adds the wall time since construction and writes
 * the table. Metrics keep the order they were added in.
 */
export class Summary {
  private readonly started = performance.now();
  private readonly metrics: SummaryRow[] = [];
  private readonly outputs: SummaryRow[] = [];
  private readonly times: SummaryRow[] = [];

  constructor(readonly title: string) {}

  metric(label: string, value: string | number, digits = 4): this {
    this.metrics.push([label, typeof value === 'number' ? formatNumber(value, digits) : value]);
    return this;
  }

  /** A measured duration besides the total (training, evaluation…). */
  time(label: string, seconds: number): this {
    this.times.push([label, formatDuration(seconds)]);
    return this;
  }

  output(label: string, path: string): this {
    this.outputs.push([label, path]);
    return this;
  }

  lines(): string[] {
    const wall = (performance.now() - this.started) / 1000;
    return formatSummary(this.title, [
      { heading: 'metrics', rows: this.metrics },
      { heading: 'time', rows: [...this.times, ['wall time', formatDuration(wall)]] },
      { heading: 'outputs', rows: this.outputs },
    ]);
  }

  print(log: (line: string) => void): void {
    for (const line of this.lines()) log(line);
  }
}

/** A number with `digits` significant digits, switching to exponent form for very small or large values. */
export function formatNumber(value: number, digits = 4): string {
  if (!Number.isFinite(value)) return String(value);
  if (Number.isInteger(value) && Math.abs(value) < 1e9) return String(value);
  const abs = Math.abs(value);
  if (abs !== 0 && (abs < 1e-3 || abs >= 1e6)) return value.toExponential(digits - 1);
  return Number(value.toPrecision(digits)).toString();
}
