#!/usr/bin/env node
// Run a command where /dev/kvm is real although this machine has none: QEMU emulates (TCG) an x86
// machine with AMD SVM, Debian's kernel (build/cache, from scripts/fetch-debian-kernel.sh) boots
// in it and loads kvm_amd, which then provides a hardware-style KVM (SVM with nested paging), and
// the command runs chrooted into this machine's own filesystem, shared read-write over 9p. So the
// project's VMM meets KVM as it drives AMD hardware (kvm.ko and kvm_amd), slowly (each VM exit
// costs milliseconds) but for real.
//
//   node scripts/kvm-nested.mjs [--timeout SEC] [--env NAME=VALUE]... -- COMMAND [ARG]...
//
// COMMAND runs in the repository with the caller's PATH and HOME; its output is this script's
// output; the exit status is COMMAND's, 124 when the time runs out, 125 when the VM cannot start.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

const repo = resolve(import.meta.dirname, '..');
const cache = join(repo, 'build/cache');
const work = join(repo, 'build/nested');
/** The modules the VM loads: kvm_amd for /dev/kvm, virtio-pci and 9p for the shared filesystem. */
const WANTED_MODULES = ['kvm-amd', 'virtio_pci', '9pnet_virtio', '9p'];
const moduleName = (file) => file.replace(/\.ko$/, '').replaceAll('-', '_');

/** build/cache/modules in an order insmod accepts: each after those its `depends=` names. */
export function moduleLoadOrder() {
  const dir = join(cache, 'modules');
  const files = new Map(readdirSync(dir).filter((f) => f.endsWith('.ko')).map((f) => [moduleName(f), f]));
  const order = [];
  const visit = (name, chain) => {
    if (order.includes(files.get(name))) return;
    const file = files.get(name);
    if (!file) throw new Error(`module ${name} (needed by ${chain.join(' <- ') || 'the VM'}) is not in build/cache/modules: run scripts/fetch-debian-kernel.sh`);
    if (chain.includes(name)) throw new Error(`modules depend on each other in a circle: ${[...chain, name].join(' -> ')}`);
    const depends = /depends=([a-z0-9_,-]*)/.exec(readFileSync(join(dir, file), 'latin1'))?.[1] ?? '';
    for (const d of depends.split(',').filter(Boolean)) visit(moduleName(d), [...chain, name]);
    order.push(file);
  };
  for (const m of WANTED_MODULES) visit(moduleName(m), []);
  return order;
}

/**
 * The QEMU that emulates the machine, and where its firmware is: IGVM_NESTED_QEMU names an unpacked
 * Debian package tree (ROOT/usr/bin/qemu-system-x86_64); else build/cache/qemu; else the installed one.
 */
function qemuCommand() {
  const tree = process.env.IGVM_NESTED_QEMU ?? join(cache, 'qemu');
  const binary = join(tree, 'usr/bin/qemu-system-x86_64');
  if (!existsSync(binary)) return { binary: 'qemu-system-x86_64', firmware: [] };
  // -audio none: else it probes audio drivers and loads the installed QEMU's modules, of another build.
  return { binary, firmware: ['-L', join(tree, 'usr/share/qemu'), '-L', join(tree, 'usr/share/seabios'), '-audio', 'none'] };
}

/** Why the nested VM cannot start here, or undefined. */
export function nestedSkipReason() {
  if (spawnSync(qemuCommand().binary, ['--version'], { stdio: 'ignore' }).status !== 0) return 'no QEMU: run scripts/fetch-debian-kernel.sh (or apt-get install qemu-system-x86)';
  for (const f of ['vmlinuz', 'busybox', 'modules/.complete']) {
    if (!existsSync(join(cache, f))) return `build/cache/${f} is missing (run scripts/fetch-debian-kernel.sh)`;
  }
  try {
    moduleLoadOrder();
  } catch (e) {
    return e.message;
  }
  if (!existsSync(join(repo, 'dist/build/cpio.js'))) return 'dist/ is not built (npm run build)';
  return undefined;
}

const quote = (s) => `'${String(s).replaceAll("'", `'\\''`)}'`;

/**
 * The fresh tmpfs over /tmp in there would hide a checkout under /tmp: keep the checkout (its real
 * path, the shared filesystem has no symlinks resolved for us) aside and move it back on top.
 */
export function tmpMounts(checkout) {
  const tmpfs = 'mount -t tmpfs tmp /host/tmp';
  if (checkout !== '/tmp' && !checkout.startsWith('/tmp/')) return tmpfs;
  const at = quote(`/host${checkout}`);
  return `mkdir -p /keep; mount -o bind ${at} /keep || fail "cannot keep the checkout ${checkout}"
${tmpfs}
mkdir -p ${at}; mount -o move /keep ${at} || fail "cannot mount the checkout ${checkout} over the tmpfs"`;
}

export function initScript(modules, checkout = realpathSync(repo)) {
  const insmods = modules.map((m) => `insmod /mod/${m} || fail "cannot load ${m}"`).join('\n');
  return `/bin/busybox --install -s /bin
