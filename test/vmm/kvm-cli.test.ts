/**
 * `igvm run` end to end, as a user runs it: the built CLI in a child process booting the demo, the
 * boot-protocol probe kernel and Debian's stock kernel. Needs a usable /dev/kvm (and binutils; Linux
 * needs build/cache from scripts/fetch-debian-kernel.sh; the boot to init needs hardware KVM).
 * Otherwise skipped, with the reason printed once.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildDemoIgvm } from '../../src/build/demo-guest.js';
import { buildLinuxIgvm } from '../../src/build/linux/linux-igvm.js';
import { haveBinutils } from '../../src/build/toolchain.js';
import { kvmHost, kvmSkipReason } from './kvm-harness.js';
import { KICK_SIGNAL } from '../../src/vmm/kvm/kick.js';
import { buildProbeKernel } from '../helpers/probe-kernel.js';

const repoRoot = resolve(import.meta.dirname, '../..');
const cli = join(repoRoot, 'dist/cli/main.js');
const cache = join(repoRoot, 'build/cache');

async function skipReason(): Promise<string | undefined> {
  const kvm = kvmSkipReason();
  if (kvm) return kvm;
  if (!(await haveBinutils())) return 'binutils (as, ld, objcopy) are not installed';
  if (!existsSync(cli)) return 'dist/ is not built (npm test builds it)';
  return undefined;
}
const reason = await skipReason();
if (reason) console.log(`[igvm run] skipping the CLI boots on KVM: ${reason}`);
const haveKernel = existsSync(join(cache, 'vmlinuz'));

interface Outcome {
  readonly status: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Run `igvm ...args`; with `until`, stop it (SIGTERM) as soon as stdout matches. */
function igvm(args: readonly string[], until?: RegExp, limitMs = 60_000): Promise<Outcome> {
  return new Promise((done) => {
    const child = spawn(process.execPath, [cli, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    const stop = () => child.exitCode === null && child.kill('SIGTERM');
    const timer = setTimeout(stop, limitMs);
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
      if (until?.test(stdout)) stop();
    });
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (status) => {
      clearTimeout(timer);
      done({ status, stdout, stderr });
    });
  });
}

const dir = mkdtempSync(join(tmpdir(), 'igvm-kvm-cli-'));
function file(name: string, bytes: Uint8Array): string {
  const path = join(dir, name);
  writeFileSync(path, bytes);
  return path;
}

const MiB = 1n << 20n;
const GiB = 1n << 30n;
const hex = (v: bigint) => `0x${v.toString(16)}`;

/** The memory map the loader writes for `-m`: RAM below 2 GiB, the KVM range, RAM from 4 GiB. */
function expectedMap(memory: bigint): { start: bigint; end: bigint; ram: boolean }[] {
  const low = memory < 2n * GiB ? memory : 2n * GiB;
  const map = [
    { start: 0n, end: low - 1n, ram: true },
    { start: 0xfeff_c000n, end: 0xfeff_ffffn, ram: false },
  ];
  if (memory > low) map.push({ start: 4n * GiB, end: 4n * GiB + memory - low - 1n, ram: true });
  return map;
}

