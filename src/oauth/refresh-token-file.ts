/**
 * Writes a rotated refresh token back to its file: a temporary file beside it (0600),
 * fsync, rename over the old one, fsync the folder. A crash leaves the old token or the
 * new one, never half of either; nobody else can read it at any moment.
 */
import { open, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { Secret } from '../secret.js';

export type WriteRefreshToken = (file: string, token: Secret) => Promise<void>;

let sequence = 0;

export const writeRefreshTokenFile: WriteRefreshToken = async (file, token) => {
  const dir = dirname(file);
  sequence += 1;
  const tmp = join(dir, `.${basename(file)}.tmp-${process.pid}-${sequence}`);
  try {
    const handle = await open(tmp, 'wx', 0o600);
    try {
      await handle.writeFile(`${token.reveal()}\n`, 'utf8');
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(tmp, file);
  } catch (error) {
    await unlink(tmp).catch(() => undefined);
    throw error;
  }
  // The rename is durable once the folder entry is; some file systems cannot fsync a folder.
  const folder = await open(dir, 'r').catch(() => null);
  await folder
    ?.sync()
    .catch(() => undefined)
    .finally(() => folder.close());
};
