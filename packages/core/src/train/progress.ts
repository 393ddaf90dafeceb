/**
 * Progress for long jobs: on a TTY one line redrawn in place (bar, steps/s, loss, ETA); elsewhere (CI, logs,
 * pipes) plain lines at a steady cadence so the output stays readable.
 */
export interface ProgressOptions {
  total: number;
  label?: string;
  /** Where to write. Default process.stderr. */
  stream?: { write(s: string): unknown; isTTY?: boolean; columns?: number };
  /** Force TTY or plain mode. Default: the stream's isTTY (and not CI). */
  tty?: boolean;
  /** Plain mode: print a line at most this often (ms). Default 5000. */
  plainIntervalMs?: number;
  /** Plain mode: also print every this many steps. Default total/10. */
  plainEverySteps?: number;
  /** Total time budget in seconds, when training is time-bounded (for the ETA). */
  timeBudgetSeconds?: number;
  /** Silence everything. */
  silent?: boolean;
  /** What one step is, for the rate and the summary ("images" → "images/s"). Default 'steps'. */
  unit?: string;
}

export interface ProgressFields {
  loss?: number;
  [name: string]: number | string | undefined;
}

export class ProgressReporter {
  private readonly start = performance.now();
  private lastDraw = 0;
  private lastPlain = -Infinity;
  private lastPlainStep = 0;
  private rate = 0;
  private rateAt = { time: performance.now(), step: 0 };
  private readonly tty: boolean;
  private readonly stream: NonNullable<ProgressOptions['stream']>;
  private startStep = 0;

  constructor(private readonly options: ProgressOptions) {
    this.stream = options.stream ?? process.stderr;
    this.tty = options.tty ?? (Boolean(this.stream.isTTY) && !process.env.CI);
  }

  /**
   * Marks the step training starts from, so rates and ETA count only new steps. After a resume (`resumed`: the
   * checkpoint and the steps its schedule spans) it says so first, on a TTY and in plain mode alike:
   * `train: resumed from step 1200 of out/2d/model.safetensors (planned 3000 steps)`.
   */
  begin(step: number, resumed?: { source: string; planned: number }): void {
    this.startStep = step;
    this.lastPlainStep = step;
    this.rateAt = { time: performance.now(), step };
    if (resumed) {
      const stops = this.options.total < resumed.planned ? `; this run stops at step ${this.options.total}` : '';
      this.note(`${this.options.label ?? 'train'}: resumed from step ${step} of ${resumed.source} (planned ${resumed.planned} steps${stops})`);
    }
  }

  /** A line of its own between progress updates (on a TTY the bar is redrawn below it). */
  note(line: string): void {
    if (this.options.silent) return;
    this.stream.write(this.tty ? `\r${line}\x1b[K\n` : `${line}\n`);
  }

  /** Changes the step count the bar runs to (a time-bounded run re-plans it). */
  setTotal(total: number): void {
    this.options.total = total;
  }

  update(step: number, fields: ProgressFields = {}): void {
    if (this.options.silent) return;
    const now = performance.now();
    const dt = (now - this.rateAt.time) / 1000;
    if (dt >= 0.5) {
      const instant = (step - this.rateAt.step) / dt;
      this.rate = this.rate === 0 ? instant : 0.7 * this.rate + 0.3 * instant;
      this.rateAt = { time: now, step };
    } else if (this.rate === 0 && step > this.startStep) {
      this.rate = (step - this.startStep) / Math.max(1e-3, (now - this.start) / 1000);
    }
    if (this.tty) {
      if (now - this.lastDraw < 100 && step < this.options.total) return;
      this.lastDraw = now;
      this.stream.write(`\r${this.format(step, fields, true)}\x1b[K`);
    } else {
      const every = this.options.plainEverySteps ?? Math.max(1, Math.round(this.options.total / 10));
      const due = now - this.lastPlain >= (this.options.plainIntervalMs ?? 5000) || step - this.lastPlainStep >= every;
      if (!due && step < this.options.total) return;
      this.lastPlain = now;
      this.lastPlainStep = step;
      this.stream.write(`${this.format(step, fields, false)}\n`);
    }
  }

  /** Ends the line (TTY) and prints a summary. */
  finish(step: number, fields: ProgressFields = {}, note = ''): void {
    if (this.options.silent) return;
    const seconds = (performance.now() - this.start) / 1000;
    const resumed = this.startStep > 0 ? ` (${step - this.startStep} in this run, resumed from step ${this.startStep})` : '';
    const summary = `${this.options.label ?? 'train'} done: ${step} ${this.options.unit ?? 'steps'}${resumed} in ${seconds.toFixed(1)}s${fieldText(fields)}${note ? ` — ${note}` : ''}`;
    this.stream.write(this.tty ? `\r${this.format(step, fields, true)}\x1b[K\n${summary}\n` : `${summary}\n`);
  }

  private format(step: number, fields: ProgressFields, bar: boolean): string {
    const { total, label = 'train' } = this.options;
    const fraction = Math.min(1, step / Math.max(1, total));
    const elapsed = (performance.now() - this.start) / 1000;
    let eta = this.rate > 0 ? (total - step) / this.rate : NaN;
    if (this.options.timeBudgetSeconds) eta = Math.min(Number.isFinite(eta) ? eta : Infinity, this.options.timeBudgetSeconds - elapsed);
    const pct = `${(fraction * 100).toFixed(0).padStart(3)}%`;
    const width = 24;
    const filled = Math.round(fraction * width);
    const barText = bar ? ` ${'█'.repeat(filled)}${'░'.repeat(width - filled)}` : '';
    return `${label}${barText} ${pct} ${step}/${total} | ${this.rate.toFixed(1)} ${this.options.unit ?? 'steps'}/s${fieldText(fields)} | ETA ${formatSeconds(eta)}`;
  }
}

function fieldText(fields: ProgressFields): string {
  return Object.entries(fields)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => ` | ${k} ${typeof v === 'number' ? formatNumber(v) : v}`)
    .join('');
}

function formatNumber(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  const a = Math.abs(v);
  return a !== 0 && (a < 1e-3 || a >= 1e5) ? v.toExponential(3) : v.toFixed(4);
}

export function formatSeconds(s: number): string {
  if (!Number.isFinite(s) || s < 0) return '--';
  if (s < 60) return `${s.toFixed(0)}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${String(Math.round(s % 60)).padStart(2, '0')}s`;
  return `${Math.floor(m / 60)}h${String(m % 60).padStart(2, '0')}m`;
}
