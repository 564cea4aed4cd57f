// The serial console: Ctrl-A escapes on a TTY, batched output to a file.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { EscapeParser, SerialConsole } from '../../src/vmm/console.js';
import { OutputRing, RING_SOFT_LIMIT } from '../../src/vmm/output-ring.js';
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
  it('writes guest output to a file in batches, from the ring, and flushes on close', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'igvm-console-'));
    try {
      const path = join(dir, 'serial.log');
      const c = new SerialConsole({ path }, { onQuit: () => undefined, notice: () => undefined });
      for (const b of bytes('boot\n')) c.write(b);
      expect(readFileSync(path, 'utf8')).toBe(''); // written by the main thread's drain, not per byte
      for (let waited = 0; readFileSync(path, 'utf8') === '' && waited < 2000; waited += 5) await new Promise((r) => setTimeout(r, 5));
      expect(readFileSync(path, 'utf8')).toBe('boot\n');
      for (const b of new Uint8Array(5000).fill(0x2e)) c.write(b);
      c.write(0x21);
      c.close();
      c.write(0x3f); // ignored once closed
      expect(readFileSync(path, 'utf8')).toBe(`boot\n${'.'.repeat(5000)}!`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('OutputRing', () => {
  it('keeps the order across the wrap, counts what it cannot hold, and reports its fill', () => {
    const ring = new OutputRing(new SharedArrayBuffer(16 + 8));
    for (let i = 0; i < 6; i++) ring.put(i);
    expect(ring.take()).toEqual(Uint8Array.of(0, 1, 2, 3, 4, 5));
    for (let i = 6; i < 16; i++) ring.put(i); // 8 fit, 2 dropped
    expect(ring.used).toBe(8);
    expect(ring.dropped).toBe(2);
    expect(ring.take()).toEqual(Uint8Array.of(6, 7, 8, 9, 10, 11, 12, 13));
    expect(ring.take()).toBeUndefined();
  });

  it('wakes the consumer when it becomes non-empty', async () => {
    const ring = new OutputRing();
    const wait = ring.waitForData();
    ring.put(0x41);
    await wait.promise;
    expect(ring.take()).toEqual(Uint8Array.of(0x41));
  });

  it('lets a producer past the soft limit wait for room until told to stop', () => {
    const ring = new OutputRing();
    for (let i = 0; i < RING_SOFT_LIMIT; i++) ring.put(0x2e);
    let asked = 0;
    ring.waitForRoom(() => ++asked > 2, 1);
    expect(asked).toBe(3);
    ring.take();
    ring.waitForRoom(() => {
      throw new Error('no need to wait');
    });
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
