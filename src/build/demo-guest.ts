/**
 * The demo IGVM file that `npm start` boots: guests/demo/demo.S entered in 64-bit long mode from its
 * native context, with the memory map and the VP count on two parameter pages (boot-parameters.ts).
 */
import { IgvmBuilder } from '../format/index.js';
import { addBootParameters, BOOT_PARAMETERS } from './boot-parameters.js';
import { LOADER_NAMES } from '../loader/index.js';
import { addLongModeEntry } from './long-mode.js';
import { checkBuiltFile } from './loader-check.js';
import { assembleGuest } from './toolchain.js';

export const DEMO_LAYOUT = {
  pageTables: 0x1000n,
  gdt: 0x7000n,
  /** The memory-map page, then the VP-count page. */
  parameters: 0xc000n,
  stack: 0x8_0000n,
  code: 0x10_0000n,
} as const;

/** Offsets from DEMO_LAYOUT.parameters, as guests/demo/demo.S reads them. */
export const DEMO_PARAMETERS = BOOT_PARAMETERS;

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
  addBootParameters(b, DEMO_LAYOUT.parameters);
  b.setNativeContext(context);
  return checkBuiltFile(b.serialize(), LOADER_NAMES, 'the demo file');
}
