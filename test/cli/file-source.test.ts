import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FileReadError, openFileSource, writeFileAtomic } from '../../src/node/file-source.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'igvm-file-source-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('openFileSource', () => {
  it('reads ranges positionally and short at the end of the file', async () => {
    const path = join(dir, 'data.bin');
    await writeFile(path, Uint8Array.from({ length: 100 }, (_, i) => i));
    const source = await openFileSource(path);
    try {
      expect(source.size).toBe(100);
      expect([...(await source.read(10, 3))]).toEqual([10, 11, 12]);
      expect([...(await source.read(98, 10))]).toEqual([98, 99]);
      expect((await source.read(200, 10)).length).toBe(0);
      expect((await source.read(0, 0)).length).toBe(0);
      await expect(source.read(-1, 1)).rejects.toThrow(RangeError);
    } finally {
      await source.close();
      await source.close(); // idempotent
    }
    await expect(source.read(0, 1)).rejects.toThrow(FileReadError);
  });

  it('fails with a FileReadError for a missing file or a directory', async () => {
    await expect(openFileSource(join(dir, 'missing'))).rejects.toMatchObject({ name: 'FileReadError', code: 'ENOENT', message: 'no such file or directory' });
    await expect(openFileSource(dir)).rejects.toMatchObject({ name: 'FileReadError', code: 'EISDIR' });
  });
});

describe('writeFileAtomic', () => {
  it('writes the bytes, replaces an existing file and leaves no temp file', async () => {
    const path = join(dir, 'out.igvm');
    await writeFileAtomic(path, new Uint8Array([1, 2, 3]));
    await writeFileAtomic(path, new Uint8Array([4, 5]));
    expect([...(await readFile(path))]).toEqual([4, 5]);
    expect((await readdir(dir)).filter((n) => n.includes('.tmp'))).toEqual([]);
  });

  it('fails without leaving anything behind when the target cannot be replaced', async () => {
    const target = join(dir, 'a-directory');
    await import('node:fs/promises').then((fs) => fs.mkdir(join(target, 'child'), { recursive: true }));
    await expect(writeFileAtomic(target, new Uint8Array([1]))).rejects.toThrow();
    expect((await readdir(dir)).filter((n) => n.includes('.tmp'))).toEqual([]);
  });

  it('fails when the directory does not exist', async () => {
    await expect(writeFileAtomic(join(dir, 'no', 'such', 'f'), new Uint8Array([1]))).rejects.toMatchObject({ code: 'ENOENT' });
  });
});
