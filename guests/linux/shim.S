/*
 * Boot shim for `igvm build linux`: runs first, in 64-bit long mode, straight from the IGVM native
 * VP context, and hands over to a stock Linux kernel through the 64-bit boot protocol
 * (Documentation/arch/x86/boot.rst). It reads the parameters the IGVM loader filled at boot time
 * (%rsi = the memory-map page, entries from offset 0; the VP count starts the next page: see
 * src/build/boot-parameters.ts for why two areas), then
 *   - converts the IGVM memory map into boot_params.e820_table (the kernel's view of RAM: it comes
 *     from `igvm run -m`, not from the build),
 *   - writes an Intel MultiProcessor table (floating pointer at the end of base memory) describing
 *     one processor per vCPU, the ISA bus and the I/O APIC, so that `--smp N` brings up N CPUs,
 *   - jumps to the kernel's 64-bit entry with %rsi = boot_params.
 * Everything else (command line, initrd, the setup header) was put in boot_params at build time.
 * The builder fills the `config` block below.
 */
	.code64
	.set PARAM_VP_COUNT, 0x1000
	.set PARAM_MEMORY_MAP, 0
	.set MEMORY_MAP_ENTRY, 24
	.set BP_E820_ENTRIES, 0x1e8
	.set BP_E820_TABLE, 0x2d0
	.set E820_MAX, 128
	.set E820_ENTRY, 20
	.set E820_RAM, 1
	.set E820_RESERVED, 2
	.set E820_PMEM, 7
	.set IGVM_MEMORY, 0
	.set IGVM_PERSISTENT, 2
	.set LAPIC_BASE, 0xfee00000
	.set IOAPIC_BASE, 0xfec00000
	.set MP_CONFIG_HEADER, 44

	.text
	.globl _start
_start:
	jmp	main

	.balign	8
	.globl	config, config_boot_params, config_kernel_entry, config_mp_table
config:
config_boot_params:	.quad	0	/* GPA of boot_params (the zero page) */
config_kernel_entry:	.quad	0	/* the kernel's 64-bit entry point */
config_mp_table:	.quad	0	/* where the MP floating pointer goes (16-byte aligned, below 1 MiB) */

main:
	cld
	mov	%rsi, %r12			/* IGVM parameter pages */
	mov	config_boot_params(%rip), %r13

	/* e820 from the IGVM memory map; the map ends at an entry with no pages, or at 128 entries */
	lea	PARAM_MEMORY_MAP(%r12), %rsi
	lea	BP_E820_TABLE(%r13), %rdi
	xor	%ecx, %ecx
1:	cmp	$E820_MAX, %ecx
	jae	3f
	mov	8(%rsi), %rax			/* number_of_pages */
	test	%rax, %rax
	jz	3f
	mov	(%rsi), %rdx			/* starting_gpa_page_number */
	shl	$12, %rdx
	mov	%rdx, (%rdi)
	shl	$12, %rax
	mov	%rax, 8(%rdi)
	movzwl	16(%rsi), %eax
	mov	$E820_RAM, %edx
	cmp	$IGVM_MEMORY, %eax
	je	2f
	mov	$E820_PMEM, %edx
	cmp	$IGVM_PERSISTENT, %eax
	je	2f
	mov	$E820_RESERVED, %edx
2:	mov	%edx, 16(%rdi)
	add	$MEMORY_MAP_ENTRY, %rsi
	add	$E820_ENTRY, %rdi
	inc	%ecx
	jmp	1b
3:	mov	%cl, BP_E820_ENTRIES(%r13)

	mov	PARAM_VP_COUNT(%r12), %r14d	/* vCPUs */
	call	write_mp_table

	mov	%r13, %rsi
	xor	%eax, %eax
	xor	%ebx, %ebx
	xor	%ecx, %ecx
	xor	%edx, %edx
	xor	%edi, %edi
	xor	%ebp, %ebp
	mov	config_kernel_entry(%rip), %r8
	jmp	*%r8

/*
 * write_mp_table: MP floating pointer at config_mp_table, configuration table right after it,
 * for %r14d processors (APIC IDs 0..n-1), the ISA bus, the I/O APIC (ID n) and the ISA IRQs.
 */
write_mp_table:
	mov	config_mp_table(%rip), %rbx
	lea	16(%rbx), %r15			/* configuration table */
	lea	MP_CONFIG_HEADER(%r15), %rdi	/* entries */
	xor	%r9d, %r9d			/* entry count */

	xor	%ecx, %ecx			/* processor entries */
4:	cmp	%r14d, %ecx
	jae	5f
	xor	%al, %al			/* type 0: processor */
	stosb
	mov	%cl, %al			/* local APIC ID */
	stosb
	mov	$0x14, %al			/* local APIC version */
	stosb
	mov	$1, %al				/* enabled */
	test	%ecx, %ecx
	jnz	6f
	or	$2, %al				/* the boot processor */
