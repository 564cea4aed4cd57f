/**
 * The demo IGVM file that `npm start` boots: guests/demo/demo.S entered in 64-bit long mode from its
 * native context, with a parameter area holding the VP count and the memory map.
 */
import { IgvmBuilder } from '../format/index.js';
import { addLongModeEntry } from './long-mode.js';
import { assembleGuest } from './toolchain.js';

export const DEMO_LAYOUT = {
  pageTables: 0x1000n,
  gdt: 0x7000n,
  parameters: 0x9000n,
  stack: 0x8_0000n,
  code: 0x10_0000n,
} as const;

/** Offsets inside the parameter area, as guests/demo/demo.S reads them. */
export const DEMO_PARAMETERS = { vpCount: 0, memoryMap: 64 } as const;

export async function buildDemoIgvm(): Promise<Uint8Array> {
  const image = await assembleGuest(['demo/demo.S', 'lib/serial.S'], { loadAddress: DEMO_LAYOUT.code });
  const b = new IgvmBuilder({ formatVersion: 1 });
  b.addPlatform('NATIVE');
  const context = addLongModeEntry(b, {
    entry: image.symbols.get('_start') ?? DEMO_LAYOUT.code,
    pageTables: { base: DEMO_LAYOUT.pageTables, pageSize: '2M' },
    gdtBase: DEMO_LAYOUT.gdt,
    stack: DEMO_LAYOUT.stack,
    rsi: DEMO_LAYOUT.parameters,
  });
  b.addPageData(image.loadAddress, image.bytes);
  const area = b.addParameterArea(4096n);
  b.addParameter('VP_COUNT_PARAMETER', area, DEMO_PARAMETERS.vpCount);
  b.addParameter('MEMORY_MAP', area, DEMO_PARAMETERS.memoryMap);
  b.addParameterInsert(area, DEMO_LAYOUT.parameters);
  b.setNativeContext(context);
  return b.serialize();
}
