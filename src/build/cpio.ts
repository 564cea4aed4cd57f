/** A newc ("070701") cpio archive, the initramfs format, for the Linux boot test. */

export interface CpioEntry {
  readonly name: string;
  /** File type and permission bits, e.g. 0o100755 for an executable file. */
  readonly mode: number;
  readonly data?: Uint8Array;
  /** Device number of a character or block device node. */
  readonly rdev?: readonly [number, number];
}

const pad4 = (n: number) => (4 - (n % 4)) % 4;
const field = (v: number) => v.toString(16).padStart(8, '0');

export function newc(entries: readonly CpioEntry[]): Uint8Array {
  const parts: Uint8Array[] = [];
  const enc = new TextEncoder();
  const all = [...entries, { name: 'TRAILER!!!', mode: 0 }];
  all.forEach((e, i) => {
    const data = e.data ?? new Uint8Array(0);
    const name = enc.encode(`${e.name}\0`);
    const [major, minor] = e.rdev ?? [0, 0];
    const isDir = (e.mode & 0o170000) === 0o040000;
    const header = ['070701', field(i + 1), field(e.mode), field(0), field(0), field(isDir ? 2 : 1), field(0), field(data.length),
      field(0), field(0), field(major), field(minor), field(name.length), field(0)].join('');
    parts.push(enc.encode(header), name, new Uint8Array(pad4(110 + name.length)), data, new Uint8Array(pad4(data.length)));
  });
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/**
 * A minimal initramfs: a statically linked busybox as /bin/busybox and `init` as /init (a shell
 * script run by busybox sh), with /dev/console, /proc and /sys to mount on, and any `extra` entries.
 */
export function busyboxInitramfs(busybox: Uint8Array, init: string, extra: readonly CpioEntry[] = []): Uint8Array {
  return newc([
    { name: 'dev', mode: 0o40755 },
    { name: 'dev/console', mode: 0o20600, rdev: [5, 1] },
    { name: 'bin', mode: 0o40755 },
    { name: 'proc', mode: 0o40755 },
    { name: 'sys', mode: 0o40755 },
    { name: 'bin/busybox', mode: 0o100755, data: busybox },
    { name: 'init', mode: 0o100755, data: new TextEncoder().encode(`#!/bin/busybox sh\n${init}`) },
    ...extra,
  ]);
}

/** The init the Linux tests and benchmarks boot: it prints a marker with nproc and MemTotal, then leaves. */
export function markerInit(leave: 'reboot' | 'poweroff'): string {
  return [
    '/bin/busybox mount -t proc proc /proc',
    '/bin/busybox echo IGVM-LINUX-UP cpus=$(/bin/busybox nproc) $(/bin/busybox grep MemTotal /proc/meminfo)',
    `/bin/busybox ${leave} -f`,
    '',
  ].join('\n');
}
