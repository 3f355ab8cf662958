// A progress line on stderr (never stdout, which carries --json results): step/total, smoothed
// loss, dev accuracy, steps/s and ETA. On a terminal it redraws one line; in a log file or pipe it
// prints a line every few seconds and whenever a dev accuracy arrives.
import { formatDuration, formatPercent } from './format';

/** Where progress goes: a writable stream, told apart as a terminal by isTTY. */
export interface ProgressStream {
  write(chunk: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

export interface ProgressOptions {
  /** steps of the whole run */
  total: number;
  /** prefix of each line, e.g. 'finetune' */
  label?: string;
  /** default process.stderr */
  stream?: ProgressStream;
  /** print nothing at all */
  silent?: boolean;
  /** redraw in place; default: the stream is a terminal */
  tty?: boolean;
  /** without a terminal: seconds between lines */
  intervalSeconds?: number;
  /** on a terminal: least milliseconds between redraws */
  redrawMs?: number;
  /** EMA factor of the displayed loss */
  lossSmoothing?: number;
  /** first step done by this process (after a resume), so steps/s counts only its own steps */
  startStep?: number;
  /** clock in milliseconds (tests) */
  now?: () => number;
}

export interface ProgressUpdate {
  /** steps completed */
  step: number;
  /** loss of this step; smoothed for display */
  loss?: number;
  /** a new dev accuracy in [0, 1] */
  devAcc?: number;
}

export class Progress {
  private readonly stream: ProgressStream;
  private readonly tty: boolean;
  private readonly now: () => number;
  private readonly start: number;
  private readonly startStep: number;
  private step: number;
  private lossEma = 0;
  private lossCount = 0;
  private devAcc: number | undefined;
  private lastDraw = -Infinity;
  private lastPrint: number;
  /** without a terminal: the step of the last status line printed (the final line does not repeat it) */
  private printedStep: number | undefined;
  private drawn = false;

  constructor(private readonly opts: ProgressOptions) {
    this.stream = opts.stream ?? process.stderr;
    this.tty = opts.tty ?? !!this.stream.isTTY;
    this.now = opts.now ?? (() => performance.now());
    this.start = this.now();
    this.lastPrint = this.start;
    this.startStep = opts.startStep ?? 0;
    this.step = this.startStep;
  }

  /** Record progress; draws when due. */
  update(u: ProgressUpdate): void {
    this.step = u.step;
    if (u.loss !== undefined && Number.isFinite(u.loss)) {
      const beta = this.opts.lossSmoothing ?? 0.9;
      this.lossEma = beta * this.lossEma + (1 - beta) * u.loss;
      this.lossCount++;
    }
    if (u.devAcc !== undefined) this.devAcc = u.devAcc;
    if (this.opts.silent) return;
    const t = this.now();
    if (this.tty) {
      const due = t - this.lastDraw >= (this.opts.redrawMs ?? 100);
      if (due || u.devAcc !== undefined || u.step >= this.opts.total) this.redraw(t);
    } else if (u.devAcc !== undefined || t - this.lastPrint >= (this.opts.intervalSeconds ?? 10) * 1000) {
      this.lastPrint = t;
      this.printedStep = this.step;
      this.stream.write(this.line() + '\n');
    }
  }

  /** Print a message on its own line without breaking the progress line. */
  log(message: string): void {
    if (this.opts.silent) return;
    if (this.tty && this.drawn) {
      this.stream.write(`\r\x1b[K${message}\n`);
      this.redraw(this.now());
    } else this.stream.write(message + '\n');
  }

  /**
   * Final line (and newline on a terminal). Without a terminal, when this step's status line was the
   * last one printed (a dev evaluation at the last step prints it), only the message follows: a log
   * shows every status once.
   */
  done(message?: string): void {
    if (this.opts.silent) return;
    const text = this.line() + (message ? ` ${message}` : '');
    if (this.tty) this.stream.write(`\r\x1b[K${text}\n`);
    else if (this.printedStep === this.step) {
      if (message) this.stream.write(`${this.opts.label ? `${this.opts.label} ` : ''}done ${message}\n`);
    } else this.stream.write(text + '\n');
    this.printedStep = this.step;
    this.drawn = false;
  }

  /** Smoothed loss (bias-corrected EMA), NaN before the first loss. */
  smoothedLoss(): number {
    const beta = this.opts.lossSmoothing ?? 0.9;
    return this.lossCount ? this.lossEma / (1 - beta ** this.lossCount) : NaN;
  }

  /** Steps per second done by this process. */
  rate(): number {
    const s = (this.now() - this.start) / 1000;
    return s > 0 ? (this.step - this.startStep) / s : NaN;
  }

  /** The status text. */
  line(): string {
    const { total, label } = this.opts;
    const rate = this.rate();
    const remaining = Math.max(0, total - this.step);
    const eta = remaining === 0 ? 0 : rate > 0 ? remaining / rate : NaN;
    const parts = [
      ...(label ? [label] : []),
      `step ${this.step}/${total}`,
      ...(this.tty ? [bar(this.step / Math.max(1, total))] : [`(${Math.floor((100 * this.step) / Math.max(1, total))}%)`]),
      ...(this.lossCount ? [`loss ${this.smoothedLoss().toFixed(4)}`] : []),
      ...(this.devAcc !== undefined ? [`dev ${formatPercent(this.devAcc)}`] : []),
      `${Number.isFinite(rate) ? rate.toFixed(rate >= 10 ? 1 : 2) : '?'} steps/s`,
      `ETA ${formatDuration(eta)}`,
    ];
    return parts.join(' ');
  }

  private redraw(t: number): void {
    this.lastDraw = t;
    this.drawn = true;
    let text = this.line();
    // a wrapped line cannot be redrawn with \r
    const cols = this.stream.columns;
    if (cols && text.length >= cols) text = text.slice(0, cols - 1);
    this.stream.write(`\r\x1b[K${text}`);
  }
}

function bar(fraction: number, width = 20): string {
  const n = Math.round(Math.min(1, Math.max(0, fraction)) * width);
  return `[${'#'.repeat(n)}${'.'.repeat(width - n)}]`;
}
