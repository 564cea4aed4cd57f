/**
 * Entry point of a vCPU worker thread (node:worker_threads). It owns nothing but its kvm_run
 * mapping: the main thread creates and configures the vCPU, this thread only runs it
 * (vcpu-loop.ts) and parks on command. See vm-runner.ts for the whole design.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { blockKickSignal, consumeKick, currentThreadId } from './kvm/kick.js';
import { Vcpu } from './kvm/vcpu.js';
import { runUntilParked, type LoopChannel } from './vcpu-loop.js';
import {
  awaitReply,
  parkRequested,
  portableExit,
  replySeq,
  type FromVcpuThread,
  type ToVcpuThread,
  type VcpuThreadInit,
} from './vcpu-protocol.js';

function main(port: NonNullable<typeof parentPort>, init: VcpuThreadInit): void {
  const post = (message: FromVcpuThread) => port.postMessage(message);
  const vcpu = Vcpu.borrow(init.fd, init.id, init.mmapSize);
  vcpu.setSignalMask(blockKickSignal(init.kickSignal));
  vcpu.runPage();

  const channel: LoopChannel = {
    parkRequested: () => parkRequested(init.control),
    consumeKick: () => void consumeKick(init.kickSignal),
    ask(exit) {
      const seq = replySeq(init.control);
      post({ type: 'exit', exit: portableExit(exit) });
      return awaitReply(init.control, seq);
    },
  };

  port.on('message', (message: ToVcpuThread) => {
    if (message.type === 'close') {
      vcpu.close();
      post({ type: 'closed' });
      port.close();
      return;
    }
    try {
      post({ type: 'parked', cause: runUntilParked(vcpu, channel) });
    } catch (e) {
      post({ type: 'failed', message: `vCPU ${init.id}: ${e instanceof Error ? e.message : String(e)}` });
    }
  });
  post({ type: 'ready', tid: currentThreadId() });
}

if (parentPort) main(parentPort, workerData as VcpuThreadInit);
