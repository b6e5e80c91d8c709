import type { PeerTls } from '../pop3/connection.js';
import { setNewest } from './bounded-map.js';

/** What a full handshake showed of the server's certificate. */
export interface CertFacts {
  notAfterMs: number | null;
  subject: string | null;
  issuer: string | null;
}

interface Entry {
  session: Buffer | null;
  cert: CertFacts;
  /** When the certificate was last seen in a full handshake, ms since the epoch. */
  verifiedAt: number;
}

export interface TlsSessionStoreOptions {
  /**
   * A full handshake at least this often (default 1 h), so a renewed or replaced
   * certificate is seen: a resumed session shows no certificate at all.
   */
  maxAgeMs?: number;
  now?: () => number;
  maxEntries?: number;
}

/**
 * TLS session tickets between probes of one server (RFC 8446 §2.2), saving the
 * handshake's CPU and a round trip or two. A resumed session carries no peer
 * certificate, so the store keeps the facts of the last full handshake with each
 * session, and the probe reports those for a resumed one.
 */
export class TlsSessionStore {
  readonly #entries = new Map<string, Entry>();
  readonly #maxAge: number;
  readonly #now: () => number;
  readonly #max: number;

  constructor(options: TlsSessionStoreOptions = {}) {
    this.#maxAge = options.maxAgeMs ?? 3_600_000;
    this.#now = options.now ?? Date.now;
    this.#max = options.maxEntries ?? 10_000;
  }

  /** A session to resume, unless the certificate is due to be looked at again. */
  sessionFor(key: string): Buffer | undefined {
    const entry = this.#entries.get(key);
    if (!entry?.session) return undefined;
    if (this.#now() - entry.verifiedAt >= this.#maxAge) return undefined;
    return entry.session;
  }

  certFor(key: string): CertFacts | undefined {
    return this.#entries.get(key)?.cert;
  }

  /** Records a connection's outcome: the newest ticket, and the certificate of a full handshake. */
  record(key: string, peer: PeerTls, session: Buffer | null): void {
    const entry = this.#entries.get(key);
    if (peer.resumed) {
      if (entry && session) entry.session = session;
      return;
    }
    const cert = {
      notAfterMs: peer.certNotAfterMs,
      subject: peer.certSubject,
      issuer: peer.certIssuer,
    };
    setNewest(this.#entries, key, { session, cert, verifiedAt: this.#now() }, this.#max);
  }

  delete(key: string): void {
    this.#entries.delete(key);
  }

  clear(): void {
    this.#entries.clear();
  }

  get size(): number {
    return this.#entries.size;
  }
}
