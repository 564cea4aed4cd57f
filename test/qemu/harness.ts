/**
 * Runs an IGVM file under QEMU with TCG, as a stand-in for `igvm run` where /dev/kvm is not usable:
 * igvm-ts's loader fills an in-memory machine of the same size; its pages go into QEMU with
 * `-device loader`, and the boot CPU state the loader computed is set by a small harness
 * (guests/harness: a -bios image and a context loader at 0xb000, context at 0xa000). A file with no
 * VP context starts from the reset vector with its own top page as the -bios image. QEMU's own e820
 * does not matter: the guests read the memory map from the IGVM parameters the loader wrote.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { assembleGuest } from '../../src/build/toolchain.js';
import { NativeVpContextX64, parseIgvm } from '../../src/format/index.js';
import { loadIgvm, SparseMachine } from '../../src/loader/index.js';
import { observable } from '../helpers/test-guests.js';

export const QEMU = '/usr/bin/qemu-system-x86_64';
const CONTEXT = 0xa000n;
const STUB = 0xb000n;
const BIOS_BASE = 0xffff_0000n;
const BIOS_SIZE = 0x1_0000;

export interface QemuRun {
  readonly status: number | null;
  readonly serial: string;
  readonly stderr: string;
}

export interface QemuOptions {
  readonly memory?: bigint;
  readonly vcpus?: number;
  readonly timeoutMs?: number;
}

export async function runUnderQemu(bytes: Uint8Array, options: QemuOptions = {}): Promise<QemuRun> {
  const memory = options.memory ?? 256n << 20n;
  const vcpus = options.vcpus ?? 1;
  const machine = new SparseMachine(memory, vcpus);
  const { bootCpu } = loadIgvm(parseIgvm(bytes), machine);
  const dir = mkdtempSync(join(tmpdir(), 'igvm-qemu-'));
  try {
    const args = ['-M', 'q35', '-accel', 'tcg', '-m', `${memory >> 20n}M`, '-smp', String(vcpus)];
    let bios: Uint8Array;
    if (bootCpu.source === 'reset') {
      bios = machine.read(BIOS_BASE, BIOS_SIZE);
    } else {
      for (const page of [CONTEXT, STUB]) {
        if (machine.pages.has(page / 4096n)) throw new Error(`the file uses 0x${page.toString(16)}, which the QEMU harness needs`);
      }
      const rom = await assembleGuest(['harness/rom.S'], { layout: 'reset-vector' });
      bios = new Uint8Array(BIOS_SIZE);
      bios.set(rom.bytes, BIOS_SIZE - 4096);
      const stub = await assembleGuest(['harness/stub.S'], { loadAddress: STUB });
      machine.write(STUB, stub.bytes);
      machine.write(CONTEXT, NativeVpContextX64.encode(observable(bootCpu)));
    }
    writeFileSync(join(dir, 'bios.bin'), bios);
    args.push('-bios', join(dir, 'bios.bin'));

    // Guest memory as runs of consecutive pages below the BIOS.
    const pages = [...machine.pages.keys()].filter((p) => p * 4096n < BIOS_BASE).sort((a, b) => (a < b ? -1 : 1));
    let run: bigint[] = [];
    const flush = () => {
      if (run.length === 0) return;
      const file = join(dir, `mem-${run[0]!.toString(16)}.bin`);
      writeFileSync(file, Buffer.concat(run.map((p) => machine.pages.get(p)!)));
      args.push('-device', `loader,file=${file},addr=0x${(run[0]! * 4096n).toString(16)},force-raw=on`);
      run = [];
    };
    for (const p of pages) {
      if (run.length > 0 && run[run.length - 1]! + 1n !== p) flush();
      run.push(p);
    }
    flush();

    args.push('-device', 'isa-debug-exit,iobase=0xf4,iosize=4', '-serial', 'stdio', '-display', 'none', '-nodefaults', '-no-user-config');
    return await new Promise<QemuRun>((resolve) => {
      const child = spawn(QEMU, args, { stdio: ['ignore', 'pipe', 'pipe'] });
      let serial = '';
      let stderr = '';
      const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 60_000);
      child.stdout.on('data', (d: Buffer) => (serial += d.toString()));
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      child.on('close', (status) => {
        clearTimeout(timer);
        resolve({ status, serial, stderr });
      });
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
