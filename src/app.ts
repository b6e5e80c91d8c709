import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { createAlertmanagerSender } from './alerts/alertmanager.js';
import { createEmailSender } from './alerts/email.js';
import { AlertEngine, type AlertedFlowTarget } from './alerts/engine.js';
import { Outbox } from './alerts/outbox.js';
import type { Sender } from './alerts/sender.js';
import { createAlertStateStore } from './alerts/state-store.js';
import { type Clock, systemClock, type TimerHandle } from './clock.js';
import { configWarnings } from './config/load.js';
import { sameConfig } from './config/same-config.js';
import type { AlertingConfig, Config, LoopConfig, MailboxConfig } from './config/schema.js';
import { createFlowStateStore, createSeenStore } from './flow/flow-store.js';
import { MailFlow } from './flow/mail-flow.js';
import { ProbeHistory } from './history/history.js';
import { createLogger, type Logger } from './log.js';
import { createFlowMetrics } from './metrics/flow-metrics.js';
import { createMetrics, type Metrics } from './metrics/metrics.js';
import { TokenSource } from './oauth/token-source.js';
import { CapabilityCache } from './probe/capability-cache.js';
import { ProbeGate } from './probe/gate.js';
import { type ProbeDeps, probeMailbox } from './probe/probe.js';
import type { ProbeResult } from './probe/result.js';
import { TlsSessionStore } from './probe/tls-sessions.js';
import { DEFAULT_WATCHDOG_GRACE_MS, Scheduler } from './schedule/scheduler.js';
import { expectedGapMs, ProgressWatchdog } from './schedule/watchdog.js';
import type { Secret } from './secret.js';
import { inShard, type Shard } from './shard.js';
import { createWebBackend } from './web/backend.js';
import { type HttpServer, startHttpServer } from './web/server.js';
import type { ReloadState } from './web/status.js';
import type { WebSettings } from './web/web-config-load.js';
import { WebConfigWatcher } from './web/web-config-watch.js';

export interface AppOptions {
  version: string;
  logger?: Logger;
  clock?: Clock;
  /** Overrides config.shard (the --shard flag). */
  shard?: Shard;
  /** Reads the config again for SIGHUP and POST /-/reload; throws ConfigError when invalid. */
  reloadConfig?: () => Config;
  /**
   * The web configuration file's settings (HTTPS, client certificates, users, headers,
   * rate limit): served from the start and read again whenever its files change.
   */
  web?: WebSettings | undefined;
  /** Overrides config.server.listen (`run --listen`). */
  listen?: string;
}

export type ReloadOutcome = { ok: true } | { ok: false; error: string };

/** On a reload that replaces the notifiers: how long to let a send under way finish. */
const OUTBOX_HANDOVER_MS = 15_000;

/** How often the capability cache is written to the state directory. */
const CACHE_SAVE_MS = 60_000;

/**
 * What the outbox's senders are built from. Compared with sameConfig, which compares
 * Secrets by value: JSON would show every password as the same mask, and a reload that
 * only rotates the SMTP password would keep sending with the old one.
 */
function notifierSettings(alerting: AlertingConfig): unknown[] {
  return [
    alerting.smtp,
    alerting.to,
    alerting.alertmanager,
    alerting.external_url,
    alerting.repeat_interval,
    alerting.send_resolved,
  ];
}

/** The loops whose mailbox this instance probes (a loop follows its mailbox's shard). */
function loopsOf(config: Config, mailboxes: readonly MailboxConfig[]): LoopConfig[] {
  const names = new Set(mailboxes.map((m) => m.name));
  return config.loops.filter((l) => names.has(l.mailbox));
}

