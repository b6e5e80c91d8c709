import { writeFileAtomic } from '../atomic-file.js';
import type { Secret } from '../secret.js';

export type WriteRefreshToken = (file: string, token: Secret) => Promise<void>;

/**
 * Writes a rotated refresh token back to its file with writeFileAtomic (0600, fsync,
 * rename, directory fsync): a crash leaves the old token or the new one, never half of
 * either, and nobody else can read it at any moment.
 */
export const writeRefreshTokenFile: WriteRefreshToken = (file, token) =>
  writeFileAtomic(file, `${token.reveal()}\n`);
