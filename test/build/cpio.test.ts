// The newc cpio writer of the Linux boot test, checked against cpio(1) when it is installed.
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { newc } from '../../src/build/cpio.js';

const cpio = spawnSync('cpio', ['--version']).status === 0;

describe('newc', () => {
  const archive = newc([
    { name: 'dev', mode: 0o40755 },
    { name: 'dev/console', mode: 0o20600, rdev: [5, 1] },
    { name: 'init', mode: 0o100755, data: new TextEncoder().encode('#!/bin/sh\n') },
  ]);

  it('writes 4-byte aligned newc records ending in TRAILER!!!', () => {
    const text = new TextDecoder('latin1').decode(archive);
    expect(text.startsWith('070701')).toBe(true);
    expect(text).toContain('TRAILER!!!');
    expect(archive.length % 4).toBe(0);
    expect(text.match(/070701/g)).toHaveLength(4);
  });

  it.skipIf(!cpio)('is read back by cpio(1)', () => {
    const r = spawnSync('cpio', ['-itv', '--quiet'], { input: archive, encoding: 'utf8' });
    expect(r.status).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines).toHaveLength(3);
    expect(lines[1]).toMatch(/^crw-------.* 5,\s+1 .*dev\/console$/);
    expect(lines[2]).toMatch(/^-rwxr-xr-x.* 10 .*init$/);
  });
});
