import { createHash } from 'node:crypto';

export interface Shard {
  index: number;
  count: number;
}

/**
 * The shard a mailbox belongs to, as Prometheus' `hashmod` relabelling computes it: the
 * last 8 bytes of the MD5 of the name as a big-endian integer, modulo the shard count.
 * Stable across restarts and versions; N replicas cover every mailbox exactly once.
 */
export function shardOf(name: string, count: number): number {
  const digest = createHash('md5').update(name).digest();
  return Number(digest.readBigUInt64BE(8) % BigInt(count));
}

export function inShard<T extends { name: string }>(
  items: readonly T[],
  shard: Shard | undefined,
): T[] {
  if (!shard || shard.count <= 1) return [...items];
  return items.filter((item) => shardOf(item.name, shard.count) === shard.index);
}

/**
 * Parses `--shard I/N`; `auto/N` takes I from the trailing ordinal of the pod name
 * (StatefulSet pods are NAME-0, NAME-1, ...), read from POD_NAME or HOSTNAME.
 */
export function parseShard(text: string, env: NodeJS.ProcessEnv = process.env): Shard {
  const m = /^(auto|\d+)\/(\d+)$/.exec(text.trim());
  if (!m)
    throw new Error(`--shard: expected INDEX/COUNT or auto/COUNT, got ${JSON.stringify(text)}`);
  const count = Number(m[2]);
  let index: number;
  if (m[1] === 'auto') {
    const name = env.POP3_MONITOR_POD_NAME ?? env.POD_NAME ?? env.HOSTNAME ?? '';
    const ordinal = /-(\d+)$/.exec(name);
    if (!ordinal)
      throw new Error(
        `--shard auto/${count}: cannot take an ordinal from the pod name ${JSON.stringify(name)} (set POD_NAME)`,
      );
    index = Number(ordinal[1]);
  } else {
    index = Number(m[1]);
  }
  if (count < 1 || index >= count)
    throw new Error(`--shard: index ${index} is not below count ${count}`);
  return { index, count };
}
