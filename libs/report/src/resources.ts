// Resource figures that runs report in their summary.

/** Peak resident set size of this process so far, in MiB (Linux reports maxRSS in KiB). */
export function peakRssMiB(): number {
  return process.resourceUsage().maxRSS / 1024;
}

/** The process event memoryMark emits (zotune bench memory's child hook listens for it). */
export const MEMORY_MARK_EVENT = 'zotune:memory-mark';

/**
 * Tell a listening memory probe (the hook `zotune bench memory` injects into its children) that a
 * phase of the command ended, with what the command knows of its memory (weightsBytes: the model's
 * parameters in fp32). Costs nothing without a listener.
 */
export function memoryMark(label: string, facts: Record<string, number> = {}): void {
  if (process.listenerCount(MEMORY_MARK_EVENT) > 0) (process.emit as (event: string, ...args: unknown[]) => boolean)(MEMORY_MARK_EVENT, label, facts);
}