/** The loops and watches the alert rules are evaluated for, with their mailbox's labels. */
function flowTargets(
  loops: readonly LoopConfig[],
  mailboxes: readonly MailboxConfig[],
): AlertedFlowTarget[] {
  const labels = new Map(mailboxes.map((m) => [m.name, m.labels]));
  return [
    ...loops.map((l) => ({
      mailbox: l.mailbox,
      loop: l.name,
      labels: labels.get(l.mailbox) ?? {},
    })),
    ...mailboxes.flatMap((m) =>
      m.expect.map((e) => ({ mailbox: m.name, expect: e.name, labels: m.labels })),
    ),
  ];
}

/** Every secret of a config, for scrubbing server replies (a server may quote any of them). */
function configSecrets(config: Config): Secret[] {
  const all = [
    ...config.mailboxes.flatMap((m) => [
      m.password,
      m.oauth2?.client_secret,
      m.oauth2?.refresh_token,
    ]),
    ...config.loops.flatMap((l) => [l.smtp.password, l.hmac_key]),
    config.alerting.smtp?.password,
    config.server.basic_auth?.password,
    config.server.bearer_token,
  ];
  return all.filter((s): s is Secret => s !== undefined);
}

/**
 * The composition root: config → scheduler → probe → metrics and alerts → outbox →
 * notifiers. Start, reload and stop live here; nothing downstream calls back upstream.
 */
export class App {
  #config: Config;
  /** Every secret of the config, kept until a reload (probes mask server text with them). */
  #secrets: Secret[];
  readonly #options: AppOptions;
  readonly #log: Logger;
  readonly #clock: Clock;
  readonly metrics: Metrics;
  readonly #capabilities: CapabilityCache;
  readonly #tlsSessions = new TlsSessionStore();
  /** OAuth2 access tokens, shared by the mailboxes of one client; kept across reloads. */
  readonly #tokens: TokenSource;
  readonly #scheduler: Scheduler;
  /** The auth backoff and LOGIN-DELAY policy the scheduled probes pass through. */
  readonly #gate: ProbeGate;
  readonly #engine: AlertEngine;
  readonly #flow: MailFlow;
  #outbox: Outbox;
  #senders: Sender[] = [];
  #http: HttpServer | null = null;
  #webWatcher: WebConfigWatcher | null = null;
  #ready = false;
  #stopping: Promise<void> | null = null;
  /** The reload in progress (or the last one): the next waits for it. */
  #reloading: Promise<void> = Promise.resolve();
  #starting: Promise<void> | null = null;
  #saveTimer: TimerHandle | null = null;
  /** The last probes of every mailbox, with transcripts: what the status pages show. */
  readonly history = new ProbeHistory();
  /** Whether the scheduler makes progress, for /healthz. */
  readonly #watchdog = new ProgressWatchdog();
  #expectedGapMs = Number.POSITIVE_INFINITY;
  #watchdogSlackMs = 0;
  /** The last reload, for the status page. */
  #reloadState: ReloadState;

