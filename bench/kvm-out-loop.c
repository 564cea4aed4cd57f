/*
 * The peer of bench/exits.mjs: the smallest KVM program that runs the same guest loop, N `out`
 * instructions to an unclaimed port in 64-bit mode, handling each KVM_EXIT_IO in userspace and
 * doing nothing with it. Compiled with gcc at bench time. Prints the exits per second of the
 * KVM_RUN loop alone (set-up excluded).
 *
 *   kvm-out-loop N
 */
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define MEM (4u << 20)
#define CODE 0x100000u

static void die(const char *what) {
  perror(what);
  exit(2);
}

int main(int argc, char **argv) {
  uint32_t n = argc > 1 ? (uint32_t)strtoul(argv[1], 0, 0) : 1000000u;
  int kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
  if (kvm < 0) die("/dev/kvm");
  int vm = ioctl(kvm, KVM_CREATE_VM, 0);
  if (vm < 0) die("KVM_CREATE_VM");
  uint8_t *mem = mmap(0, MEM, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (mem == MAP_FAILED) die("mmap");
  struct kvm_userspace_memory_region region = { .slot = 0, .guest_phys_addr = 0, .memory_size = MEM, .userspace_addr = (uint64_t)mem };
  if (ioctl(vm, KVM_SET_USER_MEMORY_REGION, &region) < 0) die("KVM_SET_USER_MEMORY_REGION");

  /* Identity map of the first 1 GiB with 2 MiB pages: PML4 at 0x1000, PDPT at 0x2000, PD at 0x3000. */
  uint64_t *pml4 = (uint64_t *)(mem + 0x1000), *pdpt = (uint64_t *)(mem + 0x2000), *pd = (uint64_t *)(mem + 0x3000);
  pml4[0] = 0x2000 | 3;
  pdpt[0] = 0x3000 | 3;
  for (int i = 0; i < 512; i++) pd[i] = ((uint64_t)i << 21) | 0x83;
  /* mov ecx, n; mov dx, 0x80; 1: out dx, al; dec ecx; jnz 1b; hlt */
  uint8_t code[] = { 0xb9, n, n >> 8, n >> 16, n >> 24, 0x66, 0xba, 0x80, 0x00, 0xee, 0xff, 0xc9, 0x75, 0xfb, 0xf4 };
  memcpy(mem + CODE, code, sizeof code);

  int vcpu = ioctl(vm, KVM_CREATE_VCPU, 0);
  if (vcpu < 0) die("KVM_CREATE_VCPU");
  int size = ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
  struct kvm_run *run = mmap(0, size, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu, 0);
  if (run == MAP_FAILED) die("mmap kvm_run");

  struct kvm_sregs sregs;
  if (ioctl(vcpu, KVM_GET_SREGS, &sregs) < 0) die("KVM_GET_SREGS");
  struct kvm_segment cs = { .base = 0, .limit = 0xffffffff, .selector = 8, .type = 11, .present = 1, .s = 1, .l = 1, .g = 1 };
  struct kvm_segment ds = { .base = 0, .limit = 0xffffffff, .selector = 16, .type = 3, .present = 1, .s = 1, .db = 1, .g = 1 };
  sregs.cs = cs;
  sregs.ds = sregs.es = sregs.fs = sregs.gs = sregs.ss = ds;
  sregs.cr3 = 0x1000;
  sregs.cr4 = 0x20;                /* PAE */
  sregs.cr0 = 0x80000011;          /* PG, ET, PE */
  sregs.efer = 0x500;              /* LME, LMA */
  if (ioctl(vcpu, KVM_SET_SREGS, &sregs) < 0) die("KVM_SET_SREGS");
  struct kvm_regs regs = { .rip = CODE, .rflags = 2, .rsp = 0x80000 };
  if (ioctl(vcpu, KVM_SET_REGS, &regs) < 0) die("KVM_SET_REGS");

  struct timespec t0, t1;
  uint64_t exits = 0;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  for (;;) {
    if (ioctl(vcpu, KVM_RUN, 0) < 0) die("KVM_RUN");
    if (run->exit_reason == KVM_EXIT_IO) {
      exits++;
      continue;
    }
    if (run->exit_reason == KVM_EXIT_HLT) break;
    fprintf(stderr, "unexpected exit reason %u\n", run->exit_reason);
    return 1;
  }
  clock_gettime(CLOCK_MONOTONIC, &t1);
  double s = (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;
  printf("%llu exits in %.3f s: %.0f exits/s\n", (unsigned long long)exits, s, exits / s);
  return exits == n ? 0 : 1;
}
