import { mkdir, open, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

/*
 * The one way this code replaces a file on disk (alert state, outbox items, the
 * capability cache), with one durability policy: a crash at any moment leaves the old
 * content or the new, never part of either, and once the write resolved it survives a
 * power cut.
 */

let tmpSeq = 0;

/** A temporary file writeFileAtomic left behind (a crash between its write and rename). */
export function isAtomicTemp(name: string): boolean {
  return /^\..+\.tmp-\d+-\d+$/.test(name);
}

/**
 * Replaces `path` with `text`: a temporary file beside it (mode 0600) is written and
 * fsync'ed, renamed over `path`, and the directory fsync'ed so the rename is durable too.
 * The directory is created when missing; a failed write removes its temporary file.
 */
export async function writeFileAtomic(path: string, text: string): Promise<void> {
  const dir = dirname(path);
  await mkdir(dir, { recursive: true });
  tmpSeq += 1;
  const tmp = join(dir, `.${basename(path)}.tmp-${process.pid}-${tmpSeq}`);
  try {
    const handle = await open(tmp, 'w', 0o600);
    try {
      await handle.writeFile(text, 'utf8');
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(tmp, path);
  } catch (err) {
    await unlink(tmp).catch(() => undefined);
    throw err;
  }
  await syncDirectory(dir);
}

/** Makes renames and removals in `dir` durable; where a directory cannot be fsync'ed, nothing. */
export async function syncDirectory(dir: string): Promise<void> {
  let handle: Awaited<ReturnType<typeof open>> | undefined;
  try {
    handle = await open(dir, 'r');
    await handle.sync();
  } catch {
    // EISDIR/EPERM/EINVAL on platforms without directory fsync.
  } finally {
    await handle?.close().catch(() => undefined);
  }
}
