// Opening a registry by location (directory or http URL), the shipped default, and the two
// operations built on top: loading a policy from any source, and copying one between registries.
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { decodePolicyArtifact, type PolicyArtifact } from '@zotune/artifacts';
import { isZotuneWorkspace, sha256Hex } from '@zotune/io';
import { RegistryError } from './errors';
import { LocalStore } from './local-store';
import type { LockOptions } from './lock';
import { DEFAULT_POLICY_NAME, DEFAULT_POLICY_TAG, formatRef, parseSource, type PolicyRef, type PolicySource } from './refs';
import { RemoteRegistry } from './remote';
import type { PolicyRegistry, PublishResult } from './types';

/** This package's directory: src/open.ts and the bundle dist/index.js both sit one below it. */
const PACKAGE_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/**
 * The store that ships with zotune (it holds each model's default policy), or $ZOTUNE_REGISTRY when set.
 * Resolved from this package, never from a guessed repository root (installed, that would be
 * node_modules/): in the workspace, its policies/ two levels up (libs/registry, or an app's bundle that
 * inlines this code); installed from the tarball, the copy inside the package (tools/prepack.mjs puts
 * it there; publish to a store of your own, not into node_modules).
 */
export function defaultRegistryLocation(): string {
  const env = process.env.ZOTUNE_REGISTRY;
  if (env !== undefined && env.trim() !== '') return env;
  const workspace = join(PACKAGE_DIR, '..', '..');
  return isZotuneWorkspace(workspace) ? join(workspace, 'policies') : join(PACKAGE_DIR, 'policies');
}

/** A URL (scheme://…) rather than a directory; only http and https are then accepted. */
export function isRemoteLocation(location: string): boolean {
  return /^[a-z][a-z0-9+.-]*:\/\//i.test(location);
}

/** A local store for a directory, a remote client for an http(s) URL. */
export function openRegistry(location: string = defaultRegistryLocation(), opts: { token?: string; lock?: LockOptions } = {}): PolicyRegistry {
  return isRemoteLocation(location) ? new RemoteRegistry(location, { token: opts.token }) : new LocalStore(location, opts.lock);
}

export interface LoadedPolicy {
  artifact: PolicyArtifact;
  bytes: Uint8Array;
  /** sha256:<hex> of the file */
  digest: string;
  /** the reference it was loaded by, when it came from a registry by name */
  ref?: string;
  /** where it came from: a file path, or registry location + reference */
  source: string;
}

/** Read a policy from a source: a file, or a digest / reference in `registry`. */
export async function loadPolicySource(source: PolicySource, registry: PolicyRegistry | string = defaultRegistryLocation()): Promise<LoadedPolicy> {
  if (source.kind === 'file') {
    let bytes: Uint8Array;
    try {
      bytes = readFileSync(source.path);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      throw new RegistryError('not-found', `${source.path}: cannot read the policy file (${code === 'ENOENT' ? 'no such file' : (code ?? String(e))})`);
    }
    return { artifact: decodePolicyArtifact(bytes, source.path), bytes, digest: `sha256:${sha256Hex(bytes)}`, source: source.path };
  }
  const reg = typeof registry === 'string' ? openRegistry(registry) : registry;
  const f = await reg.fetch(source);
  const name = f.ref ?? f.digest;
  return { artifact: decodePolicyArtifact(f.bytes, `${reg.location} ${name}`), bytes: f.bytes, digest: f.digest, ...(f.ref ? { ref: f.ref } : {}), source: `${reg.location} ${name}` };
}

/** `loadPolicy('stories260K')`, `loadPolicy('sha256:…')`, `loadPolicy('./p.zpol')`. */
export function loadPolicy(spec: string, opts: { registry?: PolicyRegistry | string; cwd?: string } = {}): Promise<LoadedPolicy> {
  return loadPolicySource(parseSource(spec, opts.cwd), opts.registry ?? defaultRegistryLocation());
}

/**
 * Copy a policy from a source into a registry. Its reference there is `as`, else the reference it
 * was loaded by, else MODEL/default:latest with the artifact's base model.
 */
export async function copyPolicy(
  source: PolicySource,
  from: PolicyRegistry | string,
  to: PolicyRegistry,
  opts: { as?: PolicyRef; force?: boolean } = {},
): Promise<PublishResult & { source: string }> {
  const loaded = await loadPolicySource(source, from);
  const fromRef = source.kind === 'ref' ? source.ref : undefined;
  const ref = opts.as ?? fromRef ?? { model: loaded.artifact.fingerprint.model, name: DEFAULT_POLICY_NAME, tag: DEFAULT_POLICY_TAG };
  const result = await to.publish(ref, loaded.bytes, { force: opts.force });
  return { ...result, ref: formatRef(ref), source: loaded.source };
}
