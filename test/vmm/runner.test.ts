/**
 * The runner end to end without KVM: real vCPU threads (src/vmm/vcpu-thread.ts bundled with the
 * scripted fixtures/fake-vcpu.ts in place of kvm/vcpu.ts), real guest memory (anonymous mappings),
 * the real loader, devices and exit dispatch; only the KVM calls of the machine are stand-ins.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BootCpuState } from '../../src/arch/x86/boot-state.js';
import { longMode64Context } from '../../src/arch/x86/native-context.js';
import { q35Layout } from '../../src/arch/x86/q35-layout.js';
import { IgvmBuilder, parseIgvm, type ParsedIgvm } from '../../src/format/index.js';
import { KVM_REGS } from '../../src/vmm/kvm/abi.js';
import { decodeSregs } from '../../src/vmm/kvm/codecs.js';
import { GuestMemory } from '../../src/vmm/memory.js';
import { runOn, type RunOptions, type VmBackend } from '../../src/vmm/vm-runner.js';
import { bundleSkipReason, repoRoot, WorkerBundles } from './bundle.js';

if (bundleSkipReason) console.log(`[vmm runner] skipping: ${bundleSkipReason}`);

class FakeMachine implements VmBackend {
  readonly memory: GuestMemory;
  /** No VM: the vCPU threads' KVM_IRQ_LINE is fixtures/fake-irq-line.ts. */
  readonly vmFd = -1;
  readonly vcpus: { fd: number; mmapSize: number }[];
  readonly cpuidVersion = 0x806f1;
  readonly boots: BootCpuState[] = [];
  readonly irqs: [number, boolean][] = [];

  constructor(fds: number[]) {
    this.memory = new GuestMemory(q35Layout(64n << 20n), fds.length, { setUserMemoryRegion: () => undefined });
    this.vcpus = fds.map((fd) => ({ fd, mmapSize: 4096 }));
  }

  /** What the marker RAM (outside the file) held at each boot; the first boot writes it. */
  readonly markers: number[] = [];

  applyBootState(bootCpu: BootCpuState): void {
    this.markers.push(this.memory.read(0x30_0000n, 1)[0]!);
    if (this.boots.length === 0) this.memory.write(0x30_0000n, Uint8Array.of(0x5a));
    this.boots.push(bootCpu);
  }

  irqLine(irq: number, level: boolean): void {
    this.irqs.push([irq, level]);
  }

  registers() {
    return { regs: { ...KVM_REGS.read(new Uint8Array(144)), rip: 0xdead_beefn }, sregs: decodeSregs(new Uint8Array(312)) };
  }

  close(): void {
    this.memory.close();
  }
}

function igvmFile(): ParsedIgvm {
  const b = new IgvmBuilder();
  b.addPlatform('NATIVE');
  b.addPageData(0x10_0000n, new TextEncoder().encode('guest code'));
  b.addPageData(0xffff_f000n, Uint8Array.of(0xf4)); // no RAM there: the loader creates it
  const area = b.addParameterArea(4096n);
  b.addParameter('COMMAND_LINE', area, 0);
  b.addParameterInsert(area, 0x20_0000n);
  b.setNativeContext(longMode64Context({ entry: 0x10_0000n, gdtrBase: 0x1000n, gdtrLimit: 0x17, cr3: 0x3000n }));
  return parseIgvm(b.serialize());
}

