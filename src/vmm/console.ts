/**
 * The serial console: what the guest writes to COM1 goes to stdout or a file (batched, flushed
 * once per event-loop turn); stdin goes to the guest, raw on a TTY, where Ctrl-A x quits and
 * Ctrl-A Ctrl-A sends a Ctrl-A, as in QEMU's -serial mon:stdio.
 */
import { closeSync, openSync, writeSync } from 'node:fs';

export const ESCAPE_CHAR = 0x01; // Ctrl-A

export const ESCAPE_HELP = 'C-a x    exit\r\nC-a h    this help\r\nC-a C-a  send C-a\r\n';

export interface EscapeResult {
  /** Bytes for the guest. */
  readonly forward: Uint8Array;
  readonly quit: boolean;
  readonly help: boolean;
}

/** Ctrl-A escape sequences in console input. State carries across chunks. */
export class EscapeParser {
  private escaped = false;

  feed(bytes: Uint8Array): EscapeResult {
    const forward: number[] = [];
    let help = false;
    for (const b of bytes) {
      if (!this.escaped) {
        if (b === ESCAPE_CHAR) this.escaped = true;
        else forward.push(b);
        continue;
      }
      this.escaped = false;
      if (b === 0x78 /* x */ || b === 0x58 /* X */) return { forward: Uint8Array.from(forward), quit: true, help };
      if (b === ESCAPE_CHAR) forward.push(ESCAPE_CHAR);
      else if (b === 0x68 /* h */ || b === 0x3f /* ? */) help = true;
      // Other escapes mean nothing here and are dropped, as QEMU does.
    }
    return { forward: Uint8Array.from(forward), quit: false, help };
  }
}

export type SerialTarget = 'stdio' | { readonly path: string };

export interface ConsoleEvents {
  /** Ctrl-A x on the TTY. */
  readonly onQuit: () => void;
  /** Text for the user (escape help). */
  readonly notice: (text: string) => void;
}

const FLUSH_AT = 4096;

export class SerialConsole {
  private readonly buffer = new Uint8Array(FLUSH_AT);
  private length = 0;
  private flushQueued = false;
  private readonly fd: number | undefined;
  private detachInput: (() => void) | undefined;
  private closed = false;

  constructor(
    readonly target: SerialTarget,
    private readonly events: ConsoleEvents,
  ) {
    this.fd = target === 'stdio' ? undefined : openSync(target.path, 'w');
  }

  /** One byte from the guest. */
  write(byte: number): void {
    if (this.closed) return;
    this.buffer[this.length++] = byte;
    if (this.length === FLUSH_AT) this.flush();
    else if (!this.flushQueued) {
      this.flushQueued = true;
      setImmediate(() => this.flush());
    }
  }

  flush(): void {
    this.flushQueued = false;
    if (this.length === 0) return;
    const out = this.buffer.slice(0, this.length);
    this.length = 0;
    if (this.fd === undefined) process.stdout.write(out);
    else writeSync(this.fd, out);
  }

  /** Feed stdin to `deliver` (only for the stdio console; a file console has no input). */
  attachInput(deliver: (bytes: Uint8Array) => void): void {
    if (this.target !== 'stdio' || this.detachInput) return;
    let stdin: NodeJS.ReadStream;
    try {
      stdin = process.stdin;
    } catch {
      return; // no usable standard input
    }
    const raw = stdin.isTTY === true;
    const parser = raw ? new EscapeParser() : undefined;
    const onData = (chunk: Buffer) => {
      if (!parser) return deliver(new Uint8Array(chunk));
      const r = parser.feed(new Uint8Array(chunk));
      if (r.forward.length > 0) deliver(r.forward);
      if (r.help) this.events.notice(ESCAPE_HELP);
      if (r.quit) this.events.onQuit();
    };
    const onError = () => undefined; // a closed or broken stdin just means no input
    if (raw) stdin.setRawMode(true);
    stdin.on('data', onData);
    stdin.on('error', onError);
    stdin.resume();
    this.detachInput = () => {
      stdin.off('data', onData);
      stdin.off('error', onError);
      if (raw) stdin.setRawMode(false);
      stdin.pause();
      // A paused pipe or TTY handle would still keep the process alive after the run.
      if (typeof stdin.unref === 'function') stdin.unref();
    };
  }

  close(): void {
    if (this.closed) return;
    this.flush();
    this.closed = true;
    this.detachInput?.();
    this.detachInput = undefined;
    if (this.fd !== undefined) closeSync(this.fd);
  }
}
