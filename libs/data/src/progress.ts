// Progress lines of a pull (`zotune data pull`, and the fetch before a run), shared by the commands.
import type { PullProgress } from './pull';

const size = (n: number) => (n < 1048576 ? `${(n / 1024).toFixed(1)} KiB` : `${(n / 1048576).toFixed(n < 10 * 1048576 ? 2 : 1)} MiB`);

/** Progress of a pull on `out` (stderr): a rewritten line on a terminal, a line per quarter otherwise. */
export function pullProgressPrinter(out: NodeJS.WriteStream = process.stderr): (p: PullProgress) => void {
  const tty = !!out.isTTY;
  let lastPath = '';
  let lastMark = -1;
  let lastTime = 0;
  return (p) => {
    if (p.path !== lastPath) {
      lastPath = p.path;
      lastMark = -1;
    }
    const pct = p.total ? Math.min(100, Math.floor((100 * p.bytes) / p.total)) : null;
    const done = p.total !== null && p.bytes >= p.total;
    const text = `${p.phase.padEnd(8)} ${p.path}  ${size(p.bytes)}${p.total ? ` / ${size(p.total)} (${pct}%)` : ''}`;
    if (tty) {
      const now = Date.now();
      if (!done && now - lastTime < 100) return;
      lastTime = now;
      out.write(`\r\x1b[K${text}${done ? '\n' : ''}`);
    } else {
      const mark = pct === null ? Math.floor(p.bytes / (16 * 1048576)) : Math.floor(pct / 25);
      if (mark === lastMark) return;
      lastMark = mark;
      out.write(text + '\n');
    }
  };
}
