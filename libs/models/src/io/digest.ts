// A content hash of a checkpoint's weights, the base-model fingerprint of policy artifacts:
// sha256 over the tensors in name order, each as "name\nd0,d1,...\n" followed by its fp32 bytes.
import { createHash } from 'node:crypto';
import type { Checkpoint, HostTensor } from '../checkpoint';

export function checkpointDigest(ckpt: Pick<Checkpoint, 'tensors'>): string {
  return tensorsDigest([...ckpt.tensors.keys()], (name) => ckpt.tensors.get(name)!);
}

/** checkpointDigest over tensors fetched one at a time by name (`get` may build each on the spot). */
export function tensorsDigest(names: readonly string[], get: (name: string) => HostTensor): string {
  const h = createHash('sha256');
  for (const name of [...names].sort()) {
    const t = get(name);
    h.update(`${name}\n${t.shape.join(',')}\n`);
    h.update(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength));
  }
  return h.digest('hex');
}