6:	stosb
	mov	$0x600, %eax			/* CPU signature */
	stosl
	mov	$0x201, %eax			/* features: FPU, APIC */
	stosl
	xor	%eax, %eax
	stosl
	stosl
	inc	%r9d
	inc	%ecx
	jmp	4b

5:	movb	$1, (%rdi)			/* type 1: bus 0, ISA */
	movb	$0, 1(%rdi)
	movl	$0x20415349, 2(%rdi)		/* "ISA " */
	movw	$0x2020, 6(%rdi)		/* "  " */
	add	$8, %rdi
	inc	%r9d

	movb	$2, (%rdi)			/* type 2: I/O APIC */
	mov	%r14b, 1(%rdi)			/* its ID follows the local APIC IDs */
	movb	$0x11, 2(%rdi)			/* version */
	movb	$1, 3(%rdi)			/* enabled */
	movl	$IOAPIC_BASE, 4(%rdi)
	add	$8, %rdi
	inc	%r9d

	xor	%ecx, %ecx			/* ISA IRQs 0..15 (not 2, the cascade); IRQ 0 is wired to pin 2 */
7:	cmp	$2, %ecx
	je	8f
	movb	$3, (%rdi)			/* type 3: I/O interrupt */
	movb	$0, 1(%rdi)			/* INT */
	movw	$0, 2(%rdi)			/* bus polarity and trigger */
	movb	$0, 4(%rdi)			/* source bus */
	mov	%cl, 5(%rdi)			/* source IRQ */
	mov	%r14b, 6(%rdi)			/* destination I/O APIC */
	mov	%cl, %al
	test	%ecx, %ecx
	jnz	9f
	mov	$2, %al
9:	mov	%al, 7(%rdi)			/* destination pin */
	add	$8, %rdi
	inc	%r9d
8:	inc	%ecx
	cmp	$16, %ecx
	jb	7b

	movb	$4, (%rdi)			/* type 4: local interrupt: ExtINT on LINT0 */
	movb	$3, 1(%rdi)
	movw	$0, 2(%rdi)
	movb	$0, 4(%rdi)
	movb	$0, 5(%rdi)
	movb	$0xff, 6(%rdi)			/* every local APIC */
	movb	$0, 7(%rdi)
	movb	$4, 8(%rdi)			/* NMI on LINT1 */
	movb	$1, 9(%rdi)
	movw	$0, 10(%rdi)
	movb	$0, 12(%rdi)
	movb	$0, 13(%rdi)
	movb	$0xff, 14(%rdi)
	movb	$1, 15(%rdi)
	add	$16, %rdi
	add	$2, %r9d

	/* configuration table header */
	mov	%rdi, %rax
	sub	%r15, %rax			/* base table length */
	movl	$0x504d4350, (%r15)		/* "PCMP" */
	mov	%ax, 4(%r15)
	movb	$4, 6(%r15)			/* spec revision 1.4 */
	movb	$0, 7(%r15)			/* checksum, below */
	movabs	$0x202053544d564749, %rdx	/* OEM ID "IGVMTS  " (little-endian: first byte lowest) */
	mov	%rdx, 8(%r15)
	movabs	$0x2053542d4d564749, %rdx	/* product ID "IGVM-TS     " */
	mov	%rdx, 16(%r15)
	movl	$0x20202020, 24(%r15)
	movl	$0, 28(%r15)			/* OEM table pointer */
	movw	$0, 32(%r15)			/* OEM table size */
	mov	%r9w, 34(%r15)			/* entry count */
	movl	$LAPIC_BASE, 36(%r15)
	movw	$0, 40(%r15)			/* extended table length */
	movw	$0, 42(%r15)
	mov	%r15, %rsi
	movzwl	4(%r15), %ecx
	call	checksum
	mov	%al, 7(%r15)

	/* floating pointer structure */
	movl	$0x5f504d5f, (%rbx)		/* "_MP_" */
	mov	%r15d, 4(%rbx)			/* configuration table address */
	movb	$1, 8(%rbx)			/* length in 16-byte units */
	movb	$4, 9(%rbx)			/* spec revision 1.4 */
	movb	$0, 10(%rbx)
	movl	$0, 11(%rbx)			/* features: no default configuration */
	movb	$0, 15(%rbx)
	mov	%rbx, %rsi
	mov	$16, %ecx
	call	checksum
	mov	%al, 10(%rbx)
	ret

/* checksum: the byte that makes the %ecx bytes at %rsi sum to zero, in %al. */
checksum:
	xor	%edx, %edx
10:	add	(%rsi), %dl
	inc	%rsi
	dec	%ecx
	jnz	10b
	mov	%dl, %al
	neg	%al
	ret
