/*
 * The demo guest that `npm start` boots. It is entered in 64-bit long mode straight from the IGVM
 * native VP context (no firmware), prints what it received, and exits through isa-debug-exit:
 * entry mode, RIP, control registers, EFER, descriptor tables, selectors, the memory-map parameter
 * as a table with the total RAM, and the vCPU count.
 *
 * Contract with the file (see src/build/boot-parameters.ts): %rsi = GPA of the memory-map page
 * (24-byte entries from offset 0); the VP count (u32) is at the start of the next page.
 */
	.code64
	.set PARAM_VP_COUNT, 0x1000
	.set PARAM_MEMORY_MAP, 0
	.set MSR_EFER, 0xc0000080

	.text
	.globl _start
_start:
	lea	here(%rip), %r12	/* RIP at entry, before anything else moves */
here:
	mov	%rsi, %r13		/* parameter area */
	mov	%cr0, %r14
	mov	%cr3, %r15
	mov	%cr4, %rbx
	mov	%rsp, %rbp

	lea	banner(%rip), %rdi
	call	puts

	/* entry mode: we run 64-bit code, so CS.L=1; show what the CPU reports */
	lea	s_mode(%rip), %rdi
	call	puts
	mov	$MSR_EFER, %ecx
	rdmsr
	shl	$32, %rdx
	or	%rax, %rdx
	mov	%rdx, saved_efer(%rip)
	bt	$10, %rdx		/* EFER.LMA */
	lea	s_long(%rip), %rdi
	jc	1f
	lea	s_unexpected(%rip), %rdi
1:	call	puts

	lea	s_rip(%rip), %rdi
	lea	-(here - _start)(%r12), %rax
	call	put_field_rax
	lea	s_rsp(%rip), %rdi
	mov	%rbp, %rax
	call	put_field_rax
	lea	s_cr0(%rip), %rdi
	mov	%r14, %rax
	call	put_field_rax
	lea	s_cr3(%rip), %rdi
	mov	%r15, %rax
	call	put_field_rax
	lea	s_cr4(%rip), %rdi
	mov	%rbx, %rax
	call	put_field_rax
	lea	s_efer(%rip), %rdi
	mov	saved_efer(%rip), %rax
	call	put_field_rax

	sgdt	gdtr(%rip)
	sidt	idtr(%rip)
	lea	s_gdtr(%rip), %rdi
	mov	gdtr+2(%rip), %rax
	call	put_field_rax
	lea	s_limit(%rip), %rdi
	movzwl	gdtr(%rip), %eax
	call	put_field_rax
	lea	s_idtr(%rip), %rdi
	mov	idtr+2(%rip), %rax
	call	put_field_rax
	lea	s_limit(%rip), %rdi
	movzwl	idtr(%rip), %eax
	call	put_field_rax

	lea	s_cs(%rip), %rdi
	mov	%cs, %eax
	call	put_field_rax
	lea	s_ds(%rip), %rdi
	mov	%ds, %eax
	call	put_field_rax
	lea	s_ss(%rip), %rdi
	mov	%ss, %eax
	call	put_field_rax
	lea	s_es(%rip), %rdi
	mov	%es, %eax
	call	put_field_rax
	lea	s_fs(%rip), %rdi
	mov	%fs, %eax
	call	put_field_rax
	lea	s_gs(%rip), %rdi
	mov	%gs, %eax
	call	put_field_rax

	/* memory map: entries until number_of_pages == 0 */
	lea	s_map(%rip), %rdi
	call	puts
	lea	PARAM_MEMORY_MAP(%r13), %r12
	xor	%r14d, %r14d		/* total RAM in pages */
2:	mov	8(%r12), %r15		/* number_of_pages */
	test	%r15, %r15
	jz	4f
	lea	s_indent(%rip), %rdi
	call	puts
	mov	(%r12), %rdi
	shl	$12, %rdi
	call	puthex
	mov	$'-', %edi
	call	putc
	mov	(%r12), %rdi
	add	%r15, %rdi
	shl	$12, %rdi
	dec	%rdi
	call	puthex
	movzwl	16(%r12), %eax
	lea	s_memory(%rip), %rdi
	test	%eax, %eax
	jnz	3f
	add	%r15, %r14
	call	puts
	jmp	5f
3:	lea	s_reserved(%rip), %rdi
	call	puts
5:	add	$24, %r12
	jmp	2b
4:	lea	s_total(%rip), %rdi
	call	puts
	mov	%r14, %rdi
	shr	$8, %rdi		/* pages -> MiB */
	call	putdec
	lea	s_mib(%rip), %rdi
	call	puts

	lea	s_vcpus(%rip), %rdi
	call	puts
	mov	PARAM_VP_COUNT(%r13), %edi
	call	putdec
	lea	s_bye(%rip), %rdi
	call	puts

	xor	%edi, %edi
	call	exit_guest

/* put_field_rax: write the label at %rdi, then %rax in hex and a newline. */
put_field_rax:
	push	%rax
	call	puts
	pop	%rdi
	call	puthex
	mov	$'\n', %edi
	jmp	putc

	.section .rodata
banner:		.asciz	"igvm-ts demo guest: entered straight from the IGVM native VP context\n"
s_mode:		.asciz	"  entry mode     "
s_long:		.asciz	"64-bit long mode (EFER.LMA=1, CS.L=1)\n"
s_unexpected:	.asciz	"unexpected: EFER.LMA is clear\n"
s_rip:		.asciz	"  RIP            "
s_rsp:		.asciz	"  RSP            "
s_cr0:		.asciz	"  CR0            "
s_cr3:		.asciz	"  CR3            "
s_cr4:		.asciz	"  CR4            "
s_efer:		.asciz	"  EFER           "
s_gdtr:		.asciz	"  GDTR base      "
s_idtr:		.asciz	"  IDTR base      "
s_limit:	.asciz	"       limit     "
s_cs:		.asciz	"  CS             "
s_ds:		.asciz	"  DS             "
s_ss:		.asciz	"  SS             "
s_es:		.asciz	"  ES             "
s_fs:		.asciz	"  FS             "
s_gs:		.asciz	"  GS             "
s_map:		.asciz	"  memory map (IGVM MEMORY_MAP parameter):\n"
s_indent:	.asciz	"    "
s_memory:	.asciz	"  MEMORY\n"
s_reserved:	.asciz	"  PLATFORM_RESERVED\n"
s_total:	.asciz	"  total RAM      "
s_mib:		.asciz	" MiB\n"
s_vcpus:	.asciz	"  vCPUs          "
s_bye:		.asciz	"\ndemo done: exiting through isa-debug-exit\n"

	.bss
	.balign	8
saved_efer:	.skip	8
gdtr:		.skip	10
idtr:		.skip	10
