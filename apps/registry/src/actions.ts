// The code of the policy and registry commands, loaded by their actions when one runs (the
// declarations are policy-commands.ts and serve-command.ts): the registry and artifacts libs, zod and
// msgpackr stay out of `zotune --help`.
import type { AddressInfo } from 'node:net';
import { resolve } from 'node:path';
import { decodePolicyArtifact, summarizePolicyArtifact } from '@zotune/artifacts';
import { copyPolicy, formatRef, LocalStore, loadPolicySource, RegistryError, startRegistryServer, type PolicyRegistry, type RunningRegistryServer } from '@zotune/registry';
import { emit, parseNumber, UserError } from '@zotune/report';
import { localDir, readToken, refArg, registryOf, short, sourceArg } from './options';

/** The flags every policy command has. */
export interface Common {
  registry?: string;
  json?: boolean;
}

export async function policyList(opts: Common): Promise<void> {
    const reg = registryOf(opts.registry);
    const policies = await reg.list();
    const human = policies.length
      ? policies.map((p) => `${p.ref.padEnd(40)} ${short(p.digest)}  ${p.createdAt}  ${p.size} bytes`).join('\n')
      : `no policies in ${reg.location}`;
    emit({ registry: reg.location, policies }, !!opts.json, human);
}

export async function policyShow(refText: string, opts: Common): Promise<void> {
    const source = sourceArg('REF', refText);
    let shown;
    if (source.kind === 'file') {
      const loaded = await loadPolicySource(source);
      shown = { file: source.path, digest: loaded.digest, size: loaded.bytes.length, ...summarizePolicyArtifact(decodePolicyArtifact(loaded.bytes, source.path)) };
    } else {
      const reg = registryOf(opts.registry);
      shown = { registry: reg.location, ...(await reg.show(source)) };
    }
    const human = [
      `${'ref' in shown && shown.ref ? shown.ref : refText}  ${shown.digest}`,
      `model     ${shown.fingerprint.model} (${shown.fingerprint.family}, ${shown.blockCount} blocks, weights ${shown.fingerprint.weightsSha256.slice(0, 12)}…)`,
      `network   ${shown.architecture.type} ${shown.architecture.inputs}→${shown.architecture.hidden}→1 ${shown.architecture.activation}, ${shown.parameters} parameters`,
      `tasks     ${shown.training.tasks.join(', ') || '(none)'}`,
      `created   ${shown.createdAt}`,
      `metrics   ${JSON.stringify(shown.training.metrics)}`,
      ...(shown.name ? [`name      ${shown.name}`] : []),
      ...(shown.description ? [`about     ${shown.description}`] : []),
    ].join('\n');
    emit(shown, !!opts.json, human);
}

export async function policyPublish(sourceText: string, opts: Common & { from?: string; as?: string; tokenFile?: string; force?: boolean }): Promise<void> {
    const source = sourceArg('SOURCE', sourceText);
    const as = opts.as === undefined ? undefined : refArg('--as', opts.as);
    const to = registryOf(opts.registry, opts.tokenFile);
    const from: PolicyRegistry | undefined = source.kind === 'file' ? undefined : registryOf(opts.from);
    const r = await copyPolicy(source, from ?? to, to, { as, force: opts.force });
    emit({ ...r, registry: to.location }, !!opts.json, `${r.status} ${r.ref} ${short(r.digest)} in ${to.location}`);
}

export async function policyPull(refText: string, opts: Common & { to: string; as?: string; force?: boolean }): Promise<void> {
    const source = sourceArg('REF', refText);
    const as = opts.as === undefined ? undefined : refArg('--as', opts.as);
    const from = registryOf(opts.registry);
    const to = new LocalStore(localDir('--to', opts.to));
    const r = await copyPolicy(source, from, to, { as, force: opts.force });
    emit({ ...r, from: from.location, to: to.location }, !!opts.json, `${r.status} ${r.ref} ${short(r.digest)} in ${to.location}`);
}

export async function policyVerify(opts: Common): Promise<void> {
    const report = await registryOf(opts.registry).verify();
    const head = `${report.ok ? 'ok' : 'FAILED'}: ${report.refs} references, ${report.blobs} blobs${report.orphans ? `, ${report.orphans} unreferenced` : ''} in ${report.registry}`;
    emit(report, !!opts.json, [head, ...report.problems.map((p) => `  ${p}`)].join('\n'));
    if (!report.ok) {
      if (!opts.json) process.stderr.write(`zotune: ${report.problems.length} problem(s) in ${report.registry}\n`);
      process.exitCode = 1;
    }
}

export async function policyRm(refText: string, opts: Common & { tokenFile?: string }): Promise<void> {
    if (refText.startsWith('sha256:')) throw new UserError(`REF ${refText}: rm removes a reference (MODEL/NAME:TAG), not a digest`, 2);
    const ref = refArg('REF', refText);
    const r = await registryOf(opts.registry, opts.tokenFile).remove(ref);
    emit(r, !!opts.json, `removed ${formatRef(ref)} (${short(r.digest)}${r.blobRemoved ? ', blob deleted' : ''})`);
}

export async function registryServe(opts: { root: string; port: string; host: string; tokenFile?: string; maxBytes: string; quiet?: boolean; json?: boolean }): Promise<void> {
    const port = parseNumber('--port', opts.port, { int: true, min: 0, max: 65535 });
    const maxBytes = parseNumber('--max-bytes', opts.maxBytes, { int: true, min: 1 });
    const root = localDir('--root', opts.root);
    // the env fallback of readToken is for clients; a server takes its token from a file only
    const token = opts.tokenFile === undefined ? undefined : readToken('--token-file', opts.tokenFile);
    const log = opts.quiet ? undefined : (line: string) => process.stderr.write(`${line}\n`);
    // refuse a directory that is not a store now, not on the first request
    await new LocalStore(root).list().catch((e: unknown) => {
      if (!(e instanceof RegistryError && e.kind === 'not-found')) throw new UserError(`--root: ${(e as Error).message}`, 2);
    });
    let running: RunningRegistryServer;
    try {
      running = await startRegistryServer({ root, token, maxBytes, host: opts.host, port, log });
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      throw new UserError(`--port ${port} on ${opts.host}: cannot listen (${code ?? (e as Error).message})`);
    }
    const { port: bound } = running.server.address() as AddressInfo;
    const result = { url: running.url, root: resolve(root), host: opts.host, port: bound, writes: token ? 'token' : 'refused', maxBytes };
    emit(result, !!opts.json, `serving ${root} at ${running.url} (writes ${token ? 'need the bearer token' : 'refused: no --token-file'})`);
    await new Promise<void>((done) => {
      const stop = () => {
        process.off('SIGINT', stop);
        process.off('SIGTERM', stop);
        running.close().then(done, done);
      };
      process.on('SIGINT', stop);
      process.on('SIGTERM', stop);
    });
}
