/**
 * The steps of a POP3 session, in order: where its time goes and where a failure happened.
 * With pipelining several commands leave together; each phase then ends when its own
 * reply arrives (see docs/PHASES.md).
 */
export const POP3_PHASES = [
  'dns',
  'connect',
  'tls',
  'greeting',
  'capa',
  'stls',
  'auth',
  'stat',
  'noop',
  'uidl',
  'top',
  // DELE of a delivery loop's own probe messages (cleanup: true only).
  'dele',
  'quit',
] as const;
export type Pop3Phase = (typeof POP3_PHASES)[number];
