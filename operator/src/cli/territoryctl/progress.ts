// Progress of long transfers, on stderr so stdout stays clean for scripts. On a terminal one line is
// rewritten in place; in a log (CI, kubectl plugin piped) a line is written every few seconds.

const MIB = 1024 * 1024;

export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < MIB) return `${(bytes / 1024).toFixed(1)} KiB`;
  if (bytes < 1024 * MIB) return `${(bytes / MIB).toFixed(1)} MiB`;
  return `${(bytes / 1024 / MIB).toFixed(2)} GiB`;
}

export interface Progress {
  /** Report the bytes done so far; throttled. */
  update(bytes: number): void;
  /** Final line, always written. */
  done(bytes: number): void;
}

export function progress(
  label: string,
  total: number | undefined,
  stream: NodeJS.WriteStream = process.stderr,
): Progress {
  const tty = stream.isTTY === true;
  const everyMs = tty ? 200 : 5000;
  const started = Date.now();
  let last = 0;
  const line = (bytes: number) => {
    const seconds = Math.max((Date.now() - started) / 1000, 0.001);
    const of = total ? ` / ${formatBytes(total)} (${Math.min(100, Math.floor((bytes / total) * 100))}%)` : '';
    return `${label}: ${formatBytes(bytes)}${of}, ${formatBytes(bytes / seconds)}/s`;
  };
  return {
    update(bytes) {
      const now = Date.now();
      if (now - last < everyMs) return;
      last = now;
      stream.write(tty ? `\r\u001b[2K${line(bytes)}` : `${line(bytes)}\n`);
    },
    done(bytes) {
      stream.write(tty ? `\r\u001b[2K${line(bytes)}\n` : `${line(bytes)}\n`);
    },
  };
}
