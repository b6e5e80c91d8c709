import { pino } from 'pino';
import { App } from './app.js';
import { loadConfig } from './config/load.js';
import type { Config } from './config/schema.js';
import { createLogger, type Logger } from './log.js';
import type { Shard } from './shard.js';
import type { WebSettings } from './web/web-config-load.js';

export interface DaemonOptions {
  version: string;
  /** --shard (parsed by the CLI); overrides config.shard. */
  shard?: Shard | undefined;
  /** --listen: overrides config.server.listen. */
  listen?: string | undefined;
  logger?: Logger;
  /** The web configuration file's settings, read (and validated) before the start. */
  web?: WebSettings | undefined;
}

/**
 * Ends the log's destination and resolves once everything is written. The CLI exits right
 * after, and the flush pino does at exit does not wait for an asynchronous write still in
 * flight (pinojs/sonic-boom#101): the last lines would come out of order, or not at all.
 * A destination without end() (the pretty one writes synchronously) needs nothing.
 */
function endLog(log: Logger): Promise<void> {
  const stream = (log as unknown as Record<symbol, unknown>)[pino.symbols.streamSym] as
    | { end?: () => void; once?: (event: string, f: () => void) => void; destroyed?: boolean }
    | undefined;
  if (typeof stream?.end !== 'function' || typeof stream.once !== 'function' || stream.destroyed)
    return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, 2_000);
    stream.once?.('close', () => {
      clearTimeout(timer);
      resolve();
    });
    try {
      stream.end?.();
    } catch {
      clearTimeout(timer);
      resolve();
    }
  });
}

/**
 * `pop3-monitor run`: starts the app and runs until SIGTERM/SIGINT (graceful stop, 0).
 * SIGHUP reloads. An uncaught exception or unhandled rejection is logged and ends the
 * process non-zero so a supervisor restarts it: state is on disk, nothing is lost.
 */
export async function runDaemon(config: Config, options: DaemonOptions): Promise<number> {
  const log = options.logger ?? createLogger();
  const shard = options.shard;
  const source = config.source;
  const app = new App(config, {
    ...(options.listen === undefined ? {} : { listen: options.listen }),
    version: options.version,
    logger: log,
    shard,
    reloadConfig: source ? () => loadConfig(source, { env: process.env }) : undefined,
    web: options.web,
  });
  return new Promise<number>((resolve) => {
    let finished = false;
    const finish = (code: number) => {
      if (finished) return;
      finished = true;
      // The signal listeners stay (without one, a signal kills the process at once, and a
      // repeated Ctrl-C landing while the CLI exits would turn exit 0 into death by
      // SIGINT), but from here on they do nothing: the log is being closed.
      void endLog(log).then(() => resolve(code));
    };
    const crash = (kind: string) => (error: unknown) => {
      if (finished) return;
      log.fatal({ event: kind, err: error }, 'crashed');
      finish(70);
    };
    process.on('uncaughtException', crash('uncaught_exception'));
    process.on('unhandledRejection', crash('unhandled_rejection'));
    let stopping = false;
    const shutdown = (signal: string) => {
      if (finished) return;
      // A repeated signal changes nothing: Ctrl-C under `npx` arrives twice (from the
      // terminal and forwarded by npm), and the stop is bounded by the probe deadlines.
      if (stopping) {
        log.info({ event: 'signal', signal, already_stopping: true }, 'already shutting down');
        return;
      }
      stopping = true;
      log.info({ event: 'signal', signal }, 'shutting down');
      app.stop().then(
        () => finish(0),
        (error: unknown) => {
          log.error({ event: 'stop_failed', err: error }, 'stop failed');
          finish(1);
        },
      );
    };
    process.on('SIGTERM', () => shutdown('SIGTERM'));
    process.on('SIGINT', () => shutdown('SIGINT'));
    process.on('SIGHUP', () => {
      if (finished) return;
      log.info({ event: 'signal', signal: 'SIGHUP' }, 'reloading');
      // reload() reports a bad config itself; this catches only the unexpected, which must
      // not become an unhandled rejection (that ends the process).
      app.reload().catch((error: unknown) => {
        log.error({ event: 'reload_failed', err: error }, 'config reload failed');
      });
    });
    app.start().catch((error: unknown) => {
      log.fatal({ event: 'start_failed', err: error }, 'could not start');
      finish(1);
    });
  });
}
