// The test guests' files, loaded without KVM: the boot state the loader produces is what each guest
// will compare against (the values baked in at EXPECT), and the guest images sit where the files say.
import { describe, expect, it } from 'vitest';
import { haveBinutils } from '../../src/build/toolchain.js';
import { NativeVpContextX64, parseIgvm } from '../../src/format/index.js';
import { loadIgvm, SparseMachine } from '../../src/loader/index.js';
import { buildTestGuest, LAYOUT, observable, type TestGuestKind } from '../helpers/test-guests.js';

const binutils = await haveBinutils();
if (!binutils) console.log('skipping test-guest files: binutils (as, ld, objcopy) not installed');

describe.skipIf(!binutils)('test guest files', () => {
  it.each<TestGuestKind>(['long64-2m', 'long64-4k', 'protected32', 'real16', 'reset'])('%s: loader state equals the baked expectations', async (kind) => {
    const { bytes, expected } = await buildTestGuest(kind);
    const machine = new SparseMachine(256n << 20n, 1);
    const { bootCpu } = loadIgvm(parseIgvm(bytes), machine);
    expect(observable(bootCpu)).toEqual(expected);
    expect(NativeVpContextX64.read(machine.read(LAYOUT.expect, NativeVpContextX64.size))).toEqual(expected);
    // The area where the guest records what it sees starts zeroed.
    expect(machine.read(LAYOUT.seen, 0x100).every((x) => x === 0)).toBe(true);
    if (kind === 'real16') {
      expect(bootCpu.source).toBe('reset');
      // The reset vector: `call _start` (e8) in the last 16 bytes below 4 GiB.
      expect(machine.read(0xffff_fff0n, 1)[0]).toBe(0xe8);
    } else {
      expect(bootCpu.rip).toBe(LAYOUT.code);
    }
  });
});
