// The vCPU thread's run loop with scripted exits: kicks, exits handled in place, parking and I/O completion.
import { describe, expect, it } from 'vitest';
import type { ExitOutcome } from '../../src/vmm/exit-dispatch.js';
import type { VcpuExit } from '../../src/vmm/kvm/exits.js';
import { runUntilParked, type LoopChannel, type LoopVcpu } from '../../src/vmm/vcpu-loop.js';

const CONTINUE: ExitOutcome = { kind: 'continue' };
const STOP: ExitOutcome = { kind: 'stop', status: 1, reason: 'done' };

function script(exits: VcpuExit[], outcomes: (exit: VcpuExit) => ExitOutcome, parkAfter = Infinity) {
  const log: string[] = [];
  let runs = 0;
  const vcpu: LoopVcpu = {
    run() {
      const exit = exits[runs++];
      if (!exit) throw new Error('script ran out');
      log.push(`run:${exit.kind}`);
      return exit;
    },
    completePendingIo: () => log.push('complete'),
  };
  const channel: LoopChannel = {
    parkRequested: () => runs >= parkAfter,
    consumeKick: () => log.push('consume'),
    handle(exit) {
      log.push(`handle:${exit.kind}`);
      return outcomes(exit);
    },
  };
  return { vcpu, channel, log };
}

const ioOut = (): VcpuExit => ({ kind: 'io-out', port: 0x3f8, size: 1, count: 1, data: Uint8Array.of(0x41) });

describe('runUntilParked', () => {
  it('handles exits until told to park, then consumes any kick', () => {
    const s = script([ioOut(), ioOut(), { kind: 'interrupted', cause: 'EINTR' }], () => CONTINUE, 3);
    expect(runUntilParked(s.vcpu, s.channel)).toEqual({ cause: 'command' });
    expect(s.log).toEqual(['run:io-out', 'handle:io-out', 'run:io-out', 'handle:io-out', 'run:interrupted', 'consume', 'consume']);
  });

  it('completes the pending I/O before parking on an outcome for the main thread', () => {
    const s = script([ioOut()], () => STOP);
    expect(runUntilParked(s.vcpu, s.channel)).toEqual({ cause: 'exit', outcome: STOP });
    expect(s.log).toEqual(['run:io-out', 'handle:io-out', 'complete', 'consume']);
  });

  it('parks on a terminal exit without completing anything', () => {
    const reset: ExitOutcome = { kind: 'reset', cause: 'triple fault', diagnose: true };
    const s = script([{ kind: 'shutdown' }], () => reset);
    expect(runUntilParked(s.vcpu, s.channel)).toEqual({ cause: 'exit', outcome: reset });
    expect(s.log).toEqual(['run:shutdown', 'handle:shutdown', 'consume']);
  });

  it('never hands interruptions (EINTR, EAGAIN) to the exit handler', () => {
    const s = script([{ kind: 'interrupted', cause: 'EAGAIN' }, { kind: 'interrupted', cause: 'EINTR' }, { kind: 'hlt' }], () => STOP);
    runUntilParked(s.vcpu, s.channel);
    expect(s.log.filter((l) => l.startsWith('handle'))).toEqual(['handle:hlt']);
  });

  it('does not run at all when a park is already requested', () => {
    const s = script([], () => CONTINUE, 0);
    expect(runUntilParked(s.vcpu, s.channel)).toEqual({ cause: 'command' });
    expect(s.log).toEqual(['consume']);
  });
});
