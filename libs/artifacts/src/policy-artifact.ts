// The policy file: a msgpack envelope {magic, formatVersion, bodySha256, body} whose body is the
// msgpack of the artifact's content. The magic and version are readable without trusting the rest;
// the body's sha256 catches corruption that msgpack alone would decode silently (a flipped bit in
// a weight). A file is addressed by the sha256 of all its bytes (policyDigest).
import { readFileSync } from 'node:fs';
import { sha256Hex, writeFileAtomic } from '@zotune/io';
import type { z } from 'zod';
import { isPlainObject, packValue, startsWithMap, unpackValue } from './codec';
import {
  POLICY_FEATURE_SETS,
  POLICY_FORMAT_VERSION,
  POLICY_MAGIC,
  PolicyArtifactSchema,
  type FingerprintBlock,
  type PolicyArchitecture,
  type PolicyArtifact,
  type PolicyTraining,
} from './policy-schema';

const WHAT = 'a zotune policy artifact';

/** Sizes of one block's MLP arrays for an architecture. */
export function mlpSizes(arch: Pick<PolicyArchitecture, 'inputs' | 'hidden'>): { w1: number; b1: number; w2: number; b2: number } {
  return { w1: arch.inputs * arch.hidden, b1: arch.hidden, w2: arch.hidden, b2: 1 };
}

/** Digest naming a policy file: `sha256:<hex>` of its encoded bytes. */
export function policyDigest(bytes: Uint8Array): string {
  return `sha256:${sha256Hex(bytes)}`;
}

/** Encode an artifact (validated first: an invalid artifact is never written). */
export function encodePolicyArtifact(artifact: PolicyArtifact): Uint8Array {
  const a = validatePolicyArtifact(artifact, 'policy artifact');
  // canonical key order, weights in the model's block order, no undefined fields
  const body: Record<string, unknown> = {
    fingerprint: {
      model: a.fingerprint.model,
      family: a.fingerprint.family,
      blocks: a.fingerprint.blocks.map((b) => ({ name: b.name, shape: [...b.shape], kind: b.kind })),
      weightsSha256: a.fingerprint.weightsSha256,
    },
    architecture: {
      type: a.architecture.type, inputs: a.architecture.inputs, hidden: a.architecture.hidden, activation: a.architecture.activation,
      // only a curvature policy writes these: a base policy's bytes (and digest) are those of format 1 before them
      ...(a.architecture.features !== undefined ? { features: a.architecture.features } : {}),
      ...(a.architecture.probe !== undefined ? { probe: { delta: a.architecture.probe.delta, probes: a.architecture.probe.probes, examples: a.architecture.probe.examples } } : {}),
    },
    weights: Object.fromEntries(
      a.fingerprint.blocks.map((b) => {
        const w = a.weights[b.name]!;
        return [b.name, { w1: w.w1, b1: w.b1, w2: w.w2, b2: w.b2 }];
      }),
    ),
    training: { config: a.training.config, tasks: a.training.tasks, metrics: a.training.metrics },
    createdAt: a.createdAt,
  };
  if (a.name !== undefined) body.name = a.name;
  if (a.description !== undefined) body.description = a.description;
  const bodyBytes = packValue(body);
  return packValue({ magic: POLICY_MAGIC, formatVersion: POLICY_FORMAT_VERSION, bodySha256: sha256Hex(bodyBytes), body: bodyBytes });
}

/** Decode and validate a policy file; `source` (a path or a reference) names it in errors. */
export function decodePolicyArtifact(bytes: Uint8Array, source: string): PolicyArtifact {
  if (bytes.length > 0 && !startsWithMap(bytes)) throw new Error(`${source}: not ${WHAT} (the file does not start with a msgpack map)`);
  const outer = unpackValue(bytes, source, WHAT);
  if (!isPlainObject(outer)) throw new Error(`${source}: not ${WHAT} (the file holds a msgpack ${describe(outer)}, expected a map)`);
  if (outer.magic !== POLICY_MAGIC)
    throw new Error(`${source}: not ${WHAT} (magic ${JSON.stringify(outer.magic) ?? 'missing'}, expected "${POLICY_MAGIC}")`);
  if (outer.formatVersion !== POLICY_FORMAT_VERSION)
    throw new Error(`${source}: unknown policy format version ${JSON.stringify(outer.formatVersion) ?? '(missing)'}; this zotune reads version ${POLICY_FORMAT_VERSION}`);
  if (!(outer.body instanceof Uint8Array)) throw new Error(`${source}: corrupted policy artifact: missing field body`);
  if (typeof outer.bodySha256 !== 'string') throw new Error(`${source}: corrupted policy artifact: missing field bodySha256`);
  const actual = sha256Hex(outer.body);
  if (actual !== outer.bodySha256)
    throw new Error(`${source}: corrupted policy artifact: the body's sha256 is ${actual.slice(0, 12)}…, the header says ${String(outer.bodySha256).slice(0, 12)}…`);
  const body = unpackValue(outer.body, `${source} (body)`, WHAT);
  if (!isPlainObject(body)) throw new Error(`${source}: corrupted policy artifact: the body is a msgpack ${describe(body)}, expected a map`);
  return validatePolicyArtifact({ ...body, magic: outer.magic, formatVersion: outer.formatVersion }, source);
}

/** Read and decode a policy file from disk. */
export function readPolicyArtifactFile(path: string): PolicyArtifact {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new Error(`${path}: cannot read policy artifact (${code === 'ENOENT' ? 'no such file' : (code ?? String(e))})`);
  }
  return decodePolicyArtifact(bytes, path);
}

