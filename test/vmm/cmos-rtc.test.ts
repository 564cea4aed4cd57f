// The CMOS RTC as a guest sees it through ports 0x70/0x71.
import { describe, expect, it } from 'vitest';
import { CmosRtc } from '../../src/vmm/devices/cmos-rtc.js';

// Friday 2026-11-27 21:05:09 UTC
const HOST = Date.UTC(2026, 10, 27, 21, 5, 9, 250);

function rtcAt(ms: number) {
  let now = ms;
  const rtc = new CmosRtc(() => now);
  const read = (i: number) => {
    rtc.indexPort.write(0, 1, i);
    return rtc.dataPort.read(0, 1);
  };
  const write = (i: number, v: number) => {
    rtc.indexPort.write(0, 1, i);
    rtc.dataPort.write(0, 1, v);
  };
  return { rtc, read, write, advance: (d: number) => (now += d) };
}

const time = (read: (i: number) => number) => [0x32, 9, 8, 7, 6, 4, 2, 0].map(read);

describe('CMOS RTC', () => {
  it('reads the host UTC time in BCD, 24-hour, with the century at 0x32', () => {
    const { read } = rtcAt(HOST);
    expect(time(read)).toEqual([0x20, 0x26, 0x11, 0x27, 6, 0x21, 0x05, 0x09]);
    expect(read(0x0a)).toBe(0x26); // UIP clear, 32.768 kHz, 1024 Hz
    expect(read(0x0b)).toBe(0x02);
    expect(read(0x0d)).toBe(0x80); // valid RAM and time
    expect(read(0x0c)).toBe(0);
  });

  it('ignores the NMI mask bit in the index and follows the host clock', () => {
    const { read, advance } = rtcAt(HOST);
    expect(read(0x80)).toBe(0x09);
    advance(60_000);
    expect(read(0x82)).toBe(0x06);
  });

  it('switches to binary and 12-hour formats as register B says', () => {
    const { read, write } = rtcAt(HOST);
    write(0x0b, 0x04); // binary, 12-hour
    expect(read(4)).toBe(0x80 | 9); // 9 PM
    expect(read(9)).toBe(26);
    write(0x0b, 0x00); // BCD, 12-hour
    expect(read(4)).toBe(0x89);
  });

  it('keeps a time the guest sets, running on from there', () => {
    const { read, write, advance } = rtcAt(HOST);
    write(0x09, 0x99); // year 2099
    write(0x04, 0x01); // 01 h
    expect(time(read)).toEqual([0x20, 0x99, 0x11, 0x27, 6, 0x01, 0x05, 0x09]);
    advance(2000);
    expect(read(0)).toBe(0x11);
    write(0x0b, 0x06); // binary, 24-hour
    write(0x32, 19);
    expect(read(9)).toBe(99);
    expect(read(0x32)).toBe(19);
  });

  it('keeps CMOS RAM across a reset, which masks the interrupt enables', () => {
    const { rtc, read, write } = rtcAt(HOST);
    write(0x40, 0xab);
    write(0x0b, 0x72);
    write(0x0d, 0);
    write(0x0a, 0xa6);
    rtc.dataPort.reset?.();
    expect(read(0x40)).toBe(0xab);
    expect(read(0x0b)).toBe(0x02);
    expect(read(0x0d)).toBe(0x80);
    expect(read(0x0a)).toBe(0x26);
    expect(rtc.indexPort.read(0, 1)).toBe(0xff);
  });
});
