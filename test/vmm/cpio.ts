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