fail() { echo "kvm-nested: $*"; poweroff -f; }
mount -t proc proc /proc; mount -t sysfs sys /sys; mount -t devtmpfs dev /dev
${insmods}
[ -c /dev/kvm ] || fail "kvm_amd loaded but /dev/kvm is missing"
mkdir -p /host
mount -t 9p -o trans=virtio,version=9p2000.L,msize=1048576,cache=loose host /host || fail "cannot mount the host filesystem"
mount -t proc proc /host/proc; mount -t sysfs sys /host/sys; mount -t devtmpfs dev /host/dev
${tmpMounts(checkout)}
mount -t devpts devpts /host/dev/pts 2>/dev/null
chroot /host /bin/sh ${quote(join(work, 'command.sh'))} 2>&1 | cat
poweroff -f
`;
}

function commandScript(argv, env) {
  const exports = Object.entries(env).map(([k, v]) => `export ${k}=${quote(v)}`).join('\n');
  const status = join(work, 'status');
  return `${exports}
cd ${quote(realpathSync(repo))} || exit 1
${argv.map(quote).join(' ')}
echo $? > ${quote(status)}
`;
}

async function initramfs() {
  const { busyboxInitramfs } = await import(join(repo, 'dist/build/cpio.js'));
  const file = (name) => new Uint8Array(readFileSync(join(cache, name)));
  const modules = moduleLoadOrder();
  return busyboxInitramfs(file('busybox'), initScript(modules), [
    { name: 'mod', mode: 0o40755 },
    ...modules.map((m) => ({ name: `mod/${m}`, mode: 0o100644, data: file(`modules/${m}`) })),
  ]);
}

/** Boot the VM, run argv in it, resolve to its exit status. */
export async function runNested(argv, { timeoutSec = 1200, env = {}, output = process.stdout } = {}) {
  const reason = nestedSkipReason();
  if (reason) {
    output.write(`kvm-nested: cannot start: ${reason}\n`);
    return 125;
  }
  rmSync(work, { recursive: true, force: true });
  mkdirSync(work, { recursive: true });
  // The console is a tty in there: ask for plain, uncoloured output.
  const environment = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/root', CI: '1', NO_COLOR: '1', ...env };
  writeFileSync(join(work, 'command.sh'), commandScript(argv, environment));
  writeFileSync(join(work, 'initrd.cpio'), await initramfs());
  const cpus = Math.max(1, Math.min(4, (await import('node:os')).availableParallelism()));
  const { binary, firmware } = qemuCommand();
  const qemu = spawn(binary, [
    ...firmware,
    '-accel', 'tcg', '-cpu', 'max', '-smp', String(cpus), '-m', '6G',
    '-nodefaults', '-display', 'none', '-serial', 'stdio', '-monitor', 'none', '-no-reboot', '-net', 'none',
    '-kernel', join(cache, 'vmlinuz'), '-initrd', join(work, 'initrd.cpio'),
    // No transparent huge pages: with khugepaged collapsing the guests' memory behind kvm_amd, the
    // emulated machine's kernel hung now and then (khugepaged blocked, a vCPU never came back).
    '-append', `console=ttyS0 quiet loglevel=${process.env.IGVM_NESTED_LOGLEVEL ?? 3} panic=-1 transparent_hugepage=never`,
    '-virtfs', 'local,path=/,mount_tag=host,security_model=none,multidevs=remap',
  ], { stdio: ['ignore', 'pipe', 'pipe'] });
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    qemu.kill('SIGKILL');
  }, timeoutSec * 1000);
  // Whole lines, without the firmware's screen control sequences and the tty's carriage returns.
  const decoder = new TextDecoder();
  let partial = '';
  const emit = (text) => output.write(text.replace(/\x1b\[[0-9;?]*[A-Za-z]|\x1bc|\r/g, '').replace(/^\[ *[0-9.]+\] reboot: Power down\n?/m, ''));
  qemu.stdout.on('data', (d) => {
    const lines = (partial + decoder.decode(d, { stream: true })).split('\n');
    partial = lines.pop();
    if (lines.length > 0) emit(`${lines.join('\n')}\n`);
  });
  qemu.stdout.on('end', () => emit(partial));
  let stderr = '';
  qemu.stderr.on('data', (d) => (stderr += d.toString()));
  const qemuStatus = await new Promise((done) => qemu.on('close', done));
  clearTimeout(timer);
  if (timedOut) {
    output.write(`kvm-nested: timed out after ${timeoutSec} s\n`);
    return 124;
  }
  const statusFile = join(work, 'status');
  if (!existsSync(statusFile)) {
    output.write(`kvm-nested: the command did not finish (QEMU exit status ${qemuStatus})\n${stderr.replace(/.*multidevs.*\n?/g, '')}`);
    return 125;
  }
  return Number(readFileSync(statusFile, 'utf8').trim());
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const args = process.argv.slice(2);
  const env = {};
  let timeoutSec = 1200;
  while (args.length > 0 && args[0] !== '--') {
    const flag = args.shift();
    const value = args.shift();
    if (flag === '--timeout' && Number(value) > 0) timeoutSec = Number(value);
    else if (flag === '--env' && value?.includes('=')) env[value.slice(0, value.indexOf('='))] = value.slice(value.indexOf('=') + 1);
    else {
      console.error(`usage: kvm-nested.mjs [--timeout SEC] [--env NAME=VALUE]... -- COMMAND [ARG]...`);
      process.exit(2);
    }
  }
  args.shift();
  if (args.length === 0) {
    console.error('kvm-nested: no command given');
    process.exit(2);
  }
  process.exitCode = await runNested(args, { timeoutSec, env });
}
