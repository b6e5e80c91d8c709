import { statSync } from 'node:fs';
import { WebConfigError } from './web-config-error.js';
import { loadWebConfig, type WebSettings } from './web-config-load.js';

/**
 * Reads the web configuration again when it or a file it names changes (a renewed
 * certificate from cert-manager or a cron job, an edited user list), so new connections
 * get the new certificate without a restart. A change is read once it has held still for
 * one check (a renewal that writes the certificate, then the key, is read as one change).
 * A new reading that fails (unreadable, a key that does not match its certificate, an
 * invalid file) is reported once and the previous settings stay in force.
 */
export interface WebConfigWatcherOptions {
  path: string;
  initial: WebSettings;
  /** Called with the new settings once they replaced the previous ones. */
  onReload(next: WebSettings, previous: WebSettings): void;
  /** Called once per failed change; the previous settings stay. */
  onError(error: Error): void;
  /** How often the files are looked at; default 1 s. */
  intervalMs?: number;
  /** Reads the settings; loadWebConfig unless a test injects one. */
  load?: (path: string) => WebSettings;
  /** What identifies a file's version; stat (through symbolic links) unless injected. */
  signature?: (path: string) => string;
}

export type CheckOutcome = 'unchanged' | 'settling' | 'reloaded' | 'failed';

function statSignature(path: string): string {
  try {
    const s = statSync(path, { bigint: true });
    return `${s.dev}:${s.ino}:${s.size}:${s.mtimeNs}:${s.ctimeNs}`;
  } catch (error) {
    return `missing:${(error as { code?: string }).code ?? ''}`;
  }
}

export class WebConfigWatcher {
  #current: WebSettings;
  readonly #options: WebConfigWatcherOptions;
  readonly #signature: (path: string) => string;
  readonly #load: (path: string) => WebSettings;
  /** The files' versions the current settings were read from. */
  #applied: string;
  /** A change seen at the last check, read if it still holds at the next. */
  #settling: string | undefined;
  /** A change that failed: not reported again until the files change once more. */
  #failed: string | undefined;
  #timer: NodeJS.Timeout | undefined;

  constructor(options: WebConfigWatcherOptions) {
    this.#options = options;
    this.#current = options.initial;
    this.#signature = options.signature ?? statSignature;
    this.#load = options.load ?? ((path) => loadWebConfig(path));
    this.#applied = this.#versions(options.initial);
  }

  get current(): WebSettings {
    return this.#current;
  }

  start(): void {
    if (this.#timer !== undefined) return;
    this.#timer = setInterval(() => this.check(), this.#options.intervalMs ?? 1_000);
    this.#timer.unref();
  }

  stop(): void {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /** One look at the files (the timer calls this; tests call it directly). */
  check(): CheckOutcome {
    const seen = this.#versions(this.#current);
    if (seen === this.#applied || seen === this.#failed) {
      this.#settling = undefined;
      return 'unchanged';
    }
    if (seen !== this.#settling) {
      this.#settling = seen;
      return 'settling';
    }
    this.#settling = undefined;
    let next: WebSettings;
    try {
      next = this.#load(this.#options.path);
      const refusal = refusedChange(this.#current, next);
      if (refusal !== undefined)
        throw new WebConfigError([{ path: refusal.path, message: refusal.message }], {
          source: this.#current.source,
        });
    } catch (error) {
      this.#failed = seen;
      this.#options.onError(error instanceof Error ? error : new Error(String(error)));
      return 'failed';
    }
    const previous = this.#current;
    this.#current = next;
    this.#applied = this.#versions(next);
    this.#failed = undefined;
    this.#options.onReload(next, previous);
    return 'reloaded';
  }

  #versions(settings: WebSettings): string {
    return settings.files.map((file) => `${file}=${this.#signature(file)}`).join('\n');
  }
}

/**
 * Changes a running server cannot take from a file: whether it speaks TLS, and which
 * client certificates it asks for (Node fixes both when the server is made). They take a
 * restart; until then the previous settings stay, and a half-written or emptied file
 * cannot turn TLS off by accident.
 */
function refusedChange(
  previous: WebSettings,
  next: WebSettings,
): { path: string; message: string } | undefined {
  if ((previous.tls === undefined) !== (next.tls === undefined))
    return {
      path: 'tls_server_config',
      message: `${next.tls === undefined ? 'removed' : 'added'}: turning TLS ${next.tls === undefined ? 'off' : 'on'} takes a restart; the previous settings stay`,
    };
  if (
    previous.tls !== undefined &&
    next.tls !== undefined &&
    previous.tls.clientAuth !== next.tls.clientAuth
  )
    return {
      path: 'tls_server_config.client_auth_type',
      message: `changed from ${previous.tls.clientAuth} to ${next.tls.clientAuth}: that takes a restart; the previous settings stay`,
    };
  return undefined;
}