describe.skipIf(bundleSkipReason !== undefined)('runOn with scripted vCPU threads', () => {
  const bundles = new WorkerBundles();
  let script: URL;
  let dir = '';
  const machines: FakeMachine[] = [];

  beforeAll(async () => {
    script = await bundles.build('vcpu-thread', {
      entry: join(repoRoot, 'src/vmm/vcpu-thread.ts'),
      replace: {
        './kvm/vcpu.js': join(repoRoot, 'test/vmm/fixtures/fake-vcpu.ts'),
        './kvm/irq-line.js': join(repoRoot, 'test/vmm/fixtures/fake-irq-line.ts'),
      },
    });
    dir = bundles.scratch();
  });
  afterAll(() => {
    for (const m of machines) m.close();
    bundles.dispose();
  });

  function setup(fds: number[], options: Partial<RunOptions> = {}) {
    const machine = new FakeMachine(fds);
    machines.push(machine);
    const serial = join(dir, `serial-${fds.join('-')}-${machines.length}.txt`);
    const log: string[] = [];
    const run = () =>
      runOn(machine, igvmFile(), { memory: 64n << 20n, vcpus: fds.length, serial: { path: serial }, log: (l) => log.push(l), ...options }, script);
    return { machine, run, log, serialPath: serial, serial: () => readFileSync(serial, 'utf8') };
  }

  it('loads the file, runs, answers port reads and stops at isa-debug-exit', async () => {
    const t = setup([100], { cmdline: 'console=ttyS0', reportPath: join(dir, 'report.json') });
    const result = await t.run();
    expect(result).toMatchObject({
      exitStatus: 0x21,
      reason: 'the guest wrote 0x10 to isa-debug-exit (port 0xf4): exit status 33',
      boots: 1,
    });
    expect(t.serial()).toBe('hi`'); // "`" is 0x60, COM1's LSR as the vCPU thread received it
    expect(t.machine.boots).toHaveLength(1);
    expect(t.machine.boots[0]).toMatchObject({ rip: 0x10_0000n, cr3: 0x3000n, source: 'igvm-native-context' });
    expect(t.machine.boots[0]!.gprs.rdx).toBe(0n);
    expect(result.report.createdRam).toEqual([expect.objectContaining({ gpa: '0xfffff000', size: '0x1000' })]);
    expect(t.machine.memory.read(0x20_0000n, 13)).toEqual(new TextEncoder().encode('console=ttyS0'));
    expect(JSON.parse(readFileSync(join(dir, 'report.json'), 'utf8'))).toMatchObject({ createdRam: [{ gpa: '0xfffff000' }] });
  });

  it('reboots on a triple fault and on port 0xcf9, reloading the file into the same RAM', async () => {
    const t = setup([101]);
    const result = await t.run();
    expect(result).toMatchObject({ exitStatus: 1, boots: 3 });
    expect(t.serial()).toBe('ABC');
    expect(t.machine.boots).toHaveLength(3);
    expect(t.log[0]).toBe('guest reset: triple fault (KVM_EXIT_SHUTDOWN); booting again');
    expect(t.log[1]).toMatch(/^vCPU 0 before the reset:\nRAX=0000000000000000/);
    expect(t.log[1]).toContain('RIP=00000000deadbeef');
    expect(t.log[2]).toBe('guest reset: reset control register (0x6 to port 0xcf9); booting again');
    // A warm reset: RAM outside the file keeps its contents, the created region stays.
    expect(t.machine.markers).toEqual([0, 0x5a, 0x5a]);
    expect(result.report.createdRam).toEqual([]);
    expect(t.machine.memory.regionList.filter((r) => r.created)).toHaveLength(1);
    // The file's pages were written again.
    expect(new TextDecoder().decode(t.machine.memory.read(0x10_0000n, 10))).toBe('guest code');
  });

  it('turns a reset into exit status 0 with noReboot', async () => {
    const t = setup([104], { noReboot: true });
    const result = await t.run();
    expect(result).toMatchObject({
      exitStatus: 0,
      reason: 'the guest requested a reset (i8042 reset (command 0xfe on port 0x64)); not rebooting',
      boots: 1,
    });
    expect(t.serial()).toBe('k');
  });

  it('stops a running guest at the timeout, parking every vCPU', async () => {
    const t = setup([102, 200], { timeoutMs: 300 });
    const started = Date.now();
    const result = await t.run();
    expect(result).toMatchObject({ exitStatus: 124, boots: 1 });
    expect(result.reason).toMatch(/^timed out after 300 ms\nvCPU 0 registers:\nRAX=[^]*\nvCPU 1 registers:\nRAX=/);
    expect(Date.now() - started).toBeLessThan(5000);
    expect(t.serial()).toBe('x');
    expect(t.machine.boots).toHaveLength(1);
  });

  it('counts the timeout from startedAt, so that set-up time is part of it', async () => {
    const t = setup([102], { timeoutMs: 5000, startedAt: performance.now() - 10_000 });
    const started = Date.now();
    const result = await t.run();
    expect(result).toMatchObject({ exitStatus: 124, boots: 1 });
    expect(result.reason).toMatch(/^timed out after 5000 ms\n/);
    expect(Date.now() - started).toBeLessThan(5000);
  });

  it('reports an emulation failure with the vCPU registers', async () => {
    const t = setup([103]);
    const result = await t.run();
    expect(result.exitStatus).toBe(1);
    expect(result.reason).toMatch(/^vCPU 0: KVM_EXIT_INTERNAL_ERROR: suberror 1 \(emulation failure\), data 0xf\nvCPU 0 registers:\nRAX=/);
    expect(result.reason).toContain('RIP=00000000deadbeef');
  });

  it('resets every vCPU together and runs them all again', async () => {
    const t = setup([101, 200]);
    const result = await t.run();
    expect(result).toMatchObject({ exitStatus: 1, boots: 3 });
    expect(t.serial()).toBe('ABC');
  });

  it('stops on SIGINT', async () => {
    const t = setup([102]);
    const listeners = process.listenerCount('SIGINT');
    const running = t.run();
    // Once the guest has printed, the run is under way and listens for SIGINT (a fixed delay is
    // not enough on a loaded machine: a SIGINT before the vCPU threads start reaches nobody).
    for (let waited = 0; !existsSync(t.serialPath) || t.serial() !== 'x'; waited += 10) {
      if (waited > 20_000) throw new Error('the guest never printed');
      await new Promise((r) => setTimeout(r, 10));
    }
    process.emit('SIGINT');
    expect(await running).toMatchObject({ exitStatus: 130, reason: 'interrupted (SIGINT)' });
    expect(process.listenerCount('SIGINT')).toBe(listeners);
  });

  it('reports a failing KVM_RUN with the vCPU registers', async () => {
    const t = setup([105, 200]);
    const result = await t.run();
    expect(result.exitStatus).toBe(1);
    expect(result.reason).toMatch(/^vCPU 0: KVM_RUN failed: Bad address \(errno 14\)\nvCPU 0 registers:\n/);
  });
});