describe.skipIf(reason !== undefined)('igvm run on KVM', () => {
  it.each([
    ['128M', 128n * MiB],
    ['256M', 256n * MiB],
    ['3G', 3n * GiB],
    ['5G', 5n * GiB],
  ])('demo with -m %s prints the memory map of the machine layout', async (m, memory) => {
    const demo = file('demo.igvm', await buildDemoIgvm());
    const r = await igvm(['run', demo, '-m', m]);
    expect(r.status, r.stderr).toBe(1); // isa-debug-exit value 0
    expect(r.stdout).toContain('entry mode     64-bit long mode');
    for (const e of expectedMap(memory)) {
      expect(r.stdout).toContain(`    ${hex(e.start)}-${hex(e.end)}  ${e.ram ? 'MEMORY' : 'PLATFORM_RESERVED'}`);
    }
    expect(r.stdout).toContain(`total RAM      ${memory / MiB} MiB`);
  });

  it.each([1, 2, 4])('demo with --smp %i reports the vCPU count', async (n) => {
    const demo = file('demo.igvm', await buildDemoIgvm());
    const r = await igvm(['run', demo, '--smp', String(n)]);
    expect(r.status, r.stderr).toBe(1);
    expect(r.stdout).toContain(`vCPUs          ${n}\n`);
  });

  /** A long64 guest from a manifest whose code is `bytes` at 1 MiB. */
  async function flatGuest(name: string, bytes: number[]): Promise<string> {
    const { buildFromManifest } = await import('../../src/build/manifest-build.js');
    const code = file(`${name}.bin`, Uint8Array.from(bytes));
    const manifest = file(`${name}.json`, new TextEncoder().encode(JSON.stringify({
      payloads: [{ type: 'flat', file: code, gpa: '0x100000' }],
      boot: { preset: 'long64', stack: '0x80000' },
    })));
    return file(`${name}.igvm`, (await buildFromManifest(manifest)).bytes);
  }

  it('--timeout stops a guest that never exits (status 124); --report writes the LoadReport', async () => {
    const spin = await flatGuest('spin', [0xeb, 0xfe]); // jmp .
    const report = join(dir, 'report.json');
    const r = await igvm(['run', spin, '--timeout', '1', '--report', report]);
    expect(r.status).toBe(124);
    expect(r.stderr).toMatch(/timed out/);
    expect(JSON.parse(readFileSync(report, 'utf8'))).toMatchObject({ platform: { type: 'NATIVE' } });
  });

  it(`--no-reboot turns a reset through 0xcf9 ${kvmHost.kind === 'pvm' ? '' : 'or a triple fault '}into exit status 0${kvmHost.kind === 'pvm' ? '; kvm_pvm: an empty-IDT int3 is an emulation failure (1)' : ''}`, async () => {
    // mov $6, %al; mov $0xcf9, %dx; out %al, %dx; jmp .
    const reset = await flatGuest('reset', [0xb0, 0x06, 0x66, 0xba, 0xf9, 0x0c, 0xee, 0xeb, 0xfe]);
    const r = await igvm(['run', reset, '--no-reboot', '--timeout', '20']);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/reset/);
    // int3 with an empty IDT (limit 0): on hardware KVM a double fault, then a triple fault (status 0
    // with --no-reboot); kvm_pvm reports an emulation failure instead (status 1, with the registers).
    const fault = await flatGuest('fault', [0xcc, 0xeb, 0xfe]);
    const t = await igvm(['run', fault, '--no-reboot', '--timeout', '20']);
    if (kvmHost.kind === 'pvm') {
      expect(t.status, t.stderr).toBe(1);
      expect(t.stderr).toMatch(/emulation failure/);
      expect(t.stderr).toMatch(/RIP=/);
    } else {
      expect(t.status, t.stderr).toBe(0);
      expect(t.stderr).toMatch(/triple fault|shutdown/i);
    }
  });

  /** Start `igvm ...args`; once stdout shows the guest running, send `signals` (100 ms apart); how long the last one took to end it. */
  function signalled(args: readonly string[], signals: readonly (NodeJS.Signals | number)[]): Promise<Outcome & { afterMs: number }> {
    return new Promise((done) => {
      const child = spawn(process.execPath, [cli, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      let lastAt = 0;
      const guard = setTimeout(() => child.kill('SIGKILL'), 60_000);
      child.stdout.once('data', () => {
        signals.forEach((sig, i) =>
          setTimeout(() => {
            lastAt = performance.now();
            if (child.exitCode === null) process.kill(child.pid!, sig); // child.kill() knows no real-time signals
          }, 100 * (i + 1)),
        );
      });
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      child.on('close', (status) => {
        clearTimeout(guard);
        done({ status, stdout, stderr, afterMs: performance.now() - lastAt });
      });
    });
  }

  // mov $0x3f8, %dx; mov $'s', %al; out %al, %dx; jmp .
  const PRINT_AND_SPIN = [0x66, 0xba, 0xf8, 0x03, 0xb0, 0x73, 0xee, 0xeb, 0xfe];

  it('SIGTERM and SIGINT end a run promptly with 143 and 130; the kick signal from outside kills nothing', async () => {
    const spin = await flatGuest('print-spin', PRINT_AND_SPIN);
    // --timeout 2147484 (above 2^31 - 1 ms) must not fire at once; the kick signal (SIGRTMIN+6) is ignored.
    const term = await signalled(['run', spin, '--timeout', '2147484'], [KICK_SIGNAL, KICK_SIGNAL, 'SIGTERM']);
    expect(term.status, term.stderr).toBe(143);
    expect(term.stderr).toContain('igvm: terminated (SIGTERM)');
    console.log(`[igvm run] SIGTERM ended the run in ${term.afterMs.toFixed(0)} ms`);
    expect(term.afterMs).toBeLessThan(5000); // the issue asks for < 1 s; the margin is for a loaded machine
    const int = await signalled(['run', spin, '-m', '16G'], ['SIGINT']);
    expect(int.status, int.stderr).toBe(130);
    expect(int.stderr).toContain('igvm: interrupted (SIGINT)');
    console.log(`[igvm run] SIGINT ended the run in ${int.afterMs.toFixed(0)} ms`);
  });

  it('refuses -m beyond the host memory unless --allow-overcommit', async () => {
    const demo = file('demo.igvm', await buildDemoIgvm());
    const beyond = `${Math.ceil(totalmem() / 2 ** 30) + 1}G`;
    const r = await igvm(['run', demo, '-m', beyond]);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/^igvm: [\d.]+ GiB of guest RAM is more than this host's [\d.]+ GiB; pass --allow-overcommit to run it anyway/);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    const o = await igvm(['run', demo, '-m', beyond, '--allow-overcommit']);
    expect(o.status, o.stderr).toBe(1);
    expect(o.stdout).toContain(`total RAM      ${BigInt(beyond.slice(0, -1)) * 1024n} MiB`);
  });

  it('--timeout refuses more than 366 days', async () => {
    const big = await igvm(['run', 'x.igvm', '--timeout', '99999999']);
    expect(big.status).toBe(2);
    expect(big.stderr).toContain('at most 31622400 seconds');
  });

  describe('boot-protocol probe', () => {
    it.each([
      ['256M', 256n * MiB],
      ['5G', 5n * GiB],
    ])('-m %s: e820 equals the IGVM memory map; command line and initrd as built', async (m, memory) => {
      const { bzImage } = await buildProbeKernel();
      const initrd = new Uint8Array(50_000).fill(1);
      const built = await buildLinuxIgvm({ kernel: bzImage, kernelName: 'probe', initrd, cmdline: 'console=ttyS0 probe=yes' });
      const r = await igvm(['run', file('probe.igvm', built.bytes), '-m', m]);
      expect(r.status, r.stderr).toBe(1);
      expect(r.stdout).toContain('probe: cmdline "console=ttyS0 probe=yes"');
      expect(r.stdout).toContain(`probe: initrd ${hex(built.summary.initrd!.gpa)} size ${hex(50_000n)}`);
      const map = expectedMap(memory);
      expect(r.stdout).toContain(`probe: e820 entries ${map.length}\n`);
      for (const e of map) expect(r.stdout).toContain(`probe: e820 ${hex(e.start)} ${hex(e.end - e.start + 1n)} ${e.ram ? 1 : 2}\n`);
    });

    it.each([1, 2, 4])('--smp %i: the MP table lists that many processors', async (n) => {
      const { bzImage } = await buildProbeKernel();
      const built = await buildLinuxIgvm({ kernel: bzImage, kernelName: 'probe' });
      const r = await igvm(['run', file('probe.igvm', built.bytes), '--smp', String(n)]);
      expect(r.status, r.stderr).toBe(1);
      expect(r.stdout).toContain(`probe: mp processors ${n}\n`);
    });
  });

  describe.skipIf(!haveKernel)('Debian kernel', () => {
    it.each([
      ['256M', 256n * MiB],
      ['5G', 5n * GiB],
    ])('-m %s: early boot prints Linux version and a BIOS-e820 table equal to the memory map', async (m, memory) => {
      const kernel = new Uint8Array(readFileSync(join(cache, 'vmlinuz')));
      const built = await buildLinuxIgvm({ kernel, kernelName: 'vmlinuz', cmdline: 'console=ttyS0 earlyprintk=serial' });
      const map = expectedMap(memory);
      const last = map[map.length - 1]!;
      // Stop only once the table's last line is complete: its type and the line end have arrived.
      const lastLine = new RegExp(`BIOS-e820: \\[mem 0x${last.start.toString(16).padStart(16, '0')}-0x${last.end.toString(16).padStart(16, '0')}\\] \\w+\\r?\\n`);
      const r = await igvm(['run', file('linux.igvm', built.bytes), '-m', m, '--timeout', '150'], lastLine, 160_000);
      expect(r.stdout).toContain('Linux version');
      for (const e of map) {
        const range = `[mem 0x${e.start.toString(16).padStart(16, '0')}-0x${e.end.toString(16).padStart(16, '0')}]`;
        expect(r.stdout).toContain(`BIOS-e820: ${range} ${e.ram ? 'usable' : 'reserved'}`);
      }
    }, 180_000);
  });
});
