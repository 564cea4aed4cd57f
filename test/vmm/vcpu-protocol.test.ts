// The shared control block between the main thread and a vCPU thread.
import { describe, expect, it } from 'vitest';
import { COMMAND_PARK, COMMAND_RUN, createControlBlock, parkRequested, setCommand } from '../../src/vmm/vcpu-protocol.js';

describe('control block', () => {
  it('carries the run/park command', () => {
    const c = createControlBlock();
    expect(parkRequested(c)).toBe(false);
    setCommand(c, COMMAND_PARK);
    expect(parkRequested(c)).toBe(true);
    setCommand(c, COMMAND_RUN);
    expect(parkRequested(c)).toBe(false);
  });
});
