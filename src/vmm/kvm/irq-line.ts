/** KVM_IRQ_LINE on a VM fd: a VM ioctl, safe from any thread (the UART raises COM1's line from the vCPU thread that wrote it). */
import { KVM_IRQ_LEVEL } from './abi.js';
import { ioctlStruct } from './ioctl.js';

export function irqLine(vmFd: number, irq: number, level: boolean): void {
  ioctlStruct(vmFd, 'KVM_IRQ_LINE', KVM_IRQ_LEVEL.encode({ irq, level: level ? 1 : 0 }));
}