/** Encode and write a policy file atomically; returns its digest. */
export function writePolicyArtifactFile(path: string, artifact: PolicyArtifact): { digest: string; bytes: number } {
  const bytes = encodePolicyArtifact(artifact);
  writeFileAtomic(path, bytes);
  return { digest: policyDigest(bytes), bytes: bytes.length };
}

/**
 * Check an artifact-shaped value: structure (zod) and the rules that tie the weights to the header:
 * one MLP per fingerprint block and no other, arrays of the architecture's sizes, finite values.
 */
export function validatePolicyArtifact(value: unknown, source: string): PolicyArtifact {
  const parsed = PolicyArtifactSchema.safeParse(value);
  if (!parsed.success) throw new Error(`${source}: ${describeIssue(parsed.error.issues[0]!, value)}`);
  const a = parsed.data;
  const names = new Set<string>();
  for (const b of a.fingerprint.blocks) {
    if (names.has(b.name)) throw new Error(`${source}: the fingerprint lists block ${b.name} twice`);
    names.add(b.name);
  }
  const held = Object.keys(a.weights);
  if (held.length !== names.size) {
    const missing = [...names].find((n) => !Object.hasOwn(a.weights, n));
    const extra = held.find((n) => !names.has(n));
    const which = missing !== undefined ? `no weights for block ${missing}` : `weights for block ${extra} which the header does not list`;
    throw new Error(`${source}: the header lists ${names.size} blocks but the file holds weights for ${held.length} (${which})`);
  }
  const set = a.architecture.features ?? 'base';
  if (a.architecture.inputs !== POLICY_FEATURE_SETS[set])
    throw new Error(`${source}: architecture.inputs is ${a.architecture.inputs}, the ${set} feature set has ${POLICY_FEATURE_SETS[set]}`);
  if ((set === 'curvature') !== (a.architecture.probe !== undefined))
    throw new Error(`${source}: architecture.probe: ${set === 'curvature' ? 'missing; a curvature policy must record its probe (delta, probes, examples)' : `present, but the feature set is ${set}`}`);
  const sizes = mlpSizes(a.architecture);
  for (const name of names) {
    const w = a.weights[name];
    if (w === undefined || !Object.hasOwn(a.weights, name)) {
      const extra = held.find((n) => !names.has(n));
      throw new Error(`${source}: no weights for block ${name} (the file holds weights for ${extra} instead, which the header does not list)`);
    }
    for (const key of ['w1', 'b1', 'w2', 'b2'] as const) {
      const arr = w[key];
      if (arr.length !== sizes[key])
        throw new Error(
          `${source}: block ${name}: ${key} holds ${arr.length} floats, the header (inputs ${a.architecture.inputs}, hidden ${a.architecture.hidden}) needs ${sizes[key]}`,
        );
      for (let i = 0; i < arr.length; i++) {
        if (!Number.isFinite(arr[i]!)) throw new Error(`${source}: block ${name}: ${key}[${i}] is ${arr[i]}, expected a finite weight`);
      }
    }
  }
  return a;
}

/** An artifact's metadata without its weights: what `policy show` prints. */
export interface PolicySummary {
  magic: string;
  formatVersion: number;
  name?: string;
  description?: string;
  createdAt: string;
  model: string;
  fingerprint: { model: string; family: string; weightsSha256: string; blocks: FingerprintBlock[] };
  architecture: PolicyArchitecture;
  training: PolicyTraining;
  /** number of per-block networks */
  blockCount: number;
  /** total number of policy weights */
  parameters: number;
}

export function summarizePolicyArtifact(a: PolicyArtifact): PolicySummary {
  const s = mlpSizes(a.architecture);
  const perBlock = s.w1 + s.b1 + s.w2 + s.b2;
  const out: PolicySummary = {
    magic: a.magic,
    formatVersion: a.formatVersion,
    createdAt: a.createdAt,
    model: a.fingerprint.model,
    fingerprint: { model: a.fingerprint.model, family: a.fingerprint.family, weightsSha256: a.fingerprint.weightsSha256, blocks: a.fingerprint.blocks },
    architecture: a.architecture,
    training: a.training,
    blockCount: a.fingerprint.blocks.length,
    parameters: perBlock * a.fingerprint.blocks.length,
  };
  if (a.name !== undefined) out.name = a.name;
  if (a.description !== undefined) out.description = a.description;
  return out;
}

function describe(v: unknown): string {
  if (v === null) return 'nil';
  if (Array.isArray(v)) return 'array';
  if (v instanceof Uint8Array) return 'byte string';
  return typeof v;
}

/** `a.b["model.layers.0.w"].w1`: dotted for identifiers, bracketed otherwise (block names hold dots). */
function fieldPath(path: PropertyKey[]): string {
  let out = '';
  for (const k of path) {
    if (typeof k === 'number') out += `[${k}]`;
    else if (/^[A-Za-z_$][\w$]*$/.test(String(k))) out += (out ? '.' : '') + String(k);
    else out += `[${JSON.stringify(String(k))}]`;
  }
  return out || '(root)';
}

function describeIssue(issue: z.core.$ZodIssue, value: unknown): string {
  const field = fieldPath(issue.path);
  let v: unknown = value;
  for (const k of issue.path) v = isPlainObject(v) || Array.isArray(v) ? (v as Record<PropertyKey, unknown>)[k as string] : undefined;
  if (v === undefined && issue.code === 'invalid_type') return `missing field ${field}`;
  return `field ${field}: ${issue.message}${v !== undefined && typeof v !== 'object' ? ` (got ${JSON.stringify(v)})` : ''}`;
}
