/**
 * Real guests on real KVM: tiny IGVM files (32-bit and 64-bit entry) that print to COM1 and leave
 * through isa-debug-exit, a reset with noReboot, a triple fault, two vCPUs. They need a usable
 * /dev/kvm; without one they are skipped and the reason is printed once.
 */
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { longMode64Context, protectedMode32Context } from '../../src/arch/x86/native-context.js';
import { IgvmBuilder, parseIgvm, type ParsedIgvm } from '../../src/format/index.js';
import { runIgvm, type RunOptions } from '../../src/vmm/vm-runner.js';
import { identityPageTables } from '../../src/build/long-mode.js';
import { repoRoot } from './bundle.js';
import { GuestRunner, kvmHost, kvmSkipReason } from './kvm-harness.js';

const reason = kvmSkipReason();
if (reason) console.log(`[vmm kvm] skipping the tests that run guests on KVM: ${reason}`);

const ENTRY = 0x10_0000n;

/** mov dx, port; mov al, c; out dx, al (for each c); mov dx, 0xf4; mov eax, code; out dx, eax; hlt. Same bytes in 32- and 64-bit mode. */
function printAndExit(text: string, code: number): Uint8Array {
  const out = [0x66, 0xba, 0xf8, 0x03];
  for (const c of text) out.push(0xb0, c.charCodeAt(0), 0xee);
  out.push(0x66, 0xba, 0xf4, 0x00, 0xb8, code & 0xff, (code >> 8) & 0xff, 0, 0, 0xef, 0xf4);
  return Uint8Array.from(out);
}

/** Identity map of the first GiB with 2 MiB pages, at 0x3000. */
function pageTables(b: IgvmBuilder): bigint {
  const tables = identityPageTables({ base: 0x3000n, mapSize: 1n << 30n });
  b.addPageData(0x3000n, tables.bytes);
  return tables.cr3;
}

function file32(code: Uint8Array): ParsedIgvm {
  const b = new IgvmBuilder();
  b.addPlatform('NATIVE');
  b.addPageData(ENTRY, code);
  b.setNativeContext(protectedMode32Context({ entry: ENTRY, gdtrBase: 0n, gdtrLimit: 0 }));
  return parseIgvm(b.serialize());
}

function file64(code: Uint8Array): ParsedIgvm {
  const b = new IgvmBuilder();
  b.addPlatform('NATIVE');
  b.addPageData(ENTRY, code);
  const cr3 = pageTables(b);
  b.setNativeContext(longMode64Context({ entry: ENTRY, stack: 0x8000n, gdtrBase: 0n, gdtrLimit: 0, cr3 }));
  return parseIgvm(b.serialize());
}

describe.skipIf(reason !== undefined)('guests on KVM', () => {
  const runner = new GuestRunner({ memory: 64n << 20n, timeoutMs: 20_000 });
  beforeAll(() => runner.start());
  afterAll(() => runner.dispose());
  const run = (file: ParsedIgvm, options: Partial<RunOptions> = {}) => runner.run(file, options);

  it('runs 32-bit protected-mode code: COM1 output, then isa-debug-exit', async () => {
    const { result, serial } = await run(file32(printAndExit('OK\n', 0x10)));
    expect(serial).toBe('OK\n');
    expect(result).toMatchObject({ exitStatus: 0x21, boots: 1 });
  });

  it('runs 64-bit code under the file page tables', async () => {
    const { result, serial } = await run(file64(printAndExit('64', 0x20)));
    expect(serial).toBe('64');
    expect(result.exitStatus).toBe(0x41);
  });

  it('runs with four vCPUs, the APs waiting for SIPI', async () => {
    const { result, serial } = await run(file64(printAndExit('smp', 0)), { vcpus: 4 });
    expect(serial).toBe('smp');
    expect(result.exitStatus).toBe(1);
  });

  it('turns the i8042 reset into exit status 0 with noReboot', async () => {
    // mov al, 0xfe; out 0x64, al; hlt
    const { result } = await run(file32(Uint8Array.of(0xb0, 0xfe, 0xe6, 0x64, 0xf4)), { noReboot: true });
    expect(result).toMatchObject({ exitStatus: 0, reason: 'the guest requested a reset (i8042 reset (command 0xfe on port 0x64)); not rebooting' });
  });

  // int3 with an empty IDT: on hardware KVM #GP, #DF, then shutdown (a triple fault, a reset that
  // noReboot turns into status 0). kvm_pvm cannot deliver the exception through an empty IDT and
  // reports an emulation failure instead: a fault, status 1. Both name the cause and the registers.
  it(`reports an int3 with an empty IDT with the registers (${kvmHost.kind === 'pvm' ? 'kvm_pvm: emulation failure' : 'triple fault'})`, async () => {
    const { result } = await run(file64(Uint8Array.of(0xcc)), { noReboot: true });
    if (kvmHost.kind === 'pvm') {
      expect(result.exitStatus).toBe(1);
      expect(result.reason).toMatch(/^vCPU 0: KVM_EXIT_INTERNAL_ERROR: suberror 1 \(emulation failure\)/);
      expect(result.reason).toMatch(/RIP=0+100000 /); // the int3
    } else {
      expect(result.exitStatus).toBe(0);
      expect(result.reason).toContain('triple fault (KVM_EXIT_SHUTDOWN)');
    }
    expect(result.reason).toContain('vCPU 0 registers:');
  });

  it('stops a spinning guest at the timeout', async () => {
    const { result } = await run(file32(Uint8Array.of(0xeb, 0xfe)), { timeoutMs: 500 }); // jmp $
    expect(result.exitStatus).toBe(124);
    // Where the vCPU spins: the jmp $ at the entry point.
    expect(result.reason).toMatch(/^timed out after 500 ms\nvCPU 0 registers:\nRAX=/);
    expect(result.reason).toMatch(/RIP=0+100000 /);
  });

  it('reboots on port 0xcf9 until the timeout, reloading the file each time', async () => {
    // mov dx, 0x3f8; mov al, 'r'; out dx, al; mov dx, 0xcf9; mov al, 6; out dx, al; hlt
    const code = Uint8Array.of(0x66, 0xba, 0xf8, 0x03, 0xb0, 0x72, 0xee, 0x66, 0xba, 0xf9, 0x0c, 0xb0, 0x06, 0xee, 0xf4);
    const { result, serial, log } = await run(file32(code), { timeoutMs: 1000 });
    expect(result.exitStatus).toBe(124);
    expect(result.boots).toBeGreaterThan(2);
    expect(serial).toBe('r'.repeat(serial.length));
    expect(serial.length).toBeGreaterThanOrEqual(result.boots - 1);
    expect(log[0]).toBe('guest reset: reset control register (0x6 to port 0xcf9); booting again');
  });

  it.skipIf(!existsSync(join(repoRoot, 'dist/vmm/vcpu-thread.js')))('runs through runIgvm with the built vCPU thread', async () => {
    const serial = join(mkdtempSync(join(tmpdir(), 'igvm-kvm-')), 'serial-runIgvm.txt');
    const result = await runIgvm(file32(printAndExit('run', 3)), { memory: 32n << 20n, vcpus: 2, serial: { path: serial }, timeoutMs: 20_000 });
    expect(readFileSync(serial, 'utf8')).toBe('run');
    expect(result.exitStatus).toBe(7);
  });
});
