// The serial console: Ctrl-A escapes on a TTY, batched output to a file.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { EscapeParser, SerialConsole } from '../../src/vmm/console.js';
import { formatRegisters } from '../../src/vmm/registers.js';
import { kvmRegsOf, kvmSregsOf } from '../../src/vmm/cpu-setup.js';
import { resetState } from '../../src/arch/x86/boot-state.js';

const bytes = (s: string) => new TextEncoder().encode(s);

describe('EscapeParser', () => {
  it('passes ordinary input through, Ctrl-C included', () => {
    expect(new EscapeParser().feed(bytes('ls\r\x03'))).toEqual({ forward: bytes('ls\r\x03'), quit: false, help: false });
  });

  it('quits on Ctrl-A x, forwarding what came before', () => {
    expect(new EscapeParser().feed(bytes('ab\x01xcd'))).toEqual({ forward: bytes('ab'), quit: true, help: false });
  });

  it('sends Ctrl-A for Ctrl-A Ctrl-A, shows help for Ctrl-A h, drops unknown escapes', () => {
    expect(new EscapeParser().feed(Uint8Array.of(0x01, 0x01, 0x41, 0x01, 0x68, 0x01, 0x7a, 0x42))).toEqual({
      forward: Uint8Array.of(0x01, 0x41, 0x42),
      quit: false,
      help: true,
    });
  });

  it('keeps an escape across chunks', () => {
    const p = new EscapeParser();
    expect(p.feed(bytes('a\x01')).quit).toBe(false);
    expect(p.feed(bytes('x'))).toEqual({ forward: new Uint8Array(0), quit: true, help: false });
  });
});

describe('SerialConsole', () => {
  it('writes guest output to a file, batched until the event loop turns, and flushes on close', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'igvm-console-'));
    try {
      const path = join(dir, 'serial.log');
      const c = new SerialConsole({ path }, { onQuit: () => undefined, notice: () => undefined });
      for (const b of bytes('boot\n')) c.write(b);
      expect(readFileSync(path, 'utf8')).toBe('');
      await new Promise((r) => setImmediate(r));
      expect(readFileSync(path, 'utf8')).toBe('boot\n');
      for (const b of new Uint8Array(5000).fill(0x2e)) c.write(b);
      expect(readFileSync(path, 'utf8').length).toBe(5 + 4096); // a full buffer is written at once
      c.write(0x21);
      c.close();
      c.write(0x3f); // ignored once closed
      expect(readFileSync(path, 'utf8')).toBe(`boot\n${'.'.repeat(5000)}!`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('formatRegisters', () => {
  it('prints GPRs, segments, tables and control registers', () => {
    const state = resetState();
    const text = formatRegisters(kvmRegsOf(state), kvmSregsOf(state));
    expect(text.split('\n')).toHaveLength(16);
    expect(text).toContain('RIP=000000000000fff0 RFL=0000000000000002');
    expect(text).toContain('CS =f000 base=00000000ffff0000 limit=0000ffff type=b s=1 dpl=0 p=1 db=0 l=0 g=0');
    expect(text).toContain('CR0=0000000060000010');
    expect(text).toContain('APIC_BASE=00000000fee00900');
  });
});
