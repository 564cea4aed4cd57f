/**
 * Boots IGVM files with QEMU 10.2.2's own IGVM loader (`-object igvm-cfg`, native mode), the QEMU
 * at ../shared/tools/qemu (outside the repository: where it is absent the tests say so and skip),
 * and `igvm run` from dist/ beside it. Each boot has a time limit; the serial console is stdout.
 */
import { spawn, spawnSync } from 'node:child_process';
import { accessSync, constants, existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

export const repoRoot = resolve(import.meta.dirname, '../..');
const QEMU_DIR = resolve(repoRoot, '../shared/tools/qemu');
export const QEMU_IGVM = join(QEMU_DIR, 'qemu-system-x86_64');
const cli = join(repoRoot, 'dist/cli/main.js');

/** Why QEMU 10.2.2 cannot run here (missing, or its libraries missing), or undefined. */
export function qemuSkipReason(): string | undefined {
  if (!existsSync(QEMU_IGVM)) return `${QEMU_IGVM} is not there (the shared reference tools)`;
  const r = spawnSync(QEMU_IGVM, ['--version'], { encoding: 'utf8', timeout: 10_000 });
  if (r.status !== 0) {
    const why = (r.stderr || r.error?.message || `exit ${r.status}`).split('\n')[0];
    return `${QEMU_IGVM} does not start (${why}; it needs libglib2.0-0 and libpixman-1-0)`;
  }
  return undefined;
}

/** /dev/kvm opens read-write: QEMU's accel=kvm and `igvm run` can be used. */
export function kvmUsable(): boolean {
  try {
    accessSync('/dev/kvm', constants.R_OK | constants.W_OK);
    return true;
  } catch {
    return false;
  }
}

export function cliSkipReason(): string | undefined {
  return existsSync(cli) ? undefined : 'dist/ is not built (npm test builds it)';
}

export interface Boot {
  readonly status: number | null;
  /** Serial output (COM1). */
  readonly serial: string;
  readonly stderr: string;
  readonly ms: number;
  /** Stopped by the time limit (or by `until`). */
  readonly stopped: boolean;
}

export interface BootOptions {
  readonly memory: string;
  readonly smp: number;
  readonly timeoutMs: number;
  /** Stop the VM as soon as the serial output matches. */
  readonly until?: RegExp;
}

function spawnBounded(command: string, args: readonly string[], options: BootOptions): Promise<Boot> {
  return new Promise((done) => {
    const started = performance.now();
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let serial = '';
    let stderr = '';
    let stopped = false;
    const stop = () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      stopped = true;
      child.kill('SIGKILL');
    };
    const timer = setTimeout(stop, options.timeoutMs);
    child.stdout.on('data', (d: Buffer) => {
      serial += d.toString('latin1');
      if (options.until?.test(serial)) stop();
    });
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (status) => {
      clearTimeout(timer);
      done({ status, serial: serial.replace(/\r\n/g, '\n'), stderr, ms: performance.now() - started, stopped });
    });
  });
}

const scratch = mkdtempSync(join(tmpdir(), 'igvm-qemu-native-'));
let files = 0;

/** Write `bytes` to a scratch file (removed with the OS temp dir) and return its path. */
export function scratchFile(bytes: Uint8Array): string {
  const path = join(scratch, `f${++files}.igvm`);
  writeFileSync(path, bytes);
  return path;
}

export type Accel = 'kvm' | 'tcg';

/** QEMU's documented native IGVM boot; `reboot: false` adds -no-reboot (a reset ends QEMU). */
export function bootQemu(file: string, accel: Accel, options: BootOptions & { readonly reboot?: boolean }): Promise<Boot> {
  const args = [
    '-L', join(QEMU_DIR, 'share'), '-nodefaults', '-no-user-config', '-display', 'none', '-monitor', 'none',
    '-m', options.memory, '-smp', String(options.smp), '-serial', 'stdio',
    '-machine', `q35,igvm-cfg=igvm0,accel=${accel}`, '-object', `igvm-cfg,id=igvm0,file=${file}`,
    '-device', 'isa-debug-exit,iobase=0xf4,iosize=0x04',
    ...(options.reboot ? [] : ['-no-reboot']),
  ];
  return spawnBounded(QEMU_IGVM, args, options);
}

/** `igvm run FILE -m … --smp …` from dist/. */
export function bootIgvmRun(file: string, options: BootOptions): Promise<Boot> {
  const seconds = String(Math.ceil(options.timeoutMs / 1000));
  return spawnBounded(process.execPath, [cli, 'run', file, '-m', options.memory, '--smp', String(options.smp), '--timeout', seconds], options);
}

/**
 * Let QEMU process the file and stop before any vCPU runs (-S): `loaded` when its monitor prompt
 * comes up, else QEMU's error is on stderr.
 */
export async function loadInQemu(file: string, timeoutMs: number): Promise<Boot & { readonly loaded: boolean }> {
  const args = [
    '-L', join(QEMU_DIR, 'share'), '-nodefaults', '-no-user-config', '-display', 'none', '-S', '-monitor', 'stdio', '-serial', 'none',
    '-m', '256M', '-machine', 'q35,igvm-cfg=igvm0,accel=tcg', '-object', `igvm-cfg,id=igvm0,file=${file}`,
  ];
  const boot = await spawnBounded(QEMU_IGVM, args, { memory: '256M', smp: 1, timeoutMs, until: /\(qemu\) / });
  return { ...boot, loaded: /\(qemu\) /.test(boot.serial) };
}
