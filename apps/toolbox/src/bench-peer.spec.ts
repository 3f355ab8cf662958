import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { collate } from '@zotune/tasks';
import { PeerProcess, peerBatch, peerPython, peerScript, PEER_BATCH_FORMAT } from './bench-peer';

const work = mkdtempSync(join(tmpdir(), 'zotune-peer-spec-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('the peer batch', () => {
  it('is MeZO\'s layout of the packed batch: one sequence per (example, candidate), prompt + candidate without its last token', () => {
    // two examples with two candidates of different lengths: the packed row is prompt, cand 0, cand 1
    const tb = collate(
      [
        { prompt: [1, 10, 11], candidates: [[20, 21], [30]], gold: 1, truncated: 0 },
        { prompt: [1, 12], candidates: [[20, 21], [30]], gold: 0, truncated: 0 },
      ],
      'classification',
    );
    expect(peerBatch(tb)).toEqual({
      format: PEER_BATCH_FORMAT,
      numCandidates: 2,
      gold: [1, 0],
      sequences: [
        { ids: [1, 10, 11, 20], positions: [2, 3], targets: [20, 21] },
        { ids: [1, 10, 11], positions: [2], targets: [30] },
        { ids: [1, 12, 20], positions: [1, 2], targets: [20, 21] },
        { ids: [1, 12], positions: [1], targets: [30] },
      ],
    });
  });

  it('refuses a batch without candidates (the peer\'s loss is the classification one)', () => {
    const tb = collate([{ prompt: [1, 10], candidates: [[20], [30]], gold: 0, truncated: 0 }], 'generation-lm', { goldOnly: true });
    expect(() => peerBatch(tb)).toThrow(/^--peer: the batch holds 1 candidate per example; the peer runs MeZO's classification loss/);
  });
});

describe('the peer\'s python', () => {
  it('is $ZOTUNE_PYTHON when set; a missing one is one line saying how to make the venv', () => {
    expect(peerPython({ ZOTUNE_PYTHON: process.execPath })).toBe(process.execPath);
    expect(() => peerPython({ ZOTUNE_PYTHON: '/nonexistent/python' })).toThrow(
      /^ZOTUNE_PYTHON=\/nonexistent\/python: no such file; unset it, or make the venv with `bash scripts\/python\/venv.sh` and use the python it prints$/,
    );
  });

  it('else the project venv if it is made, never installing it: an absent one is one line', () => {
    const venv = join(work, 'no-venv');
    expect(() => peerPython({ PATH: process.env.PATH, ZOTUNE_VENV: venv })).toThrow(
      new RegExp(`^--peer: no Python for the peer: ${venv} is not made \\(or not complete\\); make it with: bash scripts/python/venv.sh \\(about 5.6 GB\\), or set ZOTUNE_PYTHON to a python with its packages$`),
    );
    expect(() => peerPython({}, null)).toThrow(/^--peer: scripts\/python\/venv.sh not found; run zotune from its repository, or set ZOTUNE_PYTHON$/);
    expect(() => peerScript(null)).toThrow(/^--peer: scripts\/python\/mezo_peer.py not found; run zotune from its repository/);
    expect(peerScript()).toMatch(/scripts\/python\/mezo_peer\.py$/);
  });

  it('a peer that dies before its first line fails in one line naming the command', async () => {
    await expect(PeerProcess.start('/bin/false', ['--threads', '1'])).rejects.toThrow(/^--peer: the peer failed \(exit 1\) waiting for "ready"; command: \/bin\/false \S+mezo_peer\.py --serve --threads 1$/);
  });
});
