/** Where the CLI writes, and where it runs; the real process's by default. */
export interface CliIo {
  /** Results: tables, JSON, progress. */
  readonly stdout: CliStream;
  /** Errors and warnings, one line each. */
  readonly stderr: CliStream;
  /** The directory the config is looked for in. */
  readonly cwd: string;
  /** Resolves when the user asks a long-running command to stop (SIGINT or SIGTERM). */
  readonly stopRequested: () => Promise<string>;
  /** The environment (`DATABASE_URL` for `annals migrate` without a config). @defaultValue `process.env` */
  readonly env?: Readonly<Record<string, string | undefined>>;
}

/** The part of a writable stream the CLI uses. */
export interface CliStream {
  write(text: string): unknown;
  /** True on a terminal: progress is drawn as a bar instead of lines. */
  readonly isTTY?: boolean;
  /** Terminal width in characters. */
  readonly columns?: number;
}

/** The CLI's I/O on the current process. */
export function processIo(): CliIo {
  return {
    stdout: process.stdout,
    stderr: process.stderr,
    cwd: process.cwd(),
    stopRequested: () =>
      new Promise((resolve) => {
        const stop = (signal: string) => {
          process.off('SIGINT', stop);
          process.off('SIGTERM', stop);
          resolve(signal);
        };
        process.on('SIGINT', stop);
        process.on('SIGTERM', stop);
      }),
  };
}

/** Writes one line. */
export function writeLine(stream: CliStream, line = ''): void {
  stream.write(`${line}\n`);
}
