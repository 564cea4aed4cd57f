/**
 * The serial console: what the guest writes to COM1 (on whichever vCPU thread) lands in an
 * OutputRing, which the main thread drains to stdout or a file in batches, whenever the ring
 * becomes non-empty and once more on close, so nothing written before the end is lost; stdin goes
 * to the guest, raw on a TTY, where Ctrl-A x quits and Ctrl-A Ctrl-A sends a Ctrl-A, as in QEMU's
 * -serial mon:stdio.
 */
import { closeSync, openSync, writeSync } from 'node:fs';
import { OutputRing } from './output-ring.js';

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

export class SerialConsole {
  private readonly fd: number | undefined;
  private detachInput: (() => void) | undefined;
  private closed = false;
  private cancelWait: (() => void) | undefined;

  constructor(
    readonly target: SerialTarget,
    private readonly events: ConsoleEvents,
    /** Where the UARTs of the vCPU threads put the bytes (see output-ring.ts). */
    readonly ring: OutputRing = new OutputRing(),
  ) {
    this.fd = target === 'stdio' ? undefined : openSync(target.path, 'w');
    this.drainLoop();
  }

  /** One byte from the guest (what the UART's transmit does on any thread, holding the device lock). */
  write(byte: number): void {
    if (!this.closed) this.ring.put(byte);
  }

  /** Write out what the ring holds now. */
  flush(): void {
    for (let out = this.ring.take(); out; out = this.ring.take()) {
      if (this.fd === undefined) process.stdout.write(out);
      else writeSync(this.fd, out);
    }
  }

  private drainLoop(): void {
    if (this.closed) return;
    const wait = this.ring.waitForData();
    this.cancelWait = wait.cancel;
    void wait.promise.then(() => {
      this.cancelWait = undefined;
      if (this.closed) return;
      this.flush();
      this.drainLoop();
    });
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
    this.cancelWait?.();
    this.detachInput?.();
    this.detachInput = undefined;
    if (this.fd !== undefined) closeSync(this.fd);
  }
}
