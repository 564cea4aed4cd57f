import { describe, expect, it } from 'vitest';
import { buildDemoIgvm, DEMO_LAYOUT, DEMO_PARAMETERS } from '../../src/build/demo-guest.js';
import { assembleGuest, haveBinutils } from '../../src/build/toolchain.js';
import { parseIgvm } from '../../src/format/index.js';
import { loadIgvm, SparseMachine } from '../../src/loader/index.js';

const binutils = await haveBinutils();
if (!binutils) console.log('skipping guest assembly tests: binutils (as, ld, objcopy) not installed');

describe.skipIf(!binutils)('demo guest', () => {
  it('assembles into one flat image with its bss', async () => {
    const image = await assembleGuest(['demo/demo.S', 'lib/serial.S'], { loadAddress: DEMO_LAYOUT.code });
    expect(image.symbols.get('_start')).toBe(DEMO_LAYOUT.code);
    const end = image.symbols.get('_image_end')!;
    expect(BigInt(image.bytes.length)).toBe(end - DEMO_LAYOUT.code);
    // The first instruction is `lea here(%rip), %r12` (REX.W 8d 25 ...): the entry is code, not data.
    expect([...image.bytes.subarray(0, 3)]).toEqual([0x4c, 0x8d, 0x25]);
  });

  it('builds a file that loads: long-mode context, parameters where the guest reads them', async () => {
    const file = parseIgvm(await buildDemoIgvm());
    const machine = new SparseMachine(512n << 20n, 2);
    const { bootCpu } = loadIgvm(file, machine);
    expect(bootCpu.rip).toBe(DEMO_LAYOUT.code);
    expect(bootCpu.gprs.rsi).toBe(DEMO_LAYOUT.parameters);
    expect(bootCpu.segments.cs.long).toBe(true);
    const params = machine.read(DEMO_LAYOUT.parameters, 8192);
    const dv = new DataView(params.buffer);
    expect(dv.getUint32(DEMO_PARAMETERS.vpCount, true)).toBe(2);
    expect(dv.getBigUint64(DEMO_PARAMETERS.memoryMap + 8, true)).toBe((512n << 20n) >> 12n);
  });
});
