/**
 * The `host:port` form of `server.listen` and `--listen`, the one parser of it: "host:port",
 * "[v6]:port", or ":port" for every interface; port 0 picks a free one.
 */

export interface ListenAddress {
  /** undefined: every interface. */
  host: string | undefined;
  port: number;
}

const LISTEN = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]\s]*)):(\d{1,5})$/;

/** The address, or null when `listen` is not host:port with a port of 0-65535. */
export function parseListen(listen: string): ListenAddress | null {
  const m = LISTEN.exec(listen);
  const port = m ? Number(m[3]) : Number.NaN;
  if (!m || port > 65535) return null;
  const host = m[1] ?? m[2];
  return { host: host === '' ? undefined : host, port };
}

/** Where a client on this machine reaches a server listening on `address`. */
export function localUrl(address: ListenAddress): string {
  const host =
    address.host === undefined || address.host === '0.0.0.0'
      ? '127.0.0.1'
      : address.host === '::'
        ? '[::1]'
        : address.host.includes(':')
          ? `[${address.host}]`
          : address.host;
  return `http://${host}:${address.port}`;
}
