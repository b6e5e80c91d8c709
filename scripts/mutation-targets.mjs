// The mutation targets: what each mutates, and the unit tests each mutant runs against.
// Shared by scripts/mutation.mjs and scripts/mutation-recheck.mjs.
export const TARGETS = {
  alerts: {
    what: 'alert rules',
    mutate: ['src/alerts/rules.ts', 'src/alerts/builtin-rules.ts'],
    tests: 'test/unit/alerts/*.test.ts',
  },
  config: {
    what: 'the config schema, its messages and durations',
    mutate: ['src/config/schema.ts', 'src/config/zod-issues.ts', 'src/config/duration.ts'],
    tests: 'test/unit/config/*.test.ts',
  },
  pop3: {
    what: 'the POP3 framer, reply parsers and mail-date parser',
    mutate: ['src/pop3/framing.ts', 'src/pop3/responses.ts', 'src/pop3/mail-date.ts'],
    tests: 'test/unit/pop3/*.test.ts',
  },
  schedule: {
    what: 'the schedule (spread, limits, overlap, watchdog, node-cron tasks)',
    mutate: ['src/schedule/*.ts'],
    tests: 'test/unit/schedule/*.test.ts',
  },
  probe: {
    what: 'redaction of probe results, and the probe gate (auth backoff, LOGIN-DELAY)',
    mutate: ['src/probe/redact.ts', 'src/probe/gate.ts'],
    tests: 'test/unit/probe/*.test.ts',
  },
  secret: {
    what: 'the secret mask and the redaction algorithm',
    mutate: ['src/secret.ts'],
    tests: 'test/unit/*.test.ts',
  },
};
