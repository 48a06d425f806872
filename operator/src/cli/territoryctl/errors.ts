// Errors territoryctl shows to a human: one line saying what went wrong and one saying what to do.
// Anything else that escapes a command is a bug and is shown with its stack.

export const EXIT = {
  ok: 0,
  /** The command ran and found a problem (invalid Territory, failed check, failed export). */
  failure: 1,
  /** The command could not run: bad usage, no cluster, missing permission or file. */
  usage: 2,
} as const;

export class CliError extends Error {
  override name = 'CliError';
  readonly exitCode: number;
  /** What the user can do about it, shown after the message. */
  readonly hint: string | undefined;

  constructor(message: string, opts: { hint?: string; exitCode?: number } = {}) {
    super(message);
    this.exitCode = opts.exitCode ?? EXIT.failure;
    this.hint = opts.hint;
  }
}
