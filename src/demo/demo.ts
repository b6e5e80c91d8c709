import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { App } from '../app.js';
import { loadConfig } from '../config/load.js';
import { createLogger } from '../log.js';
import {
  type DemoAccount,
  type DemoPop3Server,
  demoMessage,
  startDemoPop3Server,
} from './demo-pop3-server.js';
import { formatMail } from './print-mail.js';
import { type SmtpCapture, startSmtpCapture } from './smtp-capture.js';

export interface DemoOptions {
  version: string;
  /** host:port for /metrics; default 0.0.0.0:9469 (or $DEMO_LISTEN). */
  listen?: string | undefined;
  /** Stop by itself after this many ms (tests); default: run until a signal. */
  durationMs?: number;
  out?: (text: string) => void;
}

/** The address a person opens for a listen address (0.0.0.0 and :: mean this machine). */
function externalUrl(listen: string): string {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d+)$/.exec(listen);
  if (!m) return 'http://localhost:9469/';
  const host = m[1] ?? m[2] ?? '';
  const name = host === '' || host === '0.0.0.0' || host === '::' ? 'localhost' : host;
  return `http://${name.includes(':') ? `[${name}]` : name}:${m[3]}/`;
}

export const DEMO_CONFIG = fileURLToPath(new URL('../../config/demo.yaml', import.meta.url));

const HOUR = 3_600_000;
/** Where the demo's delivery loop sends (config/demo.yaml), and which of its messages is lost. */
const DEMO_LOOP_RECIPIENT = 'flow@demo.test';
const DROPPED_PROBE = 3;

/**
 * `pop3-monitor demo`: the whole loop on loopback. A demo POP3 server whose `invoices`
 * mailbox fills up and whose oldest message is two hours old, a drained `support`
 * mailbox, a `legacy` mailbox configured with a wrong password, an SMTP capture that
 * prints the alert emails, and the daemon itself polling them with config/demo.yaml.
 */
export async function runDemo(options: DemoOptions): Promise<number> {
  const out = options.out ?? ((text: string) => process.stdout.write(text));
  // Listening from the very start, so a Ctrl-C during start-up still stops what was
  // started and removes the temp state dir; and on to the end (not once), so a repeated
  // Ctrl-C (npx forwards it a second time) cannot kill the clean-up.
  let requestStop: () => void = () => {};
  const stopRequested = new Promise<void>((resolve) => {
    requestStop = resolve;
  });
  const onSignal = () => requestStop();
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const deadline = options.durationMs ? setTimeout(onSignal, options.durationMs) : undefined;
  deadline?.unref();

  const now = Date.now();
  const accounts: DemoAccount[] = [
    {
      user: 'invoices',
      password: 'demo-invoices',
      messages: [
        demoMessage(1, new Date(now - 2 * HOUR)),
        demoMessage(2, new Date(now - 30 * 60_000)),
      ],
    },
    {
      user: 'support',
      password: 'demo-support',
      messages: [demoMessage(3, new Date(now - 60_000))],
    },
    { user: 'legacy', password: 'the-real-legacy-password', messages: [] },
    // The delivery loop's mailbox: the SMTP capture delivers its probe messages here.
    { user: 'flow', password: 'demo-flow', messages: [] },
  ];
  const stateDir = mkdtempSync(join(tmpdir(), 'pop3-monitor-demo-'));
  let pop3: DemoPop3Server | undefined;
  let smtp: SmtpCapture | undefined;
  let app: App | undefined;
  let arrivals: NodeJS.Timeout | undefined;
  let drain: NodeJS.Timeout | undefined;
  try {
    pop3 = await startDemoPop3Server(accounts);
    const mailServer = pop3;
    let probes = 0;
    smtp = await startSmtpCapture((mail) => {
      if (!mail.to.includes(DEMO_LOOP_RECIPIENT)) {
        out(`\n${formatMail(mail.data)}\n`);
        return false;
      }
      probes += 1;
      // One probe message goes missing, as mail sometimes does: delivery_lost fires.
      if (probes === DROPPED_PROBE) {
        out(
          `\ndemo: the SMTP capture drops delivery probe message #${probes}; the loop counts it lost after its 20 s deadline.\n`,
        );
      } else {
        mailServer.deliver('flow', mail.data);
      }
      return true;
    });
    const loopKey = join(stateDir, 'loop-key');
    writeFileSync(loopKey, randomBytes(32).toString('base64'), { mode: 0o600 });
    const env = {
      ...process.env,
      DEMO_POP3_PORT: String(pop3.port),
      DEMO_SMTP_PORT: String(smtp.port),
      DEMO_STATE_DIR: stateDir,
      DEMO_LOOP_KEY_FILE: loopKey,
      ...(options.listen
        ? { DEMO_LISTEN: options.listen, DEMO_EXTERNAL_URL: externalUrl(options.listen) }
        : {}),
    };
    const readConfig = () => loadConfig(DEMO_CONFIG, { env });
    const logger = createLogger({
      format: process.env.POP3_MONITOR_LOG_FORMAT === 'json' ? 'json' : 'pretty',
    });
    app = new App(readConfig(), { version: options.version, logger, reloadConfig: readConfig });

    let n = 10;
    const server = pop3;
    arrivals = setInterval(() => server.deliver('invoices', demoMessage(n++, new Date())), 4_000);
    drain = setInterval(() => {
      const support = accounts.find((a) => a.user === 'support');
      if (support)
        support.messages.splice(0, support.messages.length, demoMessage(n++, new Date()));
    }, 15_000);

    await app.start();
    const address = app.address;
    const host =
      address && address.host !== '0.0.0.0' && address.host !== '::' ? address.host : 'localhost';
    const base = `http://${host.includes(':') ? `[${host}]` : host}:${address?.port ?? 9469}`;
    out(
      [
        '',
        'pop3-monitor demo: everything runs on this machine, nothing is sent outside.',
        `  demo POP3 server   127.0.0.1:${pop3.port}  (mailboxes invoices, support, legacy, flow)`,
        `  demo SMTP capture  127.0.0.1:${smtp.port}  (alert emails are printed below)`,
        `  status page        ${base}/   (every mailbox; ${base}/mailboxes/legacy shows what the server said)`,
        `  metrics            ${base}/metrics`,
        '                     pop3_up, pop3_messages, pop3_probe_duration_seconds per mailbox;',
        '                     pop3_phase_duration_seconds per server (and per mailbox here)',
        `  health             ${base}/healthz   ${base}/readyz`,
        '  invoices fills up by one message every 4 s; legacy has a wrong password configured.',
        `  delivery loop: a signed probe message every 10 s through the SMTP capture into flow;`,
        `  pop3_delivery_duration_seconds shows its delivery time; probe message #${DROPPED_PROBE} is dropped (lost).`,
        '  Expect: login_failed and stale_mail alert emails within seconds, backlog within a minute.',
        '  Stop with Ctrl-C.',
        '',
      ].join('\n'),
    );
    await stopRequested;
  } finally {
    clearTimeout(deadline);
    clearInterval(arrivals);
    clearInterval(drain);
    // Whatever failed, everything started is stopped and the temp dir goes; a failure
    // here must not hide the error that brought us here.
    await app?.stop().catch(() => undefined);
    await Promise.all([pop3?.close(), smtp?.close()]).catch(() => undefined);
    rmSync(stateDir, { recursive: true, force: true });
    // The signal listeners stay until the process exits (the CLI exits right after):
    // without one, a repeated Ctrl-C would kill it by signal instead of exit 0.
  }
  out(`demo stopped; ${smtp.messages.length} alert email(s) were sent.\n`);
  return 0;
}
