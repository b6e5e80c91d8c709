import { inspect } from 'node:util';

const MASK = '***';

/**
 * A credential that cannot be printed by accident: JSON, string conversion and
 * util.inspect (which pino and console use) all show a mask. Only `reveal()` gives the
 * value, and only the code that puts it on the wire calls it.
 */
export class Secret {
  readonly #value: string;

  constructor(value: string) {
    this.#value = value;
  }

  reveal(): string {
    return this.#value;
  }

  get length(): number {
    return this.#value.length;
  }

  toJSON(): string {
    return MASK;
  }

  toString(): string {
    return MASK;
  }

  [inspect.custom](): string {
    return MASK;
  }
}

export const SECRET_MASK = MASK;
