/**
 * The one error class of this code base: a `code` from the closed union of the layer that
 * throws it (a POP3 failure's code is the probe's `reason`), a message that never holds a
 * secret, and the cause kept. Each layer subclasses it once; `name` is the subclass's.
 */
export class CodedError<C extends string> extends Error {
  readonly code: C;

  constructor(code: C, message: string, options: { cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
  }
}
