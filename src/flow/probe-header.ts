import { createHmac, timingSafeEqual } from 'node:crypto';
import type { Secret } from '../secret.js';

/**
 * PURE: the header that marks a delivery loop's probe message, and its signature.
 *
 *   X-Pop3-Monitor-Probe: loop=<name>; seq=<n>; sent=<epoch ms>; sig=<hex HMAC-SHA256>
 *
 * The signature is HMAC-SHA256 (RFC 2104) with the loop's key over the value before
 * "; sig=", written canonically. A message is a loop's own only when the loop name matches
 * and the signature verifies: only then may cleanup delete it.
 */

export const PROBE_HEADER = 'X-Pop3-Monitor-Probe';

export interface ProbeStamp {
  loop: string;
  seq: number;
  /** When the message was made, ms since the epoch. */
  sent: number;
}

export interface ParsedProbeHeader extends ProbeStamp {
  sig: string;
}

function canonical(stamp: ProbeStamp): string {
  return `loop=${stamp.loop}; seq=${stamp.seq}; sent=${stamp.sent}`;
}

function signature(stamp: ProbeStamp, key: Secret): Buffer {
  return createHmac('sha256', key.reveal()).update(canonical(stamp), 'utf8').digest();
}

/** The header value of a probe message. */
export function probeHeaderValue(stamp: ProbeStamp, key: Secret): string {
  return `${canonical(stamp)}; sig=${signature(stamp, key).toString('hex')}`;
}

/**
 * Blanks may stand anywhere between the fields (a folded header unfolds with a blank where
 * the line was broken); the fields and their order are fixed.
 */
const VALUE =
  /^\s*loop\s*=\s*([A-Za-z0-9_.-]{1,64})\s*;\s*seq\s*=\s*(\d{1,15})\s*;\s*sent\s*=\s*(\d{1,15})\s*;\s*sig\s*=\s*([0-9a-fA-F]{64})\s*$/;

/** The fields of a header value, or null when it is not one a loop writes. */
export function parseProbeHeader(value: string): ParsedProbeHeader | null {
  const match = VALUE.exec(value);
  if (match === null) return null;
  return {
    loop: match[1] as string,
    seq: Number(match[2]),
    sent: Number(match[3]),
    sig: (match[4] as string).toLowerCase(),
  };
}

/** Whether the signature was made with `key` (compared in constant time). */
export function verifyProbeHeader(parsed: ParsedProbeHeader, key: Secret): boolean {
  const expected = signature(parsed, key);
  const given = Buffer.from(parsed.sig, 'hex');
  return given.length === expected.length && timingSafeEqual(given, expected);
}
