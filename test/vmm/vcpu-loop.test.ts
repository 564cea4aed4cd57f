// The vCPU thread's run loop with scripted exits: kicks, replies, parking and I/O completion.
import { describe, expect, it } from 'vitest';
import type { VcpuExit } from '../../src/vmm/kvm/exits.js';
import { runUntilParked, type LoopChannel, type LoopVcpu } from '../../src/vmm/vcpu-loop.js';
import type { ExitReply } from '../../src/vmm/vcpu-protocol.js';

function script(exits: VcpuExit[], replies: (exit: VcpuExit) => ExitReply, parkAfter = Infinity) {
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
    ask(exit) {
      log.push(`ask:${exit.kind}`);
      return replies(exit);
    },
  };
  return { vcpu, channel, log };
}

const ioIn = (): VcpuExit => ({ kind: 'io-in', port: 0x3fd, size: 1, count: 1, data: new Uint8Array(1) });
const ioOut = (): VcpuExit => ({ kind: 'io-out', port: 0x3f8, size: 1, count: 1, data: Uint8Array.of(0x41) });

describe('runUntilParked', () => {
  it('answers exits until told to park, then consumes any kick', () => {
    const s = script([ioOut(), ioOut(), { kind: 'interrupted', cause: 'EINTR' }], () => ({ park: false }), 3);
    expect(runUntilParked(s.vcpu, s.channel)).toBe('command');
    expect(s.log).toEqual(['run:io-out', 'ask:io-out', 'run:io-out', 'ask:io-out', 'run:interrupted', 'consume', 'consume']);
  });

  it('copies read data into the exit before re-entering', () => {
    const exit = ioIn();
    const s = script([exit], () => ({ park: false, data: Uint8Array.of(0x60) }), 1);
    runUntilParked(s.vcpu, s.channel);
    if (exit.kind !== 'io-in') throw new Error('unreachable');
    expect(exit.data[0]).toBe(0x60);
  });

  it('completes the pending I/O before parking on a park reply', () => {
    const s = script([ioOut()], () => ({ park: true }));
    expect(runUntilParked(s.vcpu, s.channel)).toBe('exit');
    expect(s.log).toEqual(['run:io-out', 'ask:io-out', 'complete', 'consume']);
  });

  it('parks on a terminal exit without completing anything', () => {
    const s = script([{ kind: 'shutdown' }], () => ({ park: true }));
    expect(runUntilParked(s.vcpu, s.channel)).toBe('exit');
    expect(s.log).toEqual(['run:shutdown', 'ask:shutdown', 'consume']);
  });

  it('never asks the main thread about interruptions (EINTR, EAGAIN)', () => {
    const s = script(
      [{ kind: 'interrupted', cause: 'EAGAIN' }, { kind: 'interrupted', cause: 'EINTR' }, { kind: 'hlt' }],
      () => ({ park: true }),
    );
    runUntilParked(s.vcpu, s.channel);
    expect(s.log.filter((l) => l.startsWith('ask'))).toEqual(['ask:hlt']);
  });

  it('does not run at all when a park is already requested', () => {
    const s = script([], () => ({ park: false }), 0);
    expect(runUntilParked(s.vcpu, s.channel)).toBe('command');
    expect(s.log).toEqual(['consume']);
  });
});
