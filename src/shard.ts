import { createHash } from 'node:crypto';
import { CodedError } from './errors.js';

export interface Shard {
  index: number;
  count: number;
}

export const SHARD_ERROR_CODES = ['format', 'count', 'index', 'ordinal'] as const;
export type ShardErrorCode = (typeof SHARD_ERROR_CODES)[number];

/** A `--shard` value that cannot be used: a usage error, the message says what to write. */
export class ShardError extends CodedError<ShardErrorCode> {}

/**
 * The shard a mailbox belongs to, as Prometheus' `hashmod` relabelling computes it: the
 * last 8 bytes of the MD5 of the name (its UTF-8 bytes, as Go's []byte(string)) as a
 * big-endian uint64, modulo the shard count. Stable across restarts and versions; N
 * replicas cover every mailbox exactly once, and a Prometheus that shards its scrapes with
 * `hashmod` on the mailbox label puts each one on the same index.
 */
export function shardOf(name: string, count: number): number {
  if (!Number.isSafeInteger(count) || count < 1)
    throw new ShardError('count', `shard count must be a whole number of 1 or more, got ${count}`);
  const digest = createHash('md5').update(name, 'utf8').digest();
  return Number(digest.readBigUInt64BE(8) % BigInt(count));
}

export function inShard<T extends { name: string }>(
  items: readonly T[],
  shard: Shard | undefined,
): T[] {
  if (!shard || shard.count <= 1) return [...items];
  return items.filter((item) => shardOf(item.name, shard.count) === shard.index);
}

/** Where `auto/N` looks for the pod name, first set (non-empty) one wins. */
const POD_NAME_VARIABLES = ['POD_NAME', 'HOSTNAME'] as const;

/**
 * Parses `--shard I/N`; `auto/N` takes I from the trailing ordinal of the pod name
 * (StatefulSet pods are NAME-0, NAME-1, ...), read from POD_NAME, else HOSTNAME (an empty
 * variable counts as unset). Throws a ShardError whose message names the fix.
 */
export function parseShard(text: string, env: NodeJS.ProcessEnv = process.env): Shard {
  const m = /^(auto|\d+)\/(\d+)$/.exec(text.trim());
  if (!m)
    throw new ShardError(
      'format',
      `--shard: expected INDEX/COUNT or auto/COUNT, got ${JSON.stringify(text)}`,
    );
  const count = Number(m[2]);
  if (!Number.isSafeInteger(count) || count < 1)
    throw new ShardError('count', `--shard: COUNT must be 1 or more, got ${JSON.stringify(text)}`);
  if (m[1] !== 'auto') {
    const index = Number(m[1]);
    if (index >= count)
      throw new ShardError(
        'index',
        `--shard: INDEX ${m[1]} is not below COUNT ${count} (the shards are 0 to ${count - 1})`,
      );
    return { index, count };
  }
  const variable = POD_NAME_VARIABLES.find((name) => (env[name] ?? '') !== '');
  if (variable === undefined)
    throw new ShardError(
      'ordinal',
      `--shard auto/${count}: no pod name to take the ordinal from: set POD_NAME (or HOSTNAME) to NAME-ORDINAL`,
    );
  const podName = env[variable] ?? '';
  const ordinal = /-(\d+)$/.exec(podName)?.[1];
  if (ordinal === undefined)
    throw new ShardError(
      'ordinal',
      `--shard auto/${count}: ${variable}=${JSON.stringify(podName)} does not end in -ORDINAL (such as pop3-monitor-0)`,
    );
  const index = Number(ordinal);
  if (index >= count)
    throw new ShardError(
      'ordinal',
      `--shard auto/${count}: the ordinal ${ordinal} of ${variable}=${JSON.stringify(podName)} is not below COUNT ${count} (COUNT must be the number of replicas)`,
    );
  return { index, count };
}
