// Small stream stages used by the backup commands: byte counting with throttled progress
// reports and an optional sha256, and a gate that holds end-of-stream until a producer process
// has exited successfully.
import { createHash, type Hash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';

export interface ByteMeterOptions {
  sha256?: boolean;
  onProgress?: (bytes: number) => void;
  everyMs?: number;
  /** Called once, when the first bytes pass. */
  onFirstBytes?: () => void;
}

export class ByteMeter extends Transform {
  bytes = 0;
  private readonly hash: Hash | undefined;
  // Starts now: the first report comes one interval in, not on the first byte.
  private lastReport = Date.now();
  private readonly opts: ByteMeterOptions;

  constructor(opts: ByteMeterOptions = {}) {
    super();
    this.opts = opts;
    this.hash = opts.sha256 ? createHash('sha256') : undefined;
  }

  override _transform(data: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    if (this.bytes === 0 && data.length > 0) this.opts.onFirstBytes?.();
    this.bytes += data.length;
    this.hash?.update(data);
    const now = Date.now();
    if (this.opts.onProgress && now - this.lastReport >= (this.opts.everyMs ?? 5000)) {
      this.lastReport = now;
      this.opts.onProgress(this.bytes);
    }
    done(null, data);
  }

  /** Hex sha256 of everything that passed (only once the stream has ended). */
  digest(): string {
    if (!this.hash) throw new Error('ByteMeter was created without sha256');
    return this.hash.digest('hex');
  }
}

/**
 * Passes data through, but only ends once `exited` resolves, and fails the stream when it
 * rejects. Placed after pg_dump's stdout, it keeps a dump cut short by a pg_dump error from
 * being sealed as a complete-looking backup object.
 */
export class ExitGate extends Transform {
  private readonly exited: Promise<void>;
  constructor(exited: Promise<void>) {
    super();
    this.exited = exited;
  }
  override _transform(data: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    done(null, data);
  }
  override _flush(done: TransformCallback): void {
    this.exited.then(
      () => done(),
      (e: Error) => done(e),
    );
  }
}

/**
 * Passes data through while hashing it, and fails the stream at its end, instead of ending it, when
 * the sha256 is not `expected`. Placed before a DecryptStream (which always holds the last chunk back
 * until the end), it keeps a second read that returned other bytes than the verified ones from
 * releasing that last chunk: a restore fed by it never completes.
 */
export class Sha256Gate extends Transform {
  private readonly hash = createHash('sha256');
  private readonly expected: string;
  private readonly what: string;
  constructor(expected: string, what: string) {
    super();
    this.expected = expected;
    this.what = what;
  }
  override _transform(data: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    this.hash.update(data);
    done(null, data);
  }
  override _flush(done: TransformCallback): void {
    const got = this.hash.digest('hex');
    if (got === this.expected) done();
    else
      done(
        new Error(
          `${this.what} changed between verification and use (sha256 ${got}, verified ${this.expected})`,
        ),
      );
  }
}
