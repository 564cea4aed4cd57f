/**
 * `igvm check FILE --loader …` from the built CLI: a warning line per finding with the header index,
 * exit 1 when the file fails on a named loader, 0 when it loads as written, 2 for usage errors.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { IgvmBuilder } from '../../src/format/index.js';

const cli = resolve(import.meta.dirname, '../../dist/cli/main.js');
const built = existsSync(cli);
if (!built) console.log('[igvm check] skipping the CLI tests: dist/ is not built (npm test builds it)');
const dir = mkdtempSync(join(tmpdir(), 'igvm-check-'));

function igvmFile(name: string, memoryMapOffset: number): string {
  const b = new IgvmBuilder({ formatVersion: 1 });
  b.addPlatform('NATIVE');
  b.addPageData(0x10_0000n, Uint8Array.of(0xf4));
  const a = b.addParameterArea(4096n);
  b.addParameter('MEMORY_MAP', a, memoryMapOffset);
  b.addParameterInsert(a, 0x9000n);
  const path = join(dir, name);
  writeFileSync(path, b.serialize());
  return path;
}

function igvm(...args: string[]) {
  const r = spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', timeout: 30_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe.skipIf(!built)('igvm check', () => {
  it('exit 0 and one line when the file loads as written on the named loaders', () => {
    const f = igvmFile('good.igvm', 0);
    expect(igvm('check', f)).toEqual({ code: 0, stdout: `${f}: loads as written on qemu-10.2, igvm-ts, spec\n`, stderr: '' });
    expect(igvm('check', f, '--loader', 'igvm-ts').stdout).toBe(`${f}: loads as written on igvm-ts\n`);
  });

  it('exit 1 with the header index when a named loader misreads the file; other loaders are not asked', () => {
    const f = igvmFile('offset.igvm', 0x40);
    const r = igvm('check', f, '--loader', 'qemu-10.2');
    expect(r.code).toBe(1);
    expect(r.stdout).toBe(
      `${f}: header #3 (MEMORY_MAP): qemu-10.2 mishandles it: QEMU ignores byte_offset 0x40 and writes the memory map from offset 0 of parameter area 0\n` +
        `${f}: fails on qemu-10.2\n`,
    );
    expect(igvm('check', f, '--loader', 'igvm-ts', '--loader', 'spec')).toMatchObject({ code: 0 });
  });

  it('usage errors exit 2; a file that is not IGVM exits 1; a missing file exits 2', () => {
    const f = igvmFile('good2.igvm', 0);
    const bad = igvm('check', f, '--loader', 'qemu');
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/Allowed choices are qemu-10\.2, igvm-ts, spec/);
    const junk = join(dir, 'junk.igvm');
    writeFileSync(junk, 'not an igvm file');
    expect(igvm('check', junk).code).toBe(1);
    expect(igvm('check', join(dir, 'missing.igvm')).code).toBe(2);
  });
});
