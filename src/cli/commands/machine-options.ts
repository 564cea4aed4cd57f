/** The machine options shared by `igvm load --dry-run` and `igvm run`: `-m SIZE` and `--smp N`. */
import { parseMemorySize } from '../../arch/x86/q35-layout.js';
import { usageError } from '../exit.js';

export interface MachineOptions {
  readonly memory: bigint;
  readonly vcpus: number;
}

export const DEFAULT_MEMORY = '256M';
export const MAX_VCPUS = 254;
const MIN_MEMORY = 2n * 1024n * 1024n;
const MAX_MEMORY = 1n << 46n;

export function parseMachineOptions(raw: { memory?: string; smp?: string }): MachineOptions {
  let memory: bigint;
  try {
    memory = parseMemorySize(raw.memory ?? DEFAULT_MEMORY);
  } catch (e) {
    throw usageError(`-m: ${(e as Error).message}`);
  }
  if (memory < MIN_MEMORY || memory > MAX_MEMORY || memory % 4096n !== 0n) {
    throw usageError(`-m ${raw.memory}: memory must be a multiple of 4 KiB between 2M and 64T`);
  }
  const smpText = raw.smp ?? '1';
  const vcpus = /^\d+$/.test(smpText) ? Number(smpText) : NaN;
  if (!Number.isInteger(vcpus) || vcpus < 1 || vcpus > MAX_VCPUS) {
    throw usageError(`--smp ${smpText}: the vCPU count must be a whole number from 1 to ${MAX_VCPUS}`);
  }
  return { memory, vcpus };
}