  constructor(config: Config, options: AppOptions) {
    this.#config = config;
    this.#secrets = configSecrets(config);
    this.#options = options;
    this.#log = options.logger ?? createLogger();
    this.#clock = options.clock ?? systemClock;
    this.#reloadState = { ok: null, at: this.#clock.now(), error: null };
    mkdirSync(config.state_dir, { recursive: true });
    const mailboxes = this.#mailboxes(config);
    this.metrics = createMetrics({
      version: options.version,
      mailboxPhases: config.metrics.mailbox_phases,
      configLoadedAtMs: this.#clock.now(),
      webConfig: options.web !== undefined,
    });
    this.metrics.setMailboxes(mailboxes);
    this.#capabilities = new CapabilityCache({
      file: join(config.state_dir, 'capabilities.json'),
      now: () => this.#clock.now(),
    });
    this.#outbox = this.#createOutbox(config.alerting);
    const loops = loopsOf(config, mailboxes);
    this.#engine = new AlertEngine({
      clock: this.#clock,
      alerting: config.alerting,
      mailboxes,
      flowTargets: flowTargets(loops, mailboxes),
      onFlowFiringChange: (rule, target, severity, firing) =>
        this.metrics.setFlowAlertFiring(rule, target, severity, firing),
      store: createAlertStateStore(config.state_dir, {
        logger: this.#log.child({ component: 'alerts' }),
      }),
      emit: (notification) => this.#outbox.enqueue(notification),
      onFiringChange: (rule, mailbox, severity, firing) =>
        this.metrics.setAlertFiring(rule, mailbox, severity, firing),
      logger: this.#log.child({ component: 'alerts' }),
    });
    const flowLog = this.#log.child({ component: 'flow' });
    this.#flow = new MailFlow({
      clock: this.#clock,
      logger: flowLog,
      metrics: createFlowMetrics(this.metrics.registry),
      observe: (observation) => this.#engine.observeFlow(observation),
      stateStore: createFlowStateStore(config.state_dir, flowLog),
      seenStore: (mailbox) => createSeenStore(config.state_dir, mailbox, flowLog),
    });
    this.#tokens = new TokenSource({
      clock: this.#clock,
      logger: this.#log.child({ component: 'oauth' }),
    });
    // TLS sessions are resumed between probes of a server; the store remembers the
    // certificate of the last full handshake (a resumed session shows none) and forces a
    // full one hourly, so the expiry metric and the cert_expiry_days rule stay right.
    const deps: ProbeDeps = {
      capabilityCache: this.#capabilities,
      tlsSessions: this.#tlsSessions,
      otherSecrets: () => this.#secrets,
      tokens: this.#tokens,
      scanPlan: (mailbox) => this.#flow.planFor(mailbox),
      transcript: true,
    };
    const schedulerLog = this.#log.child({ component: 'scheduler' });
    this.#gate = new ProbeGate({
      clock: this.#clock,
      logger: schedulerLog,
      intervalMs: (schedule) => this.#scheduler.intervalMs(schedule),
    });
    this.#scheduler = new Scheduler({
      clock: this.#clock,
      maxConcurrent: config.scheduler.max_concurrent_probes,
      maxPerHost: config.scheduler.max_concurrent_per_host,
      probe: (mailbox) => {
        this.#watchdog.progress(this.#clock.now());
        return probeMailbox(mailbox, deps);
      },
      admit: (mailbox) => this.#gate.admit(mailbox),
      onResult: (result, mailbox) => {
        this.#watchdog.progress(this.#clock.now());
        this.#gate.observe(mailbox, result);
        this.#onResult(result);
      },
      onSkip: (mailbox, reason) => {
        // A tick the backoff held back shows the timer loop works; an overlap does not.
        if (reason !== 'overlap') this.#watchdog.progress(this.#clock.now());
        this.metrics.recordSkip(mailbox.name, reason);
      },
      onRoundComplete: () => {
        this.#ready = true;
        this.#log.info({ event: 'first_round_complete' }, 'every mailbox probed once');
      },
      logger: schedulerLog,
    });
  }

  get config(): Config {
    return this.#config;
  }

  get address(): { host: string; port: number } | null {
    return this.#http?.address ?? null;
  }

  get ready(): boolean {
    return this.#ready;
  }

  /** Why the mailbox waits before its next login, or null: the probe gate's auth backoff. */
  #heldBack(name: string): string | null {
    const mailbox = this.#scheduler.mailbox(name);
    return mailbox === undefined ? null : this.#gate.heldBack(mailbox);
  }

  /** Why the process is not healthy (the scheduler stopped making progress), or null. */
  health(): string | null {
    return this.#watchdog.problem(this.#clock.now(), this.#expectedGapMs, this.#watchdogSlackMs);
  }

  /** The history keeps these mailboxes; the watchdog expects a run within their schedules' gap. */
  #watchMailboxes(mailboxes: readonly MailboxConfig[]): void {
    this.history.setMailboxes(mailboxes.map((m) => m.name));
    this.#expectedGapMs = expectedGapMs(mailboxes.map((m) => m.schedule));
    const longestTimeout = Math.max(0, ...mailboxes.map((m) => m.timeout));
    this.#watchdogSlackMs = longestTimeout + DEFAULT_WATCHDOG_GRACE_MS;
  }

  #mailboxes(config: Config): MailboxConfig[] {
    return inShard(config.mailboxes, this.#options.shard ?? config.shard);
  }

  #createOutbox(alerting: AlertingConfig): Outbox {
    const logger = this.#log.child({ component: 'outbox' });
    const senders: Sender[] = [];
    if (alerting.smtp && alerting.to.length > 0) {
      senders.push(
        createEmailSender(
          alerting.smtp,
          {
            to: alerting.to,
            external_url: alerting.external_url,
            send_resolved: alerting.send_resolved,
          },
          { logger },
        ),
      );
    }
    if (alerting.alertmanager) {
      senders.push(
        createAlertmanagerSender(alerting.alertmanager, {
          externalUrl: alerting.external_url,
          repeatIntervalMs: alerting.repeat_interval,
          logger,
        }),
      );
    }
    this.#senders = senders;
    return new Outbox({
      dir: join(this.#config.state_dir, 'outbox'),
      clock: this.#clock,
      senders,
      onChange: (pending) => this.metrics.setOutboxPending(pending),
      onResult: (_channel, result) => this.metrics.recordNotification(result),
      logger,
    });
  }

  #onResult(result: ProbeResult): void {
    this.metrics.recordProbe(result);
    this.#engine.observe(result);
    this.#flow.observe(result);
    const { previous, current } = this.history.record(result);
    if (previous !== current) {
      if (result.success) {
        this.#log.info(
          {
            event: 'mailbox_up',
            mailbox: result.mailbox,
            messages: result.messages,
            previous: previous ?? null,
          },
          'mailbox is up',
        );
      } else {
        this.#log.warn(
          {
            event: 'mailbox_down',
            mailbox: result.mailbox,
            reason: result.error?.code,
            phase: result.error?.phase,
            error: result.error?.message,
            previous: previous ?? null,
          },
          'mailbox is down',
        );
      }
    }
    // The transcript is on the mailbox's page; the log line stays one short line.
    const { transcript: _transcript, ...fields } = result;
    this.#log.debug({ event: 'probe_result', result: fields }, 'probe finished');
  }

  /**
   * Opens the state, starts the HTTP server and the schedule. reload() and stop() called
   * meanwhile (a signal during start-up) wait for it to settle first.
   */
  start(): Promise<void> {
    this.#starting ??= this.#start();
    return this.#starting;
  }

  /** Resolves once start() has settled either way (at once when it was never called). */
  async #startSettled(): Promise<void> {
    await this.#starting?.catch(() => undefined);
  }

  async #start(): Promise<void> {
    const config = this.#config;
    for (const warning of configWarnings(config))
      this.#log.warn({ event: 'config_warning', warning }, warning);
    if (this.#senders.length === 0) {
      this.#log.warn(
        { event: 'no_notifier' },
        'alert rules are evaluated, but no alerting.smtp (with to:) or alerting.alertmanager is configured',
      );
    }
    // The outbox first: load() hands notifications saved before a crash straight to it.
    await this.#outbox.open();
    await this.#engine.load();
    const mailboxes = this.#mailboxes(config);
    await this.#flow.load(loopsOf(config, mailboxes), mailboxes);
    this.#scheduler.setMailboxes(mailboxes);
    this.#watchMailboxes(mailboxes);
    if (mailboxes.length === 0) this.#ready = true;
    this.#http = await startHttpServer({
      listen: this.#options.listen ?? config.server.listen,
      backend: createWebBackend({
        clock: this.#clock,
        version: this.#options.version,
        history: this.history,
        mailboxes: () => this.#mailboxes(this.#config),
        firing: () => this.#engine.snapshot(),
        flow: () => this.#flow.snapshot(),
        outboxPending: () => this.#outbox.pending(),
        reloadState: () => this.#reloadState,
        ready: () => this.#ready,
        exposition: () => this.metrics.exposition(),
        health: () => this.health(),
        reload: () => this.reload(),
        heldBack: (name) => this.#heldBack(name),
        runNow: (name) => this.#scheduler.runNow(name),
      }),
      auth:
        config.server.basic_auth || config.server.bearer_token
          ? { basic: config.server.basic_auth, bearer: config.server.bearer_token }
          : undefined,
      web: this.#options.web,
      onRefused: (reason) => this.metrics.recordHttpRefusal(reason),
      onTlsRefused: () => this.metrics.recordTlsRefusal(),
      logger: this.#log.child({ component: 'http' }),
    });
    if (this.#options.web !== undefined) this.#watchWebConfig(this.#options.web, this.#http);
    this.#scheduler.start();
    this.#watchdog.start(this.#clock.now());
    this.#flow.start();
    this.#armCacheSave();
    const shard = this.#options.shard ?? config.shard;
    this.#log.info(
      {
        event: 'started',
        version: this.#options.version,
        listen: `${this.#http.address.host}:${this.#http.address.port}`,
        mailboxes: mailboxes.length,
        loops: loopsOf(config, mailboxes).length,
        shard: shard ? `${shard.index}/${shard.count}` : null,
        config: config.source ?? null,
      },
      'pop3-monitor started',
    );
  }

  #armCacheSave(): void {
    this.#saveTimer = this.#clock.setTimeout(() => {
      void this.#saveCache();
      if (this.#stopping === null) this.#armCacheSave();
    }, CACHE_SAVE_MS);
    this.#saveTimer.unref();
  }

  /** Certificates renewed, users or headers edited: applied without a restart. */
  #watchWebConfig(initial: WebSettings, http: HttpServer): void {
    const log = this.#log.child({ component: 'http' });
    log.info(
      {
        event: 'web_config_loaded',
        file: initial.source,
        tls: initial.tls !== undefined,
        client_auth_type: initial.tls?.clientAuth ?? null,
        certificate_serial: initial.tls?.certificate.serial ?? null,
        users: initial.users.size,
        rate_limit: initial.rateLimit !== undefined,
      },
      'web config in use',
    );
    this.#webWatcher = new WebConfigWatcher({
      path: initial.source,
      initial,
      onReload: (next) => {
        http.applyWeb(next);
        this.metrics.recordWebConfigReload(true);
        log.info(
          {
            event: 'web_config_reloaded',
            file: next.source,
            certificate_serial: next.tls?.certificate.serial ?? null,
            certificate_not_after: next.tls?.certificate.notAfter ?? null,
            users: next.users.size,
          },
          'web config read again',
        );
      },
      onError: (error) => {
        this.metrics.recordWebConfigReload(false);
        log.error(
          { event: 'web_config_reload_failed', file: initial.source, err: error },
          'web config change rejected; the previous settings stay',
        );
      },
    });
    this.#webWatcher.start();
  }

  #saveCache(): Promise<void> {
    return this.#capabilities.save().catch((err: unknown) => {
      this.#log.warn(
        { event: 'capability_cache_save_failed', err },
        'could not save the capability cache',
      );
    });
  }

  /**
   * Re-reads the config. A bad new config is rejected and counted, and the running one
   * stays. Mailboxes, rules and notifiers take effect at once; `server.listen`,
   * `state_dir` and `scheduler` limits need a restart (logged). Reloads run one at a
   * time (SIGHUP and POST /-/reload may come together); none is applied once stop() began.
   */
  reload(): Promise<ReloadOutcome> {
    const run = this.#reloading.then(() => this.#reload());
    this.#reloading = run.then(
      () => undefined,
      () => undefined,
    );
    return run;
  }

  #reloadFailed(message: string): ReloadOutcome {
    this.metrics.recordReload(false, this.#clock.now());
    this.#reloadState = { ok: false, at: this.#clock.now(), error: message };
    this.#log.error(
      { event: 'reload_failed', err: message },
      'config reload rejected; the previous config keeps running',
    );
    return { ok: false, error: message };
  }

  async #reload(): Promise<ReloadOutcome> {
    if (!this.#options.reloadConfig)
      return { ok: false, error: 'this instance has no config file to reload' };
    await this.#startSettled();
    if (this.#stopping) return { ok: false, error: 'shutting down' };
    let next: Config;
    try {
      next = this.#options.reloadConfig();
    } catch (error) {
      return this.#reloadFailed(error instanceof Error ? error.message : String(error));
    }
    const previous = this.#config;
    // sameConfig compares Secrets by value (a changed bearer token is a change too).
    for (const [field, same] of [
      ['server', sameConfig(previous.server, next.server)],
      ['state_dir', previous.state_dir === next.state_dir],
      ['scheduler', sameConfig(previous.scheduler, next.scheduler)],
    ] as const) {
      if (!same)
        this.#log.warn(
          { event: 'reload_needs_restart', field },
          `a change of ${field} takes effect after a restart`,
        );
    }
    const config: Config = {
      ...next,
      server: previous.server,
      state_dir: previous.state_dir,
      scheduler: previous.scheduler,
    };
    const mailboxes = this.#mailboxes(config);
    this.#scheduler.setMailboxes(mailboxes);
    this.#watchMailboxes(mailboxes);
    this.#config = config;
    this.#secrets = configSecrets(config);
    this.#capabilities.clear();
    this.#tlsSessions.clear();
    this.metrics.setMailboxPhases(config.metrics.mailbox_phases);
    this.metrics.setMailboxes(mailboxes);
    const loops = loopsOf(config, mailboxes);
    this.#flow.configure(loops, mailboxes);
    this.#engine.reconfigure(config.alerting, mailboxes, flowTargets(loops, mailboxes));
    if (!sameConfig(notifierSettings(previous.alerting), notifierSettings(config.alerting))) {
      try {
        await this.#outbox.close(OUTBOX_HANDOVER_MS);
        this.#outbox = this.#createOutbox(config.alerting);
        await this.#outbox.open();
      } catch (error) {
        // The mailboxes and rules are in place; what failed is the outbox (its directory).
        return this.#reloadFailed(
          `the alert outbox could not be reopened: ${error instanceof Error ? error.message : String(error)}`,
        );
      }
    }
    this.metrics.recordReload(true, this.#clock.now());
    this.#reloadState = { ok: true, at: this.#clock.now(), error: null };
    this.#log.info({ event: 'reloaded', mailboxes: mailboxes.length }, 'config reloaded');
    return { ok: true };
  }

  /** Graceful stop: no new probes, in-flight ones finish or time out, alerts are flushed to the outbox. */
  stop(): Promise<void> {
    this.#stopping ??= this.#stop();
    return this.#stopping;
  }

  async #stop(): Promise<void> {
    await this.#startSettled();
    // A reload half-way through (swapping the outbox) finishes before the outbox closes.
    await this.#reloading;
    this.#log.info({ event: 'stopping' }, 'stopping: waiting for probes in flight');
    if (this.#saveTimer) this.#clock.clearTimeout(this.#saveTimer);
    this.#webWatcher?.stop();
    await this.#scheduler.stop();
    await this.#flow.stop();
    await this.#engine.flush();
    this.#engine.stop();
    await this.#outbox.drain(5_000);
    await this.#outbox.close();
    await this.#saveCache();
    await this.#http?.close();
    this.#log.info({ event: 'stopped', outbox_pending: this.#outbox.pending() }, 'stopped');
  }
}
