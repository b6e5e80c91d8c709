/**
 * What keeps a browser from being turned against the monitor: the headers of every answer
 * (the pages' Content-Security-Policy allows only this server's own script and style files,
 * no inline script, and no framing), and which requests another site's page may make.
 * Pure functions of the request's headers.
 */

/** The pages' policy: their script and style are files of this server; nothing inline. */
export const PAGE_CONTENT_SECURITY_POLICY =
  "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

/** On every answer, whatever it is. */
export const COMMON_HEADERS: Readonly<Record<string, string>> = {
  'Cache-Control': 'no-store',
  'X-Content-Type-Options': 'nosniff',
};

/** On the pages for browsers (HTML), on top of the common ones. */
export const PAGE_HEADERS: Readonly<Record<string, string>> = {
  ...COMMON_HEADERS,
  'Content-Security-Policy': PAGE_CONTENT_SECURITY_POLICY,
  'Referrer-Policy': 'no-referrer',
};

/**
 * The headers of an answer: ours for its kind, and those of the web configuration's
 * http_server_config.headers (which the format applies to every answer). A configured
 * Content-Security-Policy is sent beside a page's own (a browser enforces both), so it can
 * tighten the page's policy but never loosen it.
 */
export function answerHeaders(
  kind: 'page' | 'other',
  configured: Readonly<Record<string, string>>,
): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {
    ...(kind === 'page' ? PAGE_HEADERS : COMMON_HEADERS),
  };
  for (const [name, value] of Object.entries(configured)) {
    if (value === '') continue; // the format: "unset if blank"
    const ours = out[name];
    if (ours === undefined || ours === value) out[name] = value;
    else out[name] = [...(Array.isArray(ours) ? ours : [ours]), value];
  }
  return out;
}

type Headers = Readonly<Record<string, string | string[] | undefined>>;

function one(headers: Headers, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/** The host[:port] of a URL origin or a Host header, as URL normalises it; undefined if invalid. */
function hostOf(scheme: string, host: string): string | undefined {
  try {
    return new URL(`${scheme}//${host}`).host;
  } catch {
    return undefined;
  }
}

export type OriginVerdict = { allowed: true } | { allowed: false; why: string };

const SAFE_METHODS: ReadonlySet<string> = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * Whether a request may come from where it says it comes from. Browsers send
 * Sec-Fetch-Site (and Origin on a POST); curl, Prometheus and the kubelet send neither and
 * are always allowed.
 * - A request that changes something (POST /-/reload) must come from this server's own
 *   pages: refused when Sec-Fetch-Site is cross-site or same-site, or when Origin names
 *   another host (or is "null", a sandboxed or file: page).
 * - Reading: another site may link to a page (a top-level navigation), but not load one of
 *   our answers as an image, a script, a frame or a fetch (/probe opens connections).
 * The request's own host is its Host header.
 */
export function originVerdict(request: { method: string; headers: Headers }): OriginVerdict {
  const { method, headers } = request;
  const site = one(headers, 'sec-fetch-site');
  if (SAFE_METHODS.has(method)) {
    if (site !== 'cross-site') return { allowed: true };
    const mode = one(headers, 'sec-fetch-mode');
    const dest = one(headers, 'sec-fetch-dest');
    if (method !== 'OPTIONS' && mode === 'navigate' && dest !== 'object' && dest !== 'embed')
      return { allowed: true };
    return { allowed: false, why: 'a cross-site request that is not a navigation' };
  }
  if (site !== undefined && site !== 'same-origin' && site !== 'none')
    return { allowed: false, why: `Sec-Fetch-Site: ${site}` };
  const origin = one(headers, 'origin');
  if (origin === undefined) return { allowed: true };
  // "null" (a sandboxed frame, a file: page) has no host: another site, like any foreign one.
  const colon = origin.indexOf('//');
  const from = colon === -1 ? undefined : hostOf(origin.slice(0, colon), origin.slice(colon + 2));
  const host = one(headers, 'host');
  const own = host === undefined || colon === -1 ? undefined : hostOf(origin.slice(0, colon), host);
  if (from === undefined || own === undefined || from.toLowerCase() !== own.toLowerCase())
    return { allowed: false, why: 'Origin is another site' };
  return { allowed: true };
}
