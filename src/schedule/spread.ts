import { createHash } from 'node:crypto';

/**
 * A stable position in [0, 1) for a mailbox name: the first 48 bits of its SHA-1. Pure, so
 * the same name keeps its slot across restarts and instances; SHA-1 (not FNV) because
 * names are often sequential (`box-1`, `box-2`) and FNV clusters those.
 */
export function spreadFraction(name: string): number {
  return createHash('sha1').update(name, 'utf8').digest().readUIntBE(0, 6) / 2 ** 48;
}

/** The name's offset into a window of `intervalMs`: a whole number of ms in [0, intervalMs). */
export function spreadOffsetMs(name: string, intervalMs: number): number {
  if (!Number.isFinite(intervalMs) || intervalMs <= 0) return 0;
  return Math.floor(spreadFraction(name) * intervalMs);
}
