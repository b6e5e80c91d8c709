import type { Reply } from './framing.js';

/**
 * Sees a POP3 session as it happens: every line the client sends, every reply it reads,
 * and the transport events between them (connected, TLS established), each with the
 * `performance.now()` at which it happened. Nothing is masked here: a sent PASS line
 * carries the password. Whoever keeps what it sees (the probe's transcript) masks it.
 */
export interface Pop3Observer {
  /** A command line as written; `command` is the Command's name (`AUTH PLAIN` for the SASL lines of that exchange). */
  sent(line: string, command: string, at: number): void;
  /**
   * A line of a multi-line reply that went to a sink as it came (a UIDL listing) instead
   * of into `reply.lines`; received() follows with the reply.
   */
  streamed(line: string): void;
  /** A reply as read; `command` names what it answers (null for the greeting). */
  received(reply: Reply, command: string | null, at: number): void;
  /** A transport event: `connected to 127.0.0.1:995`, `TLS TLSv1.3 TLS_AES_256_GCM_SHA384`. */
  event(text: string, at: number): void;
}
