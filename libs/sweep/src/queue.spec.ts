import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { jobData, parseJobData, redactUrl, redisOptions } from './queue';
import { expandRuns, parseSpec } from './spec';

const work = mkdtempSync(join(tmpdir(), 'zotune-sweep-queue-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const policy = join(work, 'init.zpol');
writeFileSync(policy, 'policy bytes');
const runs = expandRuns(
  parseSpec(
    {
      grid: { task: ['cb'], method: ['mezo', 'init'], seed: [0], forwardPasses: [10] },
      methods: { mezo: { estimator: 'mezo' }, init: { estimator: 'mezo', policy: policy } },
    },
    'spec',
  ),
);

describe('queue jobs', () => {
  it('a job round-trips through JSON and validates; a policy file travels inside it', () => {
    const d = JSON.parse(JSON.stringify(jobData(runs[1])));
    const p = parseJobData(d);
    expect(p.run.key).toBe(runs[1].key);
    expect(p.policyBytes!.toString()).toBe('policy bytes');
    expect(parseJobData(JSON.parse(JSON.stringify(jobData(runs[0])))).policyBytes).toBeUndefined();
  });

  it('refuses a job that does not validate, naming the field', () => {
    const d = JSON.parse(JSON.stringify(jobData(runs[0])));
    expect(() => parseJobData({ ...d, config: { ...d.config, task: '/etc/passwd' } })).toThrow(/^job: config\.task: expected a name/);
    expect(() => parseJobData({ ...d, config: { ...d.config, model: '../models/x' } })).toThrow(/^job: config\.model: /);
    expect(() => parseJobData({ ...d, extra: 1 })).toThrow(/^job: unknown field "extra"/);
    // a config that is not the key's (tampered, or another version's): refused
    expect(() => parseJobData({ ...d, config: { ...d.config, seed: 1 } })).toThrow(/^job: key: .* is not the key of its config/);
    const withPolicy = JSON.parse(JSON.stringify(jobData(runs[1])));
    withPolicy.policyFile.base64 = Buffer.from('other bytes').toString('base64');
    expect(() => parseJobData(withPolicy)).toThrow(/policyFile: its bytes do not hash to the config's policy digest/);
  });

  it('redis URLs: redis:// and rediss:// (TLS) only; the password never shown', () => {
    expect(redisOptions('redis://:pw@127.0.0.1:6379').options).toEqual({});
    expect(redisOptions('rediss://user:pw@example.org:6380/2').options).toEqual({ tls: { servername: 'example.org' } });
    expect(() => redisOptions('http://:secret@x')).toThrow('--queue: expected a redis:// or rediss:// URL, got "http://:***@x"');
    expect(redactUrl('redis://:secret@host:1')).toBe('redis://:***@host:1');
    expect(redactUrl('rediss://user:secret@host:1/0')).toBe('rediss://user:***@host:1/0');
    expect(() => redisOptions('not a url :secret@')).toThrow(/^--queue: expected redis:/);
  });
});
