import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { Secret } from '../secret.js';
import type { ConfigIssue } from './config-error.js';

export type ReadFile = (path: string) => string;

/** The shortest HMAC key a delivery loop accepts. */
export const MIN_HMAC_KEY_OCTETS = 16;

export const readUtf8File: ReadFile = (path) => readFileSync(path, 'utf8');

const FS_REASONS: Record<string, string> = {
  ENOENT: 'no such file',
  EACCES: 'permission denied',
  EPERM: 'permission denied',
  EISDIR: 'is a directory',
  ENOTDIR: 'a parent is not a directory',
  ELOOP: 'too many symbolic links',
};

/** Why a read failed, from the error's code only (its message could quote anything). */
export function describeReadError(error: unknown): string {
  const code =
    typeof error === 'object' && error !== null && 'code' in error && typeof error.code === 'string'
      ? error.code
      : undefined;
  if (code === undefined) return 'unreadable';
  const reason = FS_REASONS[code];
  return reason === undefined ? code : `${reason} (${code})`;
}

/** Reads *_file settings relative to one folder and reports problems as issues. */
export class FileReader {
  readonly issues: ConfigIssue[] = [];
  /** Everything read as a secret, so error messages can be checked against it. */
  readonly secrets: string[] = [];

  constructor(
    private readonly baseDir: string,
    private readonly readFile: ReadFile,
  ) {}

  resolve(file: string): string {
    return resolve(this.baseDir, file);
  }

  private read(path: string, file: string): string | undefined {
    try {
      return this.readFile(this.resolve(file));
    } catch (error) {
      // The path as written, never the content: fixtures and users see the same text.
      this.issues.push({ path, message: `cannot read ${file}: ${describeReadError(error)}` });
      return undefined;
    }
  }

  /**
   * A secret file (Docker/Kubernetes secrets): the whole content, less trailing line
   * breaks, which editors and `echo` add but no password means.
   */
  secret(path: string, file: string): Secret | undefined {
    const text = this.read(path, file);
    if (text === undefined) return undefined;
    const value = text.replace(/[\r\n]+$/, '');
    if (value === '') {
      this.issues.push({ path, message: `${file} is empty` });
      return undefined;
    }
    this.secrets.push(value);
    return new Secret(value);
  }

  /**
   * A delivery loop's HMAC key: a secret file of at least MIN_HMAC_KEY_OCTETS octets
   * (RFC 2104 §3: a key shorter than the hash output weakens it).
   */
  hmacKey(path: string, file: string): Secret | undefined {
    const key = this.secret(path, file);
    if (key === undefined) return undefined;
    if (Buffer.byteLength(key.reveal(), 'utf8') < MIN_HMAC_KEY_OCTETS) {
      this.issues.push({
        path,
        message: `${file} holds a key shorter than ${MIN_HMAC_KEY_OCTETS} octets; make one with: head -c 32 /dev/urandom | base64 > ${file}`,
      });
      return undefined;
    }
    return key;
  }

  /** PEM text with one or more certificates, each checked to parse. */
  certificates(path: string, file: string): string | undefined {
    const text = this.read(path, file);
    if (text === undefined) return undefined;
    const problem = certificatesProblem(text, file);
    if (problem === undefined) return text;
    this.issues.push({ path, message: problem });
    return undefined;
  }
}

/**
 * What is wrong with PEM text that should hold one or more certificates (`what` names it
 * in the message: a file name, or a field for inline PEM); undefined when nothing is.
 */
export function certificatesProblem(text: string, what: string): string | undefined {
  if (!text.includes('-----BEGIN CERTIFICATE-----'))
    return `${what} does not contain a PEM certificate (-----BEGIN CERTIFICATE-----)`;
  const blocks = text.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g) ?? [];
  const count = (text.match(/-----BEGIN CERTIFICATE-----/g) ?? []).length;
  for (let n = 0; n < count; n++) {
    const block = blocks[n];
    let ok = block !== undefined;
    if (block !== undefined) {
      try {
        new X509Certificate(block);
      } catch {
        ok = false;
      }
    }
    if (!ok) return `${what}: certificate ${n + 1} cannot be parsed`;
  }
  return undefined;
}
