// Benchmark: `igvm build linux` of Debian's stock kernel with a busybox initramfs (time and output
// size, median of 5), and, where /dev/kvm works, process start to the kernel's first serial line
// under `igvm run`. Needs build/cache from scripts/fetch-debian-kernel.sh.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { busyboxInitramfs, markerInit } from '../dist/build/cpio.js';
import { measure, printTable } from './measure.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const cache = path.join(root, 'build', 'cache');
const cli = path.join(root, 'dist', 'cli', 'main.js');
/** One command line for every boot to init, ours and QEMU's; quiet, as each console byte is a VM exit. */
const APPEND = 'console=ttyS0 reboot=k panic=-1 quiet pci=off';

function median(v) {
  const s = [...v].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

/** Milliseconds from process start until the command's output matches `marker` (then it is stopped). */
function timeTo(marker, command, args) {
  return new Promise((resolve, reject) => {
    const start = process.hrtime.bigint();
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let seen = false;
    child.stdout.on('data', (d) => {
      out += d.toString();
      if (!seen && marker.test(out)) {
        seen = true;
        resolve(Number(process.hrtime.bigint() - start) / 1e6);
        child.kill('SIGKILL');
      }
    });
    child.on('close', (code) => seen || reject(new Error(`${path.basename(command)} exited ${code} before ${marker}`)));
  });
}

async function medianOf(runs, f) {
  const times = [];
  for (let i = 0; i < runs; i++) times.push(await f());
  return median(times);
}

export async function runLinuxBenchmark() {
  const kernel = path.join(cache, 'vmlinuz');
  if (!existsSync(kernel)) {
    console.log('\nigvm build linux: skipped: build/cache/vmlinuz is missing (run scripts/fetch-debian-kernel.sh)');
    return;
  }
  const initrd = path.join(root, 'build', 'bench', 'initrd.img');
  mkdirSync(path.dirname(initrd), { recursive: true });
  writeFileSync(initrd, busyboxInitramfs(new Uint8Array(readFileSync(path.join(cache, 'busybox'))), markerInit('reboot')));
  const out = path.join(root, 'build', 'bench', 'linux.igvm');
  const rows = [
    measure('igvm build linux (decompress + build)', process.execPath, [cli, 'build', 'linux', '--kernel', kernel, '--initrd', initrd, '--cmdline', APPEND, '-o', out]),
    measure('igvm build linux --compressed', process.execPath, [cli, 'build', 'linux', '--kernel', kernel, '--initrd', initrd, '--compressed', '-o', `${out}.c`]),
  ];
  printTable(`igvm build linux, ${path.basename(readFileSync(path.join(cache, 'vmlinuz.package'), 'utf8').trim())}, 5 runs`, rows);
  console.log(`  output: ${(statSync(out).size / 2 ** 20).toFixed(1)} MiB uncompressed-kernel file, ${(statSync(`${out}.c`).size / 2 ** 20).toFixed(1)} MiB with --compressed (bzImage ${(statSync(kernel).size / 2 ** 20).toFixed(1)} MiB)`);
  if (!existsSync('/dev/kvm')) {
    console.log('  first serial line under igvm run: skipped: /dev/kvm is missing on this machine');
    return;
  }
  // The first line comes from the early console: a file that asks for it.
  const early = path.join(root, 'build', 'bench', 'linux-early.igvm');
  await new Promise((done) => spawn(process.execPath, [cli, 'build', 'linux', '--kernel', kernel, '--cmdline', 'console=ttyS0 earlyprintk=serial', '-o', early], { stdio: 'ignore' }).on('close', done));
  const firstLine = await medianOf(5, () => timeTo(/\n/, process.execPath, [cli, 'run', early, '-m', '512M', '--timeout', '300']));
  console.log(`  process start to the kernel's first serial line under igvm run: median ${firstLine.toFixed(0)} ms over 5 runs`);
  if (!existsSync('/sys/module/kvm_intel') && !existsSync('/sys/module/kvm_amd')) {
    console.log('  boot to init versus QEMU: skipped: KVM here is not hardware-backed (kvm_intel or kvm_amd not loaded)');
    return;
  }
  const marker = /IGVM-LINUX-UP/;
  const qemu = '/usr/bin/qemu-system-x86_64';
  const igvmRun = [cli, 'run', out, '-m', '512M', '--smp', '2', '--no-reboot', '--timeout', '300'];
  const qemuArgs = (machine) => ['-M', machine, '-accel', 'kvm', '-cpu', 'host', '-m', '512M', '-smp', '2', '-kernel', kernel, '-initrd', initrd,
    '-append', APPEND, '-serial', 'stdio', '-display', 'none', '-nodefaults', '-no-user-config', '-no-reboot'];
  const boots = [['igvm run', await medianOf(5, () => timeTo(marker, process.execPath, igvmRun))]];
  if (existsSync(qemu)) {
    boots.push(['peer: QEMU 7.2 -M microvm', await medianOf(5, () => timeTo(marker, qemu, qemuArgs('microvm')))]);
    boots.push(['peer: QEMU 7.2 -M q35', await medianOf(5, () => timeTo(marker, qemu, qemuArgs('q35')))]);
  }
  console.log('  process start to the init marker (-m 512M --smp 2), median of 5 (target: faster than q35, within 1.2x of microvm):');
  for (const [what, ms] of boots) console.log(`    ${what.padEnd(30)} ${ms.toFixed(0).padStart(7)} ms`);
}
