// Benchmark: `igvm build linux` of Debian's stock kernel with a busybox initramfs (time and output
// size, median of 5), and, where /dev/kvm works, process start to the kernel's first serial line
// under `igvm run`. Needs build/cache from scripts/fetch-debian-kernel.sh.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { measure, printTable } from './measure.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const cache = path.join(root, 'build', 'cache');
const cli = path.join(root, 'dist', 'cli', 'main.js');

function median(v) {
  const s = [...v].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

/** Milliseconds from process start until the guest prints its first serial line. */
function firstSerialLine(file) {
  return new Promise((resolve, reject) => {
    const start = process.hrtime.bigint();
    const child = spawn(process.execPath, [cli, 'run', file, '-m', '512M', '--timeout', '120'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let seen = false;
    child.stdout.on('data', (d) => {
      if (!seen && d.toString().includes('\n')) {
        seen = true;
        resolve(Number(process.hrtime.bigint() - start) / 1e6);
        child.kill('SIGTERM');
      }
    });
    child.on('close', (code) => seen || reject(new Error(`igvm run exited ${code} before the first serial line`)));
  });
}

export async function runLinuxBenchmark() {
  const kernel = path.join(cache, 'vmlinuz');
  if (!existsSync(kernel)) {
    console.log('\nigvm build linux: skipped: build/cache/vmlinuz is missing (run scripts/fetch-debian-kernel.sh)');
    return;
  }
  const initrd = path.join(root, 'build', 'bench', 'initrd.img');
  mkdirSync(path.dirname(initrd), { recursive: true });
  // A stand-in initramfs of busybox's size (the boot benchmarks below build a real one).
  writeFileSync(initrd, readFileSync(path.join(cache, 'busybox')));
  const out = path.join(root, 'build', 'bench', 'linux.igvm');
  const rows = [
    measure('igvm build linux (decompress + build)', process.execPath, [cli, 'build', 'linux', '--kernel', kernel, '--initrd', initrd, '--cmdline', 'console=ttyS0', '-o', out]),
    measure('igvm build linux --compressed', process.execPath, [cli, 'build', 'linux', '--kernel', kernel, '--initrd', initrd, '--compressed', '-o', `${out}.c`]),
  ];
  printTable(`igvm build linux, ${path.basename(readFileSync(path.join(cache, 'vmlinuz.package'), 'utf8').trim())}, 5 runs`, rows);
  console.log(`  output: ${(statSync(out).size / 2 ** 20).toFixed(1)} MiB uncompressed-kernel file, ${(statSync(`${out}.c`).size / 2 ** 20).toFixed(1)} MiB with --compressed (bzImage ${(statSync(kernel).size / 2 ** 20).toFixed(1)} MiB)`);
  if (!existsSync('/dev/kvm')) {
    console.log('  first serial line under igvm run: skipped: /dev/kvm is missing on this machine');
    return;
  }
  const times = [];
  for (let i = 0; i < 5; i++) times.push(await firstSerialLine(out));
  console.log(`  process start to the kernel's first serial line: median ${median(times).toFixed(0)} ms over 5 runs`);
}
