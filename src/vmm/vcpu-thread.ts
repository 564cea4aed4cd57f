/**
 * Entry point of a vCPU worker thread (node:worker_threads). The main thread creates and
 * configures the vCPU; this thread runs it (vcpu-loop.ts) and handles its exits itself: a
 * Platform of its own over the devices' shared state (platform.ts), every access under the device
 * lock, console output into the shared OutputRing. It talks to the main thread only to say it is
 * ready, parked (with the outcome of a reset or stop, and its bus statistics) or failed. See
 * vm-runner.ts for the whole design.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { ExitDispatcher, SystemRequests, type ExitOutcome } from './exit-dispatch.js';
import type { VcpuExit } from './kvm/exits.js';
import { irqLine } from './kvm/irq-line.js';
import { blockKickSignal, consumeKick, currentThreadId } from './kvm/kick.js';
import { Vcpu } from './kvm/vcpu.js';
import { OutputRing } from './output-ring.js';
import { createPlatform } from './platform.js';
import { runUntilParked, type LoopChannel } from './vcpu-loop.js';
import { parkRequested, type BusStats, type FromVcpuThread, type ToVcpuThread, type VcpuThreadInit } from './vcpu-protocol.js';

function touchesDevices(exit: VcpuExit): boolean {
  return exit.kind === 'io-in' || exit.kind === 'io-out' || exit.kind === 'mmio-read' || exit.kind === 'mmio-write';
}

function main(port: NonNullable<typeof parentPort>, init: VcpuThreadInit): void {
  const post = (message: FromVcpuThread) => port.postMessage(message);
  const vcpu = Vcpu.borrow(init.fd, init.id, init.mmapSize);
  vcpu.setSignalMask(blockKickSignal(init.kickSignal));
  vcpu.runPage();

  const ring = new OutputRing(init.console);
  const requests = new SystemRequests();
  const platform = createPlatform(
    { requests, serialOut: (byte) => ring.put(byte), irqLine: (irq, level) => irqLine(init.vmFd, irq, level) },
    init.platform,
  );
  const dispatcher = new ExitDispatcher(platform.bus, requests);
  const stats = (): BusStats => ({ pio: platform.bus.stats, mmio: platform.bus.mmioStats });
  const parking = () => parkRequested(init.control);

  const channel: LoopChannel = {
    parkRequested: parking,
    consumeKick() {
      consumeKick(init.kickSignal);
      // The kick is seen: a run that goes on must not stop again at once.
      if (!parking()) vcpu.setImmediateExit(false);
    },
    handle(exit) {
      if (!touchesDevices(exit)) return dispatcher.dispatch(exit);
      let outcome: ExitOutcome;
      platform.lock.lock();
      try {
        outcome = dispatcher.dispatch(exit);
      } catch (e) {
        outcome = { kind: 'fault', reason: `internal error handling ${exit.kind}: ${e instanceof Error ? e.message : String(e)}` };
      } finally {
        platform.lock.unlock();
      }
      // A flooded console holds the guest here (not under the lock) until the main thread catches up.
      ring.waitForRoom(parking);
      return outcome;
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
      vcpu.setImmediateExit(false);
      const parked = runUntilParked(vcpu, channel);
      post(parked.cause === 'exit' ? { type: 'parked', outcome: parked.outcome, stats: stats() } : { type: 'parked', stats: stats() });
    } catch (e) {
      post({ type: 'failed', message: `vCPU ${init.id}: ${e instanceof Error ? e.message : String(e)}`, stats: stats() });
    }
  });
  post({ type: 'ready', tid: currentThreadId() });
}

if (parentPort) main(parentPort, workerData as VcpuThreadInit);
