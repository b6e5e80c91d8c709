import { App } from './app.js';
import { loadConfig } from './config/load.js';
import type { Config } from './config/schema.js';
import { createLogger, type Logger } from './log.js';
import { parseShard } from './shard.js';

export interface DaemonOptions {
  version: string;
  /** --shard I/N or auto/N; overrides config.shard. */
  shard?: string | undefined;
  logger?: Logger;
}

/**
 * `pop3-monitor run`: starts the app and runs until SIGTERM/SIGINT (graceful stop, 0).
 * SIGHUP reloads. An uncaught exception or unhandled rejection is logged and ends the
 * process non-zero so a supervisor restarts it: state is on disk, nothing is lost.
 */
export async function runDaemon(config: Config, options: DaemonOptions): Promise<number> {
  const log = options.logger ?? createLogger();
  const shard = options.shard ? parseShard(options.shard) : undefined;
  const source = config.source;
  const app = new App(config, {
    version: options.version,
    logger: log,
    shard,
    reloadConfig: source ? () => loadConfig(source, { env: process.env }) : undefined,
  });
  return new Promise<number>((resolve) => {
    let finished = false;
    const finish = (code: number) => {
      if (finished) return;
      finished = true;
      for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const)
        process.removeAllListeners(signal);
      log.flush?.();
      resolve(code);
    };
    const crash = (kind: string) => (error: unknown) => {
      log.fatal(
        { event: kind, error: error instanceof Error ? error.stack : String(error) },
        'crashed',
      );
      finish(70);
    };
    process.on('uncaughtException', crash('uncaught_exception'));
    process.on('unhandledRejection', crash('unhandled_rejection'));
    const shutdown = (signal: string) => {
      log.info({ event: 'signal', signal }, 'shutting down');
      app.stop().then(
        () => finish(0),
        (error: unknown) => {
          log.error({ event: 'stop_failed', error: String(error) }, 'stop failed');
          finish(1);
        },
      );
    };
    process.once('SIGTERM', () => shutdown('SIGTERM'));
    process.once('SIGINT', () => shutdown('SIGINT'));
    process.on('SIGHUP', () => {
      log.info({ event: 'signal', signal: 'SIGHUP' }, 'reloading');
      void app.reload();
    });
    app.start().catch((error: unknown) => {
      log.fatal(
        { event: 'start_failed', error: error instanceof Error ? error.message : String(error) },
        'could not start',
      );
      finish(1);
    });
  });
}
