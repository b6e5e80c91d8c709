import type { X509Certificate } from 'node:crypto';
import { isIP } from 'node:net';
import type { ClientAuthType } from './tls-names.js';

/**
 * What the TLS server decides about a client once the handshake is done. OpenSSL itself
 * refuses a missing or unverifiable certificate only under RequireAndVerifyClientCert
 * (Node's rejectUnauthorized); the other modes of the format are decided here, as Go's
 * crypto/tls does for the exporter toolkit:
 *   NoClientCert             no certificate asked for
 *   RequestClientCert        asked for, neither required nor verified
 *   RequireAnyClientCert     required, not verified
 *   VerifyClientCertIfGiven  not required; one that is sent must verify
 *   RequireAndVerifyClientCert  required and verified
 * client_allowed_sans: a verified certificate must name one of them (DNS, IP, e-mail or URI).
 */
export interface PeerCertificate {
  /** undefined when the client sent none. */
  certificate: X509Certificate | undefined;
  /** The chain verified against client_ca_file (TLSSocket#authorized). */
  authorized: boolean;
}

export type ClientVerdict =
  | { ok: true }
  | { ok: false; reason: 'no_certificate' | 'unverified_certificate' | 'san_not_allowed' };

export function clientVerdict(
  mode: ClientAuthType,
  allowedSans: readonly string[] | undefined,
  peer: PeerCertificate,
): ClientVerdict {
  const present = peer.certificate !== undefined;
  switch (mode) {
    case 'NoClientCert':
    case 'RequestClientCert':
      return { ok: true };
    case 'RequireAnyClientCert':
      return present ? { ok: true } : { ok: false, reason: 'no_certificate' };
    case 'VerifyClientCertIfGiven':
    case 'RequireAndVerifyClientCert': {
      if (!present)
        return mode === 'VerifyClientCertIfGiven'
          ? { ok: true }
          : { ok: false, reason: 'no_certificate' };
      if (!peer.authorized) return { ok: false, reason: 'unverified_certificate' };
      if (allowedSans === undefined || peer.certificate === undefined) return { ok: true };
      const names = new Set(subjectAltNames(peer.certificate).map(canonicalName));
      return allowedSans.some((name) => names.has(canonicalName(name)))
        ? { ok: true }
        : { ok: false, reason: 'san_not_allowed' };
    }
  }
}

const SAN_TYPES: Readonly<Record<string, true>> = {
  DNS: true,
  'IP Address': true,
  email: true,
  URI: true,
};

/**
 * The DNS, IP, e-mail and URI names of a certificate. Node writes them as
 * `DNS:a, IP Address:127.0.0.1, URI:"x,y"` (a value with a comma or quote JSON-quoted).
 */
export function subjectAltNames(certificate: X509Certificate): string[] {
  const text = certificate.subjectAltName;
  if (text === undefined) return [];
  const out: string[] = [];
  let i = 0;
  while (i < text.length) {
    const colon = text.indexOf(':', i);
    if (colon === -1) break;
    const type = text.slice(i, colon);
    let value: string;
    let next: number;
    if (text[colon + 1] === '"') {
      // A JSON string: find its closing quote, skipping escaped ones.
      let end = colon + 2;
      while (end < text.length && text[end] !== '"') end += text[end] === '\\' ? 2 : 1;
      try {
        value = JSON.parse(text.slice(colon + 1, end + 1)) as string;
      } catch {
        value = '';
      }
      next = text.indexOf(', ', end);
    } else {
      next = text.indexOf(', ', colon);
      value = text.slice(colon + 1, next === -1 ? text.length : next);
    }
    if (SAN_TYPES[type] === true && value !== '') out.push(value);
    if (next === -1) break;
    i = next + 2;
  }
  return out;
}

/** IP addresses compare by value (::1 and 0:0:0:0:0:0:0:1 are one address), the rest exactly. */
function canonicalName(name: string): string {
  if (isIP(name) === 6) {
    try {
      return new URL(`http://[${name}]/`).hostname;
    } catch {
      return name;
    }
  }
  return name;
}
